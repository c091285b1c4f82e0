"""Funding by source per project, rules as data, reconciled with the stated sources."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gisplan._errors import InputError
from gisplan.funding import fund_items, funding_project, load_funding_rules

SOURCES = """remainder = "local"
[sources.central]
zh = "中央"
stated = "central_regional"
[sources.local]
zh = "地方"
stated = "local"
"""


def _rules(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "rules.toml"
    p.write_text(SOURCES + body, encoding="utf-8")
    return p


def test_split_above_100_percent_is_an_error_naming_the_key(tmp_path: Path) -> None:
    p = _rules(tmp_path, '[[rules]]\nitems = ["walls"]\nsplit = { central = 0.7, local = 0.5 }\n'
                         '[default]\nsplit = { local = 1.0 }\n')
    with pytest.raises(InputError) as e:
        load_funding_rules(p)
    assert e.value.column == "rules[0].split" and "above 100 %" in str(e.value)


def test_split_below_100_percent_goes_to_the_remainder(tmp_path: Path) -> None:
    p = _rules(tmp_path, '[[rules]]\nitems = ["walls"]\nsplit = { central = 0.6 }\n'
                         '[default]\nsplit = { local = 1.0 }\n')
    assert load_funding_rules(p).split("walls") == pytest.approx({"central": 0.6, "local": 0.4})


def test_unknown_item_in_a_rule_is_an_error(tmp_path: Path) -> None:
    p = _rules(tmp_path, '[[rules]]\nitems = ["wals"]\nsplit = { central = 1.0 }\n'
                         '[default]\nsplit = { local = 1.0 }\n')
    with pytest.raises(InputError, match="did you mean walls"):
        load_funding_rules(p)


def test_guyuan_mapping_building_works_central_social_capital_for_parking() -> None:
    r = load_funding_rules()
    assert max(r.split("roof"), key=r.split("roof").get) == "central_subsidy"
    assert r.split("parking") == {"social_capital": 1.0}
    assert r.split("gas").get("utility_companies", 0) > 0


def test_every_yuan_is_assigned_to_a_source() -> None:
    items = pd.DataFrame({"compound_id": ["A"] * 3, "item": ["walls", "gas", "kindergarten"],
                          "cost_yuan": [100.0, 200.0, 300.0]})
    assert fund_items(items, load_funding_rules())["amount_yuan"].sum() == pytest.approx(600.0)


def test_guyuan_reconciled_against_stated_sources_with_findings() -> None:
    res = funding_project("layers/guyuan_2022.gpkg")
    rec = res.reconciliation.set_index("stated_source")
    assert rec.loc["central_regional", "stated_wan_yuan"] == 9381.269
    assert rec.loc["local", "stated_wan_yuan"] == 8427.411
    assert res.projects["funding_total_wan_yuan"].sum() == pytest.approx(17808.68, abs=0.01)
    diff = rec.loc["central_regional", "planned_wan_yuan"] - 9381.269
    assert rec.loc["central_regional", "difference_wan_yuan"] == pytest.approx(diff, abs=1e-3)
    assert {f.value for f in res.report.by_code("funding_mismatch")} == {"central_regional",
                                                                         "local"}
    assert len(res.bundles) == 3
