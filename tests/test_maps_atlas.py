"""The "一张图" atlas (issue 13), used as a planner would: switch themes, filter and sort
the compound table, click a row, click the map, move the shared time slider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _map_fixtures import programme
from browser import PHONE, offline_browser

from gisplan import maps
from gisplan.maps import _style as maps_style

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with offline_browser() as context:
        yield context


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return maps.save_atlas(programme(), tmp_path_factory.mktemp("atlas") / "atlas.html")


def _open(browser: Any, path: Path, viewport: dict[str, int] | None = None) -> Any:
    page = browser.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    blocked: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.resolve().as_uri(), wait_until="load")
    _ready(page, "progress")
    page.problems = lambda: blocked + errors  # type: ignore[attr-defined]
    return page


def _ready(page: Any, kind: str) -> None:
    page.wait_for_function(
        "(k) => { const v = gisplanAtlas.views[k]; return v && v.ready; }", arg=kind,
        timeout=30_000)


def _frame_eval(page: Any, kind: str, js: str) -> Any:
    return page.evaluate(f"() => {{ const g = gisplanAtlas.views['{kind}'].frame"
                         f".contentWindow.gisplan; return ({js})(g); }}")


def _visible(page: Any, kind: str) -> dict[str, bool]:
    """Compound name -> drawn as kept (not dimmed) in view *kind*."""
    return _frame_eval(page, kind, """g => { const out = {};
        g.layers.compounds.layer.eachLayer(l => {
          out[l.feature.properties.name] = l.options.fillOpacity > 0.1; });
        return out; }""")


def test_atlas_has_the_four_themes_one_search_one_slider_and_a_table(browser, atlas):
    page = _open(browser, atlas)
    try:
        tabs = page.locator(".gp-tab")
        assert tabs.count() == 4
        assert page.locator(".gp-atlas-search").count() == 1
        assert page.locator(".gp-atlas-slider").count() == 1
        assert page.locator(".gp-atlas-table tbody tr").count() == 6
        for kind in ["gaps", "bundles", "utilities", "progress"]:
            page.locator(".gp-tab", has_text=maps_style._t(f"{kind}_title", "zh")).click()
            _ready(page, kind)
            assert page.locator("iframe.gp-view:visible").count() == 1
        assert page.problems() == []
        page.screenshot(path=str(_shot("atlas_desktop")))
    finally:
        page.close()


def test_filter_and_sort_the_table_and_the_map_follows(browser, atlas):
    page = _open(browser, atlas)
    try:
        page.fill(".gp-table-filter", "南城路")
        page.wait_for_timeout(200)
        rows = page.locator(".gp-atlas-table tbody tr")
        assert rows.count() == 3
        shown = _visible(page, "progress")
        assert shown["南城路一号院"] and shown["Riverside 河畔"]
        assert not shown["西关北街小区"] and not shown["文化巷小区"]
        page.locator(".gp-atlas-table th", has_text="户数").click()     # sort by households
        page.wait_for_timeout(100)
        first = page.locator(".gp-atlas-table tbody tr").first.locator("td").nth(1)
        assert first.text_content() == "无几何小区"                       # 40 households
        page.locator(".gp-atlas-table th", has_text="户数").click()     # descending
        assert page.locator(".gp-atlas-table tbody tr").first.locator(
            "td").nth(1).text_content() == "南城路一号院"               # 200 households
        # the other themes follow the same filter when opened
        page.locator(".gp-tab", has_text="设施").click()
        _ready(page, "gaps")
        assert not _visible(page, "gaps")["西关北街小区"]
        page.fill(".gp-table-filter", "")
        page.wait_for_timeout(100)
        assert all(_visible(page, "gaps").values())
        assert page.problems() == []
    finally:
        page.close()


def test_click_a_row_zooms_the_map_and_click_the_map_selects_the_row(browser, atlas):
    page = _open(browser, atlas)
    try:
        page.locator(".gp-atlas-table tbody tr", has_text="文化巷小区").click()
        page.wait_for_timeout(300)
        assert _frame_eval(page, "progress", "g => g.highlighted.name") == "文化巷小区"
        # now a click on another compound, in the map
        frame = page.frame_locator("iframe.gp-view >> nth=0")
        xy = _frame_eval(page, "progress", """g => {
            const hit = g.searchable.find(h => h.name === '南城路一号院');
            hit.layer._map.closePopup();
            const p = hit.map.latLngToContainerPoint(hit.layer.getBounds().getCenter());
            return [p.x, p.y]; }""")
        box = page.locator("iframe.gp-view").first.bounding_box()
        page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
        page.wait_for_timeout(300)
        selected = page.locator(".gp-atlas-table tr.gp-row-selected")
        assert selected.count() == 1
        assert "南城路一号院" in selected.text_content()
        assert frame.locator(".leaflet-popup .gp-popup h4").text_content() == "南城路一号院"
        assert page.problems() == []
        page.screenshot(path=str(_shot("atlas_selected")))
    finally:
        page.close()


def test_shared_slider_and_search_drive_the_map(browser, atlas):
    page = _open(browser, atlas)
    try:
        before = _frame_eval(page, "progress", "g => g.time.date")
        page.locator(".gp-atlas-slider").fill("0")
        page.wait_for_timeout(200)
        after = _frame_eval(page, "progress", "g => g.time.date")
        assert after < before
        assert page.locator(".gp-atlas-date").text_content() == after
        page.fill(".gp-atlas-search", "文化巷")
        page.press(".gp-atlas-search", "Enter")
        page.wait_for_timeout(300)
        assert "文化巷小区" in page.locator("tr.gp-row-selected").text_content()
        assert _frame_eval(page, "progress", "g => g.highlighted.name") == "文化巷小区"
        assert page.problems() == []
    finally:
        page.close()


def test_atlas_on_a_phone(browser, atlas):
    page = _open(browser, atlas, PHONE)
    try:
        maps_box = page.locator("#gp-atlas-maps").bounding_box()
        table_box = page.locator("#gp-atlas-table").bounding_box()
        assert maps_box["height"] > 250 and table_box["y"] >= maps_box["y"] + maps_box["height"] - 1
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(_shot("atlas_phone")))
    finally:
        page.close()


def _shot(name: str) -> Path:
    from browser import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_cli_writes_the_atlas(tmp_path):
    import shutil

    from click.testing import CliRunner

    from gisplan.cli import cli

    store = tmp_path / "guyuan.gpkg"
    shutil.copy("layers/guyuan_2022.gpkg", store)
    out = tmp_path / "atlas.html"
    res = CliRunner().invoke(cli, ["map", str(store), "--kind", "atlas", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "一张图" in res.output
    page = out.read_text(encoding="utf-8")
    assert page.count('"kind":') == 4 and "gp-atlas-config" in page
