"""Each county reports in its own layout; the plan's stated total next to what is counted.

Two county offices of Xuchang send weekly reports in different layouts, as offices do:
禹州市 a CSV with a title row and its own headers (改造小区, 目前进展, 报送时间, 群众同意比例)
and no 县区 column; 长葛市 an Excel sheet with a merged two-row header (项目/小区, 进展/
形象进度, 上报日期). The first week each is imported with ``--map`` and ``--save-mapping``;
the next week with ``--county`` alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from gisplan.progress import plan_scope, read_log
from gisplan.store import Project


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture
def xuchang(sample_copy) -> tuple[Path, dict[str, list[str]]]:
    path = sample_copy("xuchang")
    comp = Project.open(path).read("compounds")
    names = {c: comp.loc[comp["county"] == c, "name"].tolist()[:3] for c in ("禹州市", "长葛市")}
    return path, names


def _yuzhou(tmp_path: Path, names: list[str], day: str, stages: list[str]) -> Path:
    lines = ["禹州市老旧小区改造进度周报", "序号,改造小区,目前进展,报送时间,群众同意比例"]
    lines += [f"{i},{n},{s},{day},85%" for i, (n, s) in enumerate(zip(names, stages,
                                                                        strict=True), 1)]
    path = tmp_path / f"禹州{day}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _changge(tmp_path: Path, names: list[str], day: str, stages: list[str]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["长葛市城镇老旧小区改造工程进度表"])
    ws.append(["序号", "项目", "进展", "上报日期"])
    ws.append([None, "小区", "形象进度", None])
    ws.merge_cells("A2:A3")
    ws.merge_cells("D2:D3")
    for i, (n, s) in enumerate(zip(names, stages, strict=True), 1):
        ws.append([i, n, s, day])
    path = tmp_path / f"长葛{day}.xlsx"
    wb.save(path)
    return path


def test_each_county_layout_is_saved_and_next_week_imports_with_one_command(
        tmp_path: Path, xuchang, gisplan):
    store, names = xuchang
    before = len(read_log(store))
    yz1 = _yuzhou(tmp_path, names["禹州市"], "2023年12月29日", ["已开工", "设计公示", "完工"])
    cg1 = _changge(tmp_path, names["长葛市"], "2023-12-29", ["已开工", "招投标", "已开工"])
    # without a layout, 禹州's headers are not known
    code, out = gisplan("progress", "import", store, yz1, "--county", "禹州市")
    assert code == 2 and "进度阶段" in out
    code, out = gisplan("progress", "import", store, yz1, "--county", "禹州市",
                        "--map", "改造小区=小区名称", "--map", "目前进展=stage",
                        "--map", "报送时间=date", "--map", "群众同意比例=同意率",
                        "--save-mapping")
    assert code == 0, out
    assert "3 rows read = 3 appended" in out
    code, out = gisplan("progress", "import", store, cg1, "--county", "长葛市",
                        "--map", "项目/小区=compound_name", "--map", "上报日期=date",
                        "--save-mapping")
    assert code == 0, out
    layouts = Project.open(store).meta["report_mappings"]
    assert set(layouts) == {"禹州市", "长葛市"}
    assert layouts["禹州市"]["columns"]["目前进展"] == "stage"
    assert layouts["长葛市"]["columns"]["进展/形象进度"] == "stage"  # found automatically

    # next week: one command per county
    yz2 = _yuzhou(tmp_path, names["禹州市"], "2024年1月5日", ["完工", "已开工", "完工"])
    cg2 = _changge(tmp_path, names["长葛市"], "2024-01-05", ["完工", "已开工", "完工"])
    for county, path in (("禹州市", yz2), ("长葛市", cg2)):
        code, out = gisplan("progress", "import", store, path, "--county", county)
        assert code == 0, out
        assert "3 rows read = 3 appended" in out
        assert f"layout saved for {county}'s reports" in out
    log = read_log(store)
    assert len(log) == before + 12
    new = log.tail(12)
    assert new["compound_id"].notna().all()  # every row matched within its county
    assert set(new["county"]) == {"禹州市", "长葛市"}
    week2 = new[new["source_file"].isin([yz2.name, cg2.name])]
    assert week2["stage"].tolist() == ["completed", "started", "completed"] * 2


def test_save_mapping_needs_a_county_and_a_known_one(tmp_path: Path, xuchang, gisplan):
    store, names = xuchang
    path = _yuzhou(tmp_path, names["禹州市"], "2023-12-29", ["已开工"] * 3)
    code, out = gisplan("progress", "import", store, path, "--save-mapping")
    assert code == 2 and "--county" in out
    code, out = gisplan("progress", "import", store, path, "--county", "禹州县")
    assert code == 2 and "--county 禹州县" in out and "禹州市" in out


def test_status_shows_the_stated_total_and_the_excluded_with_reason(sample_copy, gisplan):
    path = sample_copy("xuchang")
    code, out = gisplan("progress", "status", path, "--by", "county")
    assert code == 0, out
    assert "计划 265 compounds stated in the plan" in out
    assert "262 counted below" in out
    assert "不计入 not counted, by the rule set national_2020" in out
    assert "3 × 拟拆除重建或征收，不得纳入改造计划 (demolition)" in out
    code, out = gisplan("progress", "status", path, "--json")
    plan = json.loads(out)["plan"]
    assert (plan["stated_compounds"], plan["listed"], plan["counted"]) == (265, 265, 262)
    assert plan["not_counted"] == [{"reason": "demolition",
                                    "reason_zh": "拟拆除重建或征收，不得纳入改造计划",
                                    "reason_en": plan["not_counted"][0]["reason_en"],
                                    "compounds": 3,
                                    "households": plan["not_counted"][0]["households"]}]


def test_plan_scope_uses_the_programmes_rule_set():
    import pandas as pd

    comp = pd.DataFrame({"compound_id": list("ABCD"), "built_year": [1990, 2003, 2010, 1980],
                         "households": [100, 50, 20, 10],
                         "status": ["planned", "planned", "planned", "不纳入"]})
    national = plan_scope(comp, {})
    guyuan = plan_scope(comp, {"rule_set": "guyuan_2022"})
    assert national.counted == guyuan.counted == 3
    assert national.not_counted["reason"].tolist() == ["excluded"]
    # the national baseline would not admit 2003 or 2010; Guyuan's only 2010
    assert national.not_admitted["compounds"].sum() == 2
    assert guyuan.not_admitted["reason"].tolist() == ["built_after_2005"]
    assert guyuan.rules.startswith("guyuan_2022")
