"""`gisplan demo`: the main job runs end to end on the samples and leaves maps and reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from gisplan._assets import external_resources
from gisplan.demo import SAMPLE_FILES, run_demo

LAYERS = Path(__file__).resolve().parents[1] / "layers"


@pytest.mark.slow
def test_demo_leaves_maps_and_reports_and_never_writes_the_samples(tmp_path: Path) -> None:
    before = {name: (LAYERS / name).read_bytes() for name in SAMPLE_FILES}
    layers = tmp_path / "layers"
    layers.mkdir()
    for name in SAMPLE_FILES:
        shutil.copyfile(LAYERS / name, layers / name)
    lines: list[str] = []
    result = run_demo(layers_dir=layers, work_dir=tmp_path / "work", maps_dir=tmp_path / "maps",
                      reports_dir=tmp_path / "reports", echo=lines.append)

    assert result.ok, "\n".join(lines)
    maps = sorted(p.name for p in (tmp_path / "maps").glob("*.html"))
    assert len(maps) == 15  # 3 programmes x progress, gaps, bundles, utilities, atlas
    for page in (tmp_path / "maps").glob("*.html"):
        assert external_resources(page.read_text(encoding="utf-8")) == [], page.name
    reports = sorted((tmp_path / "reports").glob("*.xlsx"))
    assert [p.name for p in reports] == sorted(f"{Path(n).stem}_report.xlsx" for n in SAMPLE_FILES)
    sheets = load_workbook(reports[0], read_only=True).sheetnames
    assert "进度汇总" in sheets and "资金来源" in sheets
    # the Guyuan check reports the buildings total that does not add up, and the two spellings
    check = next(s for s in result.steps if s.programme == "guyuan_2022" and s.step == "check")
    assert "stated totals not adding up 合计不符: 2" in check.summary
    assert "names spelled two ways 名称不一: 1" in check.summary
    assert all((LAYERS / name).read_bytes() == data for name, data in before.items())
    # the analysed stores open styled in QGIS, in the maps' colours
    from gisplan.store import Project

    styled = Project.open(tmp_path / "work" / "guyuan_2022.gpkg").read("layer_styles")
    assert {"compounds", "bundles"} <= set(styled["f_table_name"])
