"""Map building: self-contained pages, escaping, labels, geometry, figures (no browser)."""

from __future__ import annotations

import json
import re

import folium
import numpy as np
import pytest
import shapely
from _map_fixtures import XSS, programme
from click.testing import CliRunner

from gisplan import maps
from gisplan._assets import assert_self_contained, external_resources, leaflet_css
from gisplan._errors import GisplanError, InputError
from gisplan.chinacoords import wgs84_to_gcj02
from gisplan.maps import _page as maps_page
from gisplan.maps import progress as maps_progress
from gisplan.maps import render as maps_render


@pytest.fixture
def prog() -> dict[str, object]:
    return programme()


@pytest.mark.parametrize("kind", maps.KINDS)
def test_every_kind_is_self_contained(prog, kind):
    page = maps.render_html(maps.make_map(prog, kind))
    assert external_resources(page) == []
    assert "cdn." not in page and "jquery" not in page.lower()
    assert "L.control.layers" in page and "gisplan.legend" in page and "gisplan.search" in page


def test_plain_folium_map_is_refused_by_the_offline_guard(tmp_path):
    with pytest.raises(GisplanError, match="not self-contained"):
        maps.save_map(folium.Map(), tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_external_resources_lists_remote_scripts_and_styles():
    page = ('<script src="https://cdn.example/l.js"></script><link rel="stylesheet" '
            'href="//cdn.example/l.css"/><a href="https://leafletjs.com">Leaflet</a>'
            '<script src="local.js"></script>')
    assert external_resources(page) == ["https://cdn.example/l.js", "//cdn.example/l.css"]
    with pytest.raises(GisplanError):
        assert_self_contained(page)


def test_leaflet_css_images_are_inlined():
    css = leaflet_css()
    assert "url(images/" not in css
    assert "data:image/png;base64," in css


@pytest.mark.parametrize("kind", maps.KINDS)
def test_user_text_never_enters_the_page_as_html(prog, kind):
    page = maps.render_html(maps.make_map(prog, kind))
    assert XSS not in page
    assert "<img" not in page


def test_compound_name_with_markup_is_kept_as_data(prog):
    page = maps.render_html(maps.make_map(prog, "progress"))
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page


def test_labels_are_chinese_by_default(prog):
    m = maps.progress_map(prog)
    assert m.legend[0]["title"] == "进度阶段"
    # every stage met on a slider date is listed (the slider updates the counts)
    assert [i["label"] for i in m.legend[0]["items"]] == [
        "征求意见", "设计公示", "招标", "开工", "完工", "无进度记录"]
    assert [i["count"] for i in m.legend[0]["items"]] == [1, 0, 0, 2, 1, 2]


def test_english_labels_keep_the_chinese_term(prog):
    m = maps.progress_map(prog, lang="en")
    labels = [i["label"] for i in m.legend[0]["items"]]
    assert labels[:4] == ["Consulted 征求意见", "Designed 设计公示", "Tendered 招标",
                          "Started 开工"]
    page = maps.render_html(m)
    assert "<title>Yuanzhou 2023 · Renovation progress 改造进度</title>" in page


def test_rows_in_equal_rows_out_and_missing_geometry_is_not_drawn(prog):
    m = maps.progress_map(prog)
    assert m.row_counts["compounds"] == 6
    assert m.feature_counts["compounds"] == 5


def test_progress_legend_counts_stages_on_the_status_date(prog):
    early = maps.progress_map(prog, as_of="2023-03-31")
    counts = {i["label"]: i["count"] for i in early.legend[0]["items"]}
    # C1 consulted, C2 designed, C3 tendered, C4-C6 no report yet
    assert counts == {"征求意见": 1, "设计公示": 1, "招标": 1, "无进度记录": 3}


def test_progress_time_slider_has_month_ends_up_to_the_status_date(prog):
    page = maps.render_html(maps.progress_map(prog, as_of="2023-06-30"))
    call = re.search(r'gisplan.timeSlider\([^,]+, (\{.*?\})\);', page, re.S)
    assert call is not None
    dates = re.search(r'"dates": \[(.*?)\]', call.group(1)).group(1)
    assert dates.replace('"', "").split(", ") == [
        "2023-02-28", "2023-03-31", "2023-04-30", "2023-05-31", "2023-06-30"]


def test_stage_history_is_one_character_per_snapshot():
    hist = np.array([[-1, 1, 4], [0, 0, 0]], dtype=np.int8)
    assert maps_progress._encode_history(hist) == ["-14", "000"]


def _payloads(page: str) -> list[dict]:
    """The layers' data as the page holds it (inline JSON, or gzipped base64)."""
    import base64
    import gzip

    packed = re.search(r'gisplan.setPacked\("([A-Za-z0-9+/=]*)"\)', page)
    if packed:
        return json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    return json.loads(re.search(r"gisplan.setData\((\[.*?\])\);</script>", page, re.S).group(1))


def _coords(page: str) -> np.ndarray:
    """Every vertex drawn on the page, decoded as the page decodes it (lon, lat)."""
    geoms = [g for d in _payloads(page) for g in maps.decode_geometries(d["enc"], d["q"])
             if g is not None]
    return shapely.get_coordinates(np.array(geoms, dtype=object))


def test_coordinates_are_quantised_to_six_decimals(prog):
    compounds = prog["compounds"]
    compounds.geometry = compounds.geometry.translate(1.23456789e-9, 0)
    page = maps.render_html(maps.progress_map(prog))
    data = _payloads(page)
    assert all(d["q"][2] == 10 ** 6 for d in data)
    assert all(isinstance(v, int) for d in data for v in d["enc"]["xy"])
    xy = _coords(page)
    assert len(xy) and np.allclose(xy * 1e6, np.round(xy * 1e6), atol=1e-3)


def test_large_data_is_packed_and_decodes_to_the_same_outlines(prog, monkeypatch):
    small = maps.render_html(maps.progress_map(prog))
    monkeypatch.setattr(maps_render, "PACK_ABOVE", 10)
    packed = maps.render_html(maps.progress_map(prog))
    assert "gisplan.setPacked(" in packed and "gisplan.setPacked(" not in small
    assert np.array_equal(_coords(small), _coords(packed))
    outline = prog["compounds"].geometry.iloc[0]
    drawn = [g for d in _payloads(packed) for g in maps.decode_geometries(d["enc"], d["q"])]
    assert any(g is not None and g.hausdorff_distance(outline) < 2e-5 for g in drawn)


def test_outlines_are_simplified_in_metres(prog):
    compounds = prog["compounds"]
    round_one = shapely.Point(106.2705, 36.0105).buffer(0.0004, quad_segs=256)
    compounds.loc[0, "geometry"] = round_one
    fine = maps.progress_map(prog, tolerance_m=0)
    coarse = maps.progress_map(prog, tolerance_m=2.0)
    n_fine = len(_coords(maps.render_html(fine)))
    n_coarse = len(_coords(maps.render_html(coarse)))
    assert n_coarse < n_fine - 500


def test_amap_basemap_shifts_overlays_to_gcj02(prog):
    wgs = maps.progress_map(prog)
    gcj = maps.progress_map(prog, basemap="amap")
    (s0, w0), _ = _bounds(wgs)
    (s1, w1), _ = _bounds(gcj)
    lon, lat = wgs84_to_gcj02(np.array([w0]), np.array([s0]))
    assert w1 == pytest.approx(float(lon[0]), abs=1e-6)
    assert s1 == pytest.approx(float(lat[0]), abs=1e-6)
    assert abs(w1 - w0) > 1e-3  # hundreds of metres, not noise
    assert "autonavi.com" in maps.render_html(gcj)


def _bounds(m):
    page = maps.render_html(m)
    found = re.search(r"fitBounds\(\s*\[\[([\d.]+), ([\d.]+)\], \[([\d.]+), ([\d.]+)\]\]", page)
    assert found is not None
    a, b, c, d = map(float, found.groups())
    return (a, b), (c, d)


def test_tianditu_without_key_says_how_to_fix(prog, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(InputError, match="environment variable TIANDITU_KEY is not set"):
        maps.progress_map(prog, basemap="tianditu")


def test_tianditu_key_comes_from_the_environment(prog, monkeypatch):
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    page = maps.render_html(maps.utilities_map(prog, basemap="tianditu"))
    assert "tianditu.gov.cn/vec_w" in page and "tk=abc123" in page


def test_utilities_map_needs_a_utilities_layer(prog):
    del prog["utilities"]
    with pytest.raises(InputError, match="layer 'utilities'"):
        maps.utilities_map(prog)


def test_utilities_by_network_with_age(prog):
    m = maps.utilities_map(prog, as_of_year=2023)
    nets = {i["label"]: i["count"] for i in m.legend[1]["items"]}
    assert nets == {"供水": 1, "排水": 1, "供电": 1, "燃气": 1, "供热": 1, "通信": 1}
    # 1985, 1990 and 1998 are at least 20 years old in 2023
    assert {k for k in m.feature_counts if k.endswith("_old")} == {
        "utilities_water_supply_old", "utilities_drainage_old", "utilities_gas_old"}


def test_bundles_map_lists_members_and_standalone(prog):
    m = maps.bundles_map(prog)
    items = {i["label"]: i["count"] for i in m.legend[0]["items"]}
    assert items == {"2 个打包（相邻打包颜色不同）": 4, "未打包": 2}


def test_gaps_map_has_one_radio_layer_per_facility_type(prog):
    m = maps.gaps_map(prog, facility_types=["kindergarten", "market"])
    radio = [c.layer_name for c in m._children.values()
             if isinstance(c, maps_page._Layer) and not c.overlay]
    assert [re.sub(r" \(\d+\)$", "", n) for n in radio] == ["幼儿园", "菜市场"]


def test_gaps_map_rejects_an_unknown_facility_type(prog):
    with pytest.raises(InputError, match="no_such_type"):
        maps.gaps_map(prog, facility_types=["no_such_type"])


def test_large_maps_use_the_canvas_renderer(prog):
    assert '"preferCanvas": false' in maps.render_html(maps.progress_map(prog))
    page = maps.render_html(maps.progress_map(prog, renderer="canvas"))
    assert '"preferCanvas": true' in page


def test_city_of_5000_compounds_stays_under_5_mb(tmp_path):
    from gisplan.synth import synth_city

    city = synth_city(compounds=5000, seed=3)
    path = maps.save_map(maps.progress_map(city), tmp_path / "city.html")
    assert path.stat().st_size < 5_000_000


def test_cli_writes_the_map_and_reports_counts(prog, tmp_path):
    from gisplan.cli import cli
    from gisplan.store import Project

    layers = {k: v for k, v in prog.items() if k != "programme"}
    gpkg = tmp_path / "p.gpkg"
    Project.create(gpkg, meta=prog["programme"], layers=layers)
    out = tmp_path / "maps" / "p.html"
    result = CliRunner().invoke(cli, ["map", str(gpkg), "--kind", "utilities", "--out",
                                      str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert out.exists() and "features drawn" in result.output
    assert external_resources(out.read_text(encoding="utf-8")) == []


def test_map_options_are_one_frozen_keyword_only_object(prog):
    import dataclasses

    opts = maps.MapOptions(lang="en", tolerance_m=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.lang = "zh"  # type: ignore[misc]
    with pytest.raises(TypeError):
        maps.MapOptions("en")  # type: ignore[misc]
    with pytest.raises(ValueError, match="lang must be one of zh, en"):
        maps.MapOptions(lang="fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerance_m"):
        maps.MapOptions(tolerance_m=-1)
    # an options object and the same fields as keywords make the same page
    for kind in maps.KINDS:
        by_object = maps.make_map(prog, kind, options=opts)
        by_keywords = maps.make_map(programme(), kind, lang="en", tolerance_m=2.0)
        assert by_object.legend == by_keywords.legend
        assert by_object.feature_counts == by_keywords.feature_counts


def test_an_unknown_map_option_is_named(prog):
    with pytest.raises(TypeError, match=r"unknown map option.*colour"):
        maps.bundles_map(prog, colour="red")


def test_a_project_and_its_path_make_the_same_map(sample_copy):
    from gisplan.store import Project

    path = sample_copy("guyuan")
    by_path = maps.bundles_map(path)
    by_project = maps.bundles_map(Project.open(path))
    assert by_path.feature_counts == by_project.feature_counts


@pytest.mark.parametrize("key", ["...", "", "   ", "<your key>", "your_tianditu_key", "…"])
def test_a_placeholder_tianditu_key_is_refused(prog, monkeypatch, key):
    monkeypatch.setenv("TIANDITU_KEY", key)
    with pytest.raises(InputError, match="Tianditu"):
        maps.progress_map(prog, basemap="tianditu")


@pytest.mark.parametrize("key", ["...", "<your key>", ""])
def test_cli_refuses_a_placeholder_tianditu_key_in_cli_terms(prog, tmp_path, monkeypatch, key):
    from gisplan.cli import cli
    from gisplan.store import Project

    layers = {k: v for k, v in prog.items() if k != "programme"}
    gpkg = tmp_path / "p.gpkg"
    Project.create(gpkg, meta=prog["programme"], layers=layers)
    monkeypatch.setenv("TIANDITU_KEY", key)
    out = tmp_path / "m.html"
    result = CliRunner().invoke(cli, ["map", str(gpkg), "--basemap", "tianditu", "--out",
                                      str(out)])
    assert result.exit_code == 2
    assert "--basemap tianditu" in result.output and "TIANDITU_KEY" in result.output
    assert "--basemap none" in result.output
    assert "Traceback" not in result.output and not out.exists()


# ---------------------------------------------------------------- colour vision

#: Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
_MACHADO = {
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}


def _lab(hex_color: str, vision: str | None = None) -> np.ndarray:
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if vision:
        lin = np.clip(_MACHADO[vision] @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _delta_e(a: str, b: str, vision: str | None = None) -> float:
    return float(np.linalg.norm(_lab(a, vision) - _lab(b, vision)))


def test_colour_difference_simulation_sees_red_green_merge():
    # the check itself: the old gap colours were far apart for normal vision but close
    # under deuteranopia; the simulation must show that
    assert _delta_e("#1a9850", "#d73027") > 100
    assert _delta_e("#1a9850", "#d73027", "deuteranopia") < 30


@pytest.mark.parametrize("vision", [None, "deuteranopia", "protanopia"])
def test_gap_colours_stay_apart_for_colour_blind_viewers(vision):
    assert _delta_e(maps.COVERED, maps.UNCOVERED, vision) > 80
    for c in (maps.COVERED, maps.UNCOVERED):
        assert _delta_e(c, maps.NODATA, vision) > 25


@pytest.mark.parametrize("vision", [None, "deuteranopia"])
def test_planned_grey_and_no_record_are_clearly_different(vision):
    assert _delta_e(maps.STAGE_COLORS["planned"], maps.NO_RECORD, vision) > 30


@pytest.mark.parametrize("vision", [None, "deuteranopia", "protanopia"])
def test_bundle_palette_colours_are_distinguishable(vision):
    pal = maps.CATEGORICAL
    worst = min(_delta_e(a, b, vision) for i, a in enumerate(pal) for b in pal[i + 1:])
    assert worst > 15


def test_no_two_neighbouring_bundles_share_a_colour(sample_copy):
    from gisplan.store import Project

    p = Project.open(sample_copy("xuchang"))
    m = maps.bundles_map(p)
    colors = m.palette
    assert f'"colors": {{"{next(iter(colors))}": "{next(iter(colors.values()))}"' in (
        maps.render_html(m))  # the page draws these colours
    bundles = p.read("bundles") if "bundles" in p.layers() else None
    if bundles is None:
        from gisplan.bundle import bundle_compounds

        bundles = bundle_compounds(p.read("compounds"), districts=p.read("districts")).bundles
    metric = bundles.to_crs(bundles.estimate_utm_crs())
    left, right = metric.sindex.query(metric.geometry, predicate="dwithin", distance=60)
    pairs = [(a, b) for a, b in zip(left, right, strict=True) if a < b]
    assert len(pairs) > 10  # a real test: many neighbouring bundles
    ids = bundles["bundle_id"].astype(str).to_numpy()
    same = [(ids[a], ids[b]) for a, b in pairs if colors[ids[a]] == colors[ids[b]]]
    assert same == []
    assert set(colors.values()) <= set(maps.CATEGORICAL)


def test_adjacent_colors_on_a_grid_never_repeats_a_neighbour():
    grid = [shapely.box(i * 100, j * 100, i * 100 + 95, j * 100 + 95)
            for i in range(8) for j in range(8)]
    colors = maps.adjacent_colors(grid, within_m=10)  # rook and queen neighbours
    for a in range(64):
        for b in range(a + 1, 64):
            if shapely.distance(grid[a], grid[b]) < 10:
                assert colors[a] != colors[b]
    assert colors.max() < len(maps.CATEGORICAL)


# ---------------------------------------------------------------- orientation, credits


def test_credits_name_data_rules_and_generation_time(prog):
    import datetime as dt

    when = dt.datetime(2024, 5, 6, 7, 8)
    page = maps.render_html(maps.gaps_map(prog, generated_at=when))
    import json

    credits = json.loads(re.search(r'gisplan.credits\([^,]+, (".*?")\);', page).group(1))
    assert "原州区2023年老旧小区改造" in credits and "GB 50180-2018" in credits
    assert "2024-05-06 07:08" in credits
    osm = maps.render_html(maps.gaps_map(prog, basemap="osm"))
    assert "OpenStreetMap" in osm and "contributors" in osm


def test_place_labels_come_from_the_programme_layers(prog):
    page = maps.render_html(maps.progress_map(prog))
    call = re.search(r"gisplan.labels\([^,]+, (\[.*?\])\);", page, re.S)
    assert call is not None
    import json

    labels = {(x["t"], x["c"]) for x in json.loads(call.group(1))}
    assert labels == {("原州区", "county"), ("西关北街", "pianqu"), ("南城路", "pianqu"),
                      ("西关街", "road")}  # the local road 南城路 is not labelled


def test_user_text_in_labels_and_credits_is_escaped(prog):
    prog["districts"].loc[1, "name"] = XSS
    prog["programme"]["name"] = XSS
    page = maps.render_html(maps.progress_map(prog))
    assert XSS not in page and "<img" not in page


# ---------------------------------------------------------------- font


def test_page_embeds_a_cjk_font_subset_with_exactly_its_glyphs(prog):
    import base64
    import io

    from gisplan import _assets

    if _assets.find_cjk_font() is None:
        pytest.skip("no CJK font file here (apt-get install fonts-noto-cjk)")
    from fontTools.ttLib import TTFont

    m = maps.progress_map(prog)
    page = maps.render_html(m)
    assert m.font_embedded
    assert "SIL Open Font License" in page
    found = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page)
    assert found is not None
    font = TTFont(io.BytesIO(base64.b64decode(found.group(1))))
    cmap = font.getBestCmap()
    needed = {ch for ch in _assets.page_characters(page) if "\u4e00" <= ch <= "\u9fff"}
    assert {"改", "造", "进", "度", "西", "关"} <= needed
    assert all(ord(ch) in cmap for ch in needed)
    assert len(font.getGlyphOrder()) < len(_assets.page_characters(page)) + 20
    plain = maps.render_html(maps.progress_map(programme(), embed_font=False))
    assert "@font-face" not in plain


def test_credits_name_the_rule_set_and_the_osm_attribution(tmp_path):
    import shutil

    from gisplan.maps import progress_map, save_map
    from gisplan.store import Project

    store = tmp_path / "g.gpkg"
    shutil.copy("layers/guyuan_2022.gpkg", store)
    Project.open(store).set_meta(attribution="© OpenStreetMap contributors (ODbL)")
    page = save_map(progress_map(store, lang="en"), tmp_path / "m.html").read_text("utf-8")
    assert "rule set" in page and "guyuan_2022" in page
    assert "OpenStreetMap contributors (ODbL)" in page


def test_font_subset_draws_each_character_as_the_full_font_does() -> None:
    """The page's subset (HarfBuzz) keeps each character's outline and advance."""
    import base64
    import io
    import re

    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.ttLib import TTFont

    from gisplan import _assets

    found = _assets.find_cjk_font()
    if found is None:
        pytest.skip("no CJK font (Debian fonts-noto-cjk)")
    text = _assets.page_characters("固原市原州区南城路片区 设施缺项 ⤢ ▸ — · 𠀀")
    css = _assets._subset_css.__wrapped__(*found, text)
    data = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", css).group(1))
    subset = TTFont(io.BytesIO(data))
    full = TTFont(str(found[0]), fontNumber=found[1], lazy=True)

    def drawn(font: TTFont, ch: str) -> tuple[object, int]:
        name = font.getBestCmap()[ord(ch)]
        pen = DecomposingRecordingPen(font.getGlyphSet())
        font.getGlyphSet()[name].draw(pen)
        return pen.value, font["hmtx"][name][0]

    kept = set(map(chr, subset.getBestCmap()))
    assert set("固原市原州区南城路片区设施缺项—·AZ09") <= kept
    assert len(subset.getGlyphOrder()) < len(text) + 5  # only the page's glyphs
    for ch in "固原州区缺项—·A":
        assert drawn(subset, ch) == drawn(full, ch), ch
    names = {r.nameID for r in subset["name"].names}
    assert {1, 2, 13} <= names  # the family, and the licence travels with the font


def test_a_font_that_cannot_be_subset_leaves_the_page_to_the_system_fonts(
        tmp_path, monkeypatch) -> None:
    from gisplan import _assets

    bad = tmp_path / "broken.otf"
    bad.write_bytes(b"OTTO" + bytes(200))  # an OpenType header and nothing behind it
    monkeypatch.setenv(_assets.FONT_ENV, str(bad))
    assert _assets.cjk_font_css("改造进度") is None
    page, embedded = _assets.embed_cjk_font("<html><head></head><body>改造</body></html>")
    assert not embedded and "@font-face" not in page
