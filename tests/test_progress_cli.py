"""``gisplan progress status`` on a copy of a sample programme."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gisplan.cli import cli


def test_status_shows_guyuan_acceptance_milestone(sample_copy):
    path = sample_copy("guyuan")
    result = CliRunner().invoke(cli, ["progress", "status", str(path), "--as-of", "2022-10-31",
                                      "--by", "county"])
    assert result.exit_code == 0, result.output
    assert "11月底前竣工验收" in result.output
    assert "验收率（按小区）" in result.output


def test_status_json_measures_acceptance_and_huaian_basic_only_compounds(sample_copy):
    out = {}
    for name, day in (("guyuan", "2022-10-31"), ("huaian", "2023-07-31")):
        result = CliRunner().invoke(cli, ["progress", "status", str(sample_copy(name)),
                                          "--as-of", day, "--json"])
        assert result.exit_code == 0, result.output
        out[name] = {m["key"]: m for m in json.loads(result.output)["milestones"]
                     if m["unit"] == "合计"}
    accepted = out["guyuan"]["all_accepted"]
    assert (accepted["due"], accepted["measure"]) == ("2022-11-30", "accepted_compounds")
    assert accepted["n_compounds"] == 26
    # Huai'an: 112 planned compounds get basic works only (1 more is to be demolished);
    # 87 planned also get 完善类/提升类 works
    assert out["huaian"]["basic_completed"]["n_compounds"] == 112
    assert out["huaian"]["all_completed"]["n_compounds"] >= 112 + 87
