"""``gisplan progress status`` on a copy of a sample programme."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gisplan.cli import cli
from gisplan.store import Project


def test_status_shows_guyuan_acceptance_milestone(sample_copy):
    path = sample_copy("guyuan")
    result = CliRunner().invoke(cli, ["progress", "status", str(path), "--as-of", "2022-10-31",
                                      "--by", "county"])
    assert result.exit_code == 0, result.output
    assert "11月底前竣工验收" in result.output
    assert "验收率（按小区）" in result.output


def test_status_json_measures_acceptance_and_huaian_basic_only_compounds(sample_copy):
    out = {}
    paths = {name: sample_copy(name) for name in ("guyuan", "huaian")}
    for name, day in (("guyuan", "2022-10-31"), ("huaian", "2023-07-31")):
        result = CliRunner().invoke(cli, ["progress", "status", str(paths[name]),
                                          "--as-of", day, "--json"])
        assert result.exit_code == 0, result.output
        out[name] = {m["key"]: m for m in json.loads(result.output)["milestones"]
                     if m["unit"] == "合计"}
    accepted = out["guyuan"]["all_accepted"]
    assert (accepted["due"], accepted["measure"]) == ("2022-11-30", "accepted_compounds")
    assert accepted["n_compounds"] == 26
    # Huai'an's 基础类 milestone measures the planned compounds with basic works only
    comp = Project.open(paths["huaian"]).read("compounds")
    planned = comp["status"].eq("planned")
    basic_only = int((planned & comp["categories"].eq("basic")).sum())
    assert 0 < basic_only < planned.sum()
    assert out["huaian"]["basic_completed"]["n_compounds"] == basic_only
    assert out["huaian"]["all_completed"]["n_compounds"] >= planned.sum()  # + 经开区 rows
