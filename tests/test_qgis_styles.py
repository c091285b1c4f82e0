"""QGIS layer styles (issue 13): the store opens in QGIS in the maps' colours."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _map_fixtures import programme

from gisplan import maps
from gisplan.qgis_styles import COLUMNS, layer_styles, write_layer_styles
from gisplan.store import Project

SAMPLE = Path("layers/guyuan_2022.gpkg")


def _colours(qml_text: str) -> dict[str, str]:
    """Category value (or rule label) → fill/line colour ``r,g,b``, from the QML."""
    root = ET.fromstring(qml_text.split("\n", 1)[1])
    rend = root.find("renderer-v2")
    assert rend is not None
    symbols = {}
    for sym in rend.iter("symbol"):
        opts = {o.get("name"): o.get("value") for o in sym.iter("Option") if o.get("name")}
        rgba = opts.get("color") or opts.get("line_color")
        symbols[sym.get("name")] = ",".join(str(rgba).split(",")[:3])
    keys = [(c.get("value"), c.get("symbol")) for c in rend.iter("category")]
    keys += [(r.get("label"), r.get("symbol")) for r in rend.iter("rule")]
    return {str(k): symbols[s] for k, s in keys} or {"": symbols["0"]}


def _rgb(hex_color: str) -> str:
    h = hex_color.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4))


@pytest.fixture()
def store(tmp_path: Path) -> Project:
    path = tmp_path / "guyuan.gpkg"
    shutil.copy(SAMPLE, path)
    return Project.open(path)


def test_layer_styles_table_is_written_and_read_back_as_qgis_expects(store: Project):
    written = write_layer_styles(store)
    back = Project.open(store.path).read("layer_styles")
    assert set(COLUMNS) <= set(back.columns)
    assert sorted(back["f_table_name"]) == sorted(written["f_table_name"])
    assert {"compounds", "utilities", "facilities", "roads", "districts"} <= set(
        back["f_table_name"])
    assert back["useAsDefault"].astype(bool).all()
    assert (back["f_geometry_column"] == "geometry").all()
    # QGIS looks the table up by name with plain SQL
    with sqlite3.connect(store.path) as con:
        rows = con.execute("SELECT f_table_name, styleQML FROM layer_styles "
                           "WHERE useAsDefault").fetchall()
    assert len(rows) == len(back)
    for _name, text in rows:
        assert text.startswith("<!DOCTYPE qgis")
        ET.fromstring(text.split("\n", 1)[1])   # well-formed XML


def test_styles_use_the_maps_colours(store: Project):
    table = write_layer_styles(store).set_index("f_table_name")
    util = _colours(table.loc["utilities", "styleQML"])
    assert util == {k: _rgb(c) for k, c in maps.NETWORK_COLORS.items()}
    comp = _colours(table.loc["compounds", "styleQML"])
    assert comp["started"] == _rgb(maps.STAGE_COLORS["started"])
    assert comp["planned"] == _rgb(maps.STAGE_COLORS["planned"])
    assert _colours(table.loc["facilities", "styleQML"]) == {"": _rgb(maps.FACILITY)}


def test_coverage_and_bundle_styles_match_the_gaps_and_bundles_maps():
    prog = programme()
    gaps = prog["compounds"].assign(n_gaps=[0, 2, 0, 1, 0, None])  # type: ignore[union-attr]
    table = layer_styles({"coverage_gaps": gaps, "bundles": prog["bundles"]},  # type: ignore[dict-item]
                         now=dt.datetime(2024, 1, 1)).set_index("f_table_name")
    cov = _colours(table.loc["coverage_gaps", "styleQML"])
    assert list(cov.values())[:2] == [_rgb(maps.COVERED), _rgb(maps.UNCOVERED)]
    bundles = _colours(table.loc["bundles", "styleQML"])
    assert set(bundles) == {"B0001", "B0002"}
    assert set(bundles.values()) <= {_rgb(c) for c in maps.CATEGORICAL}
    assert len(set(bundles.values())) == 2       # the two bundles are neighbours
    assert table["update_time"].tolist() == ["2024-01-01T00:00:00Z"] * 2


def test_layers_gisplan_does_not_style_are_skipped():
    import pandas as pd

    assert layer_styles({"progress_log": pd.DataFrame({"a": [1]})}).empty
