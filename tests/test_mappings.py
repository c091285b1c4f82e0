"""``gisplan import --map / --save-mapping / --mapping / --vocab FILE.csv``.

Files are made the way an office makes them: its own headers (小区名, 户 数, X坐标),
its own words for facility types (社区诊所, 快递点), a title row, a GBK CSV.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import openpyxl
import pytest

from gisplan.mappings import SavedMapping, load_vocab_file, parse_map_options
from gisplan.store import Project


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")


def _week(tmp_path: Path, name: str, rows: list[tuple[str, int, str]]) -> Path:
    """A compound list as the office keeps it: a title, its own headers, WKT outlines."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["长葛市老旧小区改造台账"])
    ws.append(["序号", "小区名", "户 数", "建成时间", "街道办", "范围"])
    for i, (title, hh, street) in enumerate(rows, start=1):
        x = 113.77 + i * 0.001
        ws.append([i, title, f"{hh}户", "1996年", street,
                   f"POLYGON(({x} 34.21,{x + 0.0008} 34.21,{x + 0.0008} 34.2108,{x} 34.2108,"
                   f"{x} 34.21))"])
    path = tmp_path / name
    wb.save(path)
    return path


def test_map_save_and_reuse_for_next_weeks_file(tmp_path: Path, gisplan):
    store = tmp_path / "长葛.gpkg"
    week1 = _week(tmp_path, "第1周.xlsx", [("黄河苑", 120, "建设路街道"),
                                         ("铁路家属院", 80, "长兴路街道")])
    mapping = tmp_path / "长葛小区.toml"
    code, out = gisplan("import", store, week1, "--layer", "compounds",
                        "--map", "小区名=name", "--map", "户 数=户数", "--map", "街道办=street",
                        "--map", "范围=wkt", "--save-mapping", mapping)
    assert code == 0, out
    saved = tomllib.loads(mapping.read_text(encoding="utf-8"))
    # the given entries and the automatic one (建成时间 → built_year) are saved
    assert saved["columns"] == {"小区名": "name", "户 数": "households", "街道办": "street",
                                "范围": "wkt", "建成时间": "built_year"}
    week2 = _week(tmp_path, "第2周.xlsx", [("黄河苑", 121, "建设路街道"),
                                         ("铁路家属院", 80, "长兴路街道"),
                                         ("棉纺新村", 300, "建设路街道")])
    # without the mapping, the office's 范围 column is not known as the outlines
    code, out = gisplan("import", store, week2, "--layer", "compounds", "--dry-run")
    assert code == 2 and "no coordinates" in out
    code, out = gisplan("import", store, week2, "--layer", "compounds", "--mapping", mapping)
    assert code == 0, out
    comp = Project.open(store).read("compounds")
    assert comp["name"].tolist() == ["黄河苑", "铁路家属院", "棉纺新村"]
    assert comp["households"].tolist() == [121, 80, 300]
    assert comp["street"].tolist() == ["建设路街道", "长兴路街道", "建设路街道"]
    assert comp.geometry.notna().all()


def test_a_saved_column_absent_next_week_is_a_warning_not_an_error(tmp_path: Path, gisplan):
    mapping = SavedMapping("compounds", {"小区名": "name", "范围": "wkt", "联系人": "note"})
    # "note" is no column of compounds: a saved mapping is checked like --map
    path = mapping.save(tmp_path / "m.toml")
    week = _week(tmp_path, "w.xlsx", [("黄河苑", 120, "建设路街道")])
    code, out = gisplan("import", tmp_path / "s.gpkg", week, "--layer", "compounds",
                        "--mapping", path, "--dry-run")
    assert code == 2 and "'note' is not a column of compounds" in out
    ok = SavedMapping("compounds", {"小区名": "name", "范围": "wkt", "联系电话": "street"})
    code, out = gisplan("import", tmp_path / "s.gpkg", week, "--layer", "compounds",
                        "--mapping", ok.save(tmp_path / "ok.toml"), "--dry-run")
    assert code == 0, out
    assert "mapping_column_absent" in out and "联系电话" in out


def test_vocab_file_maps_the_offices_words(tmp_path: Path, gisplan):
    vocab = tmp_path / "设施类型对照.csv"
    vocab.write_bytes("原值,标准类型\n社区诊所,卫生服务站\n快递点,parcel_locker\n"
                      .encode("gbk"))  # saved from Excel on a Chinese Windows: GBK
    fac = tmp_path / "设施.csv"
    fac.write_text("设施名称,种类,经度,纬度\n东关诊所,社区诊所,113.77,34.21\n"
                   "菜鸟驿站,快递点,113.771,34.211\n东关幼儿园,幼儿园,113.772,34.212\n",
                   encoding="utf-8")
    store = tmp_path / "s.gpkg"
    code, out = gisplan("import", store, fac, "--layer", "facilities",
                        "--map", "种类=设施类型", "--vocab", f"facility_type={vocab}")
    assert code == 0, out
    types = Project.open(store).read("facilities")["facility_type"].tolist()
    assert types == ["health_station", "parcel_locker", "kindergarten"]
    # without the map, 社区诊所 is an unknown term (kept and flagged)
    code, out = gisplan("import", store, fac, "--layer", "facilities", "--map",
                        "种类=facility_type", "--dry-run")
    assert "'社区诊所' is not a known value" in out


@pytest.mark.parametrize(("args", "names"), [
    (["--map", "小区名"], ["--map '小区名'", "原列名=column"]),
    (["--map", "小区名=门牌号"], ["--map '小区名=门牌号'", "'门牌号' is not a column",
                                 "households"]),
    (["--map", "没有这列=name"], ["--map '没有这列=name'", "no column '没有这列'",
                                 "headers found: 序号, 小区名"]),
    (["--vocab", "street=x.csv"], ["--vocab street=x.csv", "takes no vocabulary"]),
    (["--vocab", "facility_type"], ["--vocab 'facility_type'", "column=FILE.csv"]),
    (["--mapping", "missing.toml"], ["--mapping missing.toml", "file not found"]),
])
def test_errors_name_the_option_the_value_and_the_fix(tmp_path: Path, gisplan, args, names,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    week = _week(tmp_path, "w.xlsx", [("黄河苑", 120, "建设路街道")])
    code, out = gisplan("import", "s.gpkg", week, "--layer", "compounds", *args)
    assert code == 2
    assert "Traceback" not in out
    for name in names:
        assert name in out, out
    assert "Fix:" in out


def test_vocab_file_errors_name_the_row(tmp_path: Path):
    bad = tmp_path / "v.csv"
    bad.write_text("原值,类型\n社区诊所,卫生服务站\n快递点,快递公司\n", encoding="utf-8")
    with pytest.raises(Exception, match="row 3: '快递公司' is not a facility_type term"):
        load_vocab_file("facility_type", bad, "facilities")
    bad.write_text("社区诊所\n", encoding="utf-8")
    with pytest.raises(Exception, match="row 1 has 1 filled cell"):
        load_vocab_file("facility_type", bad, "facilities")


def test_map_accepts_chinese_and_geometry_names():
    assert parse_map_options(["X=经度", "Y=lat", "名=小区名称"], "compounds") == {
        "X": "lon", "Y": "lat", "名": "name"}


def test_a_mapping_for_another_layer_is_refused(tmp_path: Path):
    path = SavedMapping("facilities", {"名称": "name"}).save(tmp_path / "f.toml")
    with pytest.raises(Exception, match="saved for layer 'facilities', not 'compounds'"):
        SavedMapping.load(path, layer="compounds")
    assert SavedMapping.load(path).columns == {"名称": "name"}
