"""联系点: counts per county, scoring explained, overrides."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from gisplan.cli import cli
from gisplan.contact_points import contact_points_project
from gisplan.store import Project

XUCHANG = {"禹州市": 3, "襄城县": 3, "长葛市": 5, "魏都区": 5, "建安区": 5}


def test_xuchang_counts_per_county() -> None:
    r = contact_points_project("layers/xuchang_2023.gpkg")
    assert r.counts == XUCHANG
    assert r.frame[r.frame["selected"]].groupby("county").size().to_dict() == XUCHANG
    assert len(r.frame) == 265  # every compound kept, scored


def test_each_candidate_has_an_explanation_of_every_criterion() -> None:
    r = contact_points_project("layers/xuchang_2023.gpkg").frame
    sel = r[r["selected"]]
    assert sel["explanation"].str.contains("规模适中").all()
    assert sel["explanation"].str.contains("同意率").all()


def test_meta_counts_win_over_the_data_file(sample_copy) -> None:  # type: ignore[no-untyped-def]
    p = Project.open(sample_copy("xuchang"))
    p.set_meta(contact_points={"禹州市": 1})
    r = contact_points_project(p)
    assert r.frame[r.frame["selected"]].groupby("county").size().to_dict() == {"禹州市": 1}


def test_override_include_exclude_and_unknown_id(tmp_path: Path) -> None:
    base = contact_points_project("layers/xuchang_2023.gpkg").frame
    yz = base[base["county"] == "禹州市"]
    top, last = yz[yz["selected"]]["compound_id"].iat[0], yz["compound_id"].iat[-1]
    f = tmp_path / "ov.csv"
    pd.DataFrame({"小区编号": [last, top, "NOPE"], "操作": ["纳入", "排除", "纳入"],
                  "理由": ["街道推荐", "", ""]}).to_csv(f, index=False)
    r = contact_points_project("layers/xuchang_2023.gpkg", override=f)
    sel = r.frame[r.frame["selected"] & (r.frame["county"] == "禹州市")]
    assert last in set(sel["compound_id"]) and top not in set(sel["compound_id"])
    assert len(sel) == 3
    assert [x.value for x in r.report.by_code("bad_override")] == ["NOPE"]


def test_cli_writes_contact_points(sample_copy) -> None:  # type: ignore[no-untyped-def]
    path = sample_copy("xuchang")
    out = CliRunner().invoke(cli, ["contact-points", str(path)])
    assert out.exit_code == 0, out.output
    assert int(Project.open(path).read("contact_points")["selected"].sum()) == 21
