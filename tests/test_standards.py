from __future__ import annotations

from pathlib import Path

import pytest

from gisplan._errors import SchemaError
from gisplan.schema import vocab
from gisplan.standards import COLUMNS, load_standard


def test_shipped_standard_covers_every_facility_type_of_the_schema() -> None:
    # the schema also records types the standard gives no walking distance for (药店
    # pharmacy, from OSM); coverage reports them as not assessed
    std = load_standard()
    assert set(std.types) <= set(vocab("facility_type"))
    assert set(vocab("facility_type")) - set(std.types) == {"pharmacy"}


def test_shipped_standard_has_the_commonly_cited_distances() -> None:
    std = load_standard()
    assert std.walk_m("kindergarten") == 300.0
    assert std.walk_m("primary_school") == 500.0
    assert std.walk_m("middle_school") == 1000.0
    assert std.walk_m("waste_collection") == 70.0


def test_every_shipped_value_names_its_source() -> None:
    table = load_standard().table
    assert list(table.columns) == list(COLUMNS)
    assert (table["source"].str.len() > 10).all()
    assert "local rules" in table.loc["waste_collection", "source"]
    assert "GB 50180-2018" in table.loc["kindergarten", "source"]


def test_chinese_names_and_aliases_resolve_to_keys() -> None:
    std = load_standard()
    assert std.resolve("幼儿园") == "kindergarten"
    assert std.resolve("快递柜") == "parcel_locker"
    assert std.resolve(" Kindergarten ") == "kindergarten"
    assert std.resolve("游泳馆") is None


def test_misspelt_type_gets_close_suggestions() -> None:
    std = load_standard()
    assert std.suggest("幼儿圆")[0] == "kindergarten"
    assert "elderly_daycare" in std.suggest("日间照料")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_city_file_replaces_the_shipped_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "facility_type,zh,aliases,circle,walk_m,source,note\n"
                            "kindergarten,幼儿园,幼儿所,5min,250,city rule 2024,\n"
                            "waste_collection,垃圾收集点,,compound,50,city rule 2024,\n")
    std = load_standard(path)
    assert std.types == ["kindergarten", "waste_collection"]
    assert std.walk_m("kindergarten") == 250.0
    assert std.resolve("幼儿所") == "kindergarten"


def test_a_city_file_with_only_the_required_columns_loads(tmp_path: Path) -> None:
    std = load_standard(_write(tmp_path, "facility_type,walk_m\nbus_stop,500\n"))
    assert std.walk_m("bus_stop") == 500.0
    assert std.zh("bus_stop") == "公交站"


def test_a_bad_distance_names_file_row_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "facility_type,walk_m\nkindergarten,300\nmarket,五百米\n")
    with pytest.raises(SchemaError) as exc:
        load_standard(path)
    assert exc.value.row == 2
    assert exc.value.column == "walk_m"
    assert exc.value.value == "五百米"
    assert str(path) in str(exc.value)


def test_a_missing_required_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="walk_m"):
        load_standard(_write(tmp_path, "facility_type,distance\nmarket,500\n"))


def test_a_repeated_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="twice"):
        load_standard(_write(tmp_path, "facility_type,walk_m\nmarket,500\nmarket,300\n"))
