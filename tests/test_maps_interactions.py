"""What a planner does with a map, in headless chromium with the network cut (issue 13).

Each test clicks, types, toggles and resizes the way a user would and checks what the
page then shows: popups, draw order, the time slider's reach, the phone layout,
printing, labels and the opening view. Screenshots go to tests/artifacts/run/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _map_fixtures import programme
from browser import PHONE, OfflinePage, offline_browser, open_offline

from gisplan import maps
from gisplan.maps import _page as maps_page
from gisplan.schema import stage_order

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with offline_browser() as context:
        yield context


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("maps")
    return {kind: maps.save_map(maps.make_map(programme(), kind), out / f"{kind}.html")
            for kind in maps.KINDS}


def _centre_of(page: OfflinePage, name: str) -> tuple[float, float]:
    """Screen point at the middle of the compound called *name* (page coordinates)."""
    return tuple(page.page.evaluate(
        """(name) => {
            const hit = gisplan.searchable.find(h => h.name === name);
            const map = hit.map, c = hit.layer.getBounds().getCenter();
            const p = map.latLngToContainerPoint(c);
            const r = map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""", name))


def _toggle(page: OfflinePage, label: str) -> None:
    page.page.locator(".leaflet-control-layers label", has_text=label).first.click()
    page.page.wait_for_timeout(100)


def test_clicking_a_search_result_keeps_its_popup_and_highlights_it(browser, built):
    page = open_offline(browser, built["progress"])
    try:
        page.page.fill(".gp-search-input", "文化巷")
        page.page.locator(".gp-search-hit").first.click()
        page.page.wait_for_timeout(800)  # the popup used to close again at once
        assert page.page.locator(".leaflet-popup .gp-popup h4").text_content() == "文化巷小区"
        assert page.page.evaluate("() => gisplan.highlighted.name") == "文化巷小区"
        assert page.count("path.gp-highlight") == 1
        assert page.problems() == []
        page.screenshot("interaction_search_click")
    finally:
        page.page.close()


def test_compounds_stay_on_top_and_clickable_through_any_toggling(browser, built):
    page = open_offline(browser, built["progress"])
    try:
        _toggle(page, "片区进度汇总")   # off
        _toggle(page, "片区进度汇总")   # on again
        _toggle(page, "县区进度汇总")   # on
        page.page.wait_for_timeout(200)
        x, y = _centre_of(page, "南城路一号院")
        top = page.page.evaluate("([x, y]) => document.elementFromPoint(x, y)"
                                 ".getAttribute('class')", [x, y])
        assert "gp-compounds" in top
        page.page.mouse.click(x, y)
        page.page.wait_for_selector(".leaflet-popup .gp-popup h4")
        assert page.page.locator(".leaflet-popup .gp-popup h4").text_content() == "南城路一号院"
        assert page.problems() == []
        page.screenshot("interaction_rollups_toggled")
    finally:
        page.page.close()


@pytest.mark.parametrize("lazy", [False, True])
def test_title_legend_counts_and_rollups_follow_the_slider(browser, built, lazy, tmp_path,
                                                           monkeypatch):
    path = built["progress"]
    if lazy:   # every layer drawn lazily from its packed arrays, as in a big city
        monkeypatch.setattr(maps_page, "LAZY_ABOVE", 0)
        monkeypatch.setattr(maps_page, "LAZY_CONTEXT_ABOVE", 0)
        path = maps.save_map(maps.progress_map(programme()), tmp_path / "lazy.html")
        assert '"lazy": true' in path.read_text(encoding="utf-8")
    page = open_offline(browser, path)
    try:
        def state() -> dict[str, Any]:
            return page.page.evaluate("""() => ({
                sub: document.querySelector('.gp-title-sub').textContent,
                legend: Object.fromEntries(Object.entries(gisplan.legendRows)
                                           .map(([k, e]) => [k, e.textContent])),
                table: document.querySelector('.gp-slider-counts').textContent,
                roll: (() => { const out = {};
                    gisplan.layers.rollup_pianqu.layer.eachLayer(l => {
                        const p = l.feature.properties;
                        out[p.name] = [p.compounds_started, l.options.fillColor]; });
                    return out; })(),
            })""")

        last = state()
        assert "2023-08-20" in last["sub"]  # the latest report
        assert last["legend"]["started"] == "2" and last["legend"][""] == "2"
        page.page.evaluate("() => gisplan.setTime(0)")
        first = state()
        assert "2023-02-28" in first["sub"] and first["sub"] != last["sub"]
        # 2023-02-28: C1 consulted, the other five without a report
        assert first["legend"]["consulted"] == "1" and first["legend"]["started"] == "0"
        assert first["legend"][""] == "5"
        assert first["roll"]["西关北街"][0] == 0 and last["roll"]["西关北街"][0] == 2
        assert first["roll"]["西关北街"][1] != last["roll"]["西关北街"][1]
        # the roll-up popup shows the figures of the slider's date
        page.page.evaluate("() => gisplan.setTime(3)")
        assert state()["roll"]["西关北街"][0] == 2  # C1 and C2 started by 2023-05-31
        assert page.problems() == []
    finally:
        page.page.close()


def test_popup_shows_stage_dates_up_to_the_slider_date(browser, built):
    page = open_offline(browser, built["progress"])
    try:
        x, y = _centre_of(page, "西关北街小区")
        page.page.mouse.click(x, y)
        page.page.wait_for_selector(".leaflet-popup .gp-popup")
        text = page.page.locator(".leaflet-popup .gp-popup").text_content()
        assert "开工日期2023-04-15" in text and "完工日期2023-08-20" in text
        page.page.evaluate("() => gisplan.setTime(4)")  # 2023-06-30: started, not done
        text = page.page.locator(".leaflet-popup .gp-popup").text_content()
        assert "开工日期2023-04-15" in text and "完工日期—" in text
        assert page.problems() == []
    finally:
        page.page.close()


def test_gaps_popup_lists_every_type_with_walk_against_standard(browser, built):
    page = open_offline(browser, built["gaps"])
    try:
        x, y = _centre_of(page, "南城路一号院")
        page.page.mouse.click(x, y)
        page.page.wait_for_selector(".leaflet-popup .gp-gaps")
        rows = page.page.locator(".leaflet-popup .gp-gaps tr").all_text_contents()
        n_types = page.page.evaluate("() => gisplan.layers.compounds.opts.gaps.types.length")
        assert len(rows) == n_types >= 2
        assert all(" m" in r and "/" in r for r in rows)
        assert any("幼儿园" in r for r in rows)
        page.screenshot("interaction_gaps_popup")
        assert page.problems() == []
    finally:
        page.page.close()


@pytest.mark.parametrize("kind", maps.KINDS)
def test_on_a_phone_controls_fold_and_zoom_and_search_are_free(browser, built, kind):
    page = open_offline(browser, built[kind], viewport=PHONE)
    try:
        assert page.count(".leaflet-control-layers-expanded") == 0
        assert page.count(".gp-legend.gp-collapsed") == 1
        for sel in (".leaflet-control-zoom-in", ".gp-search-input"):
            free = page.page.evaluate("""(sel) => {
                const e = document.querySelector(sel), r = e.getBoundingClientRect();
                const top = document.elementFromPoint(r.left + r.width / 2,
                                                      r.top + r.height / 2);
                return r.right <= window.innerWidth && (top === e || e.contains(top));
            }""", sel)
            assert free, f"{sel} is covered or off screen on a phone"
        # the layer control opens when the finger (or mouse) reaches it
        box = page.page.locator(".leaflet-control-layers-toggle").bounding_box()
        page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.count(".leaflet-control-layers-expanded") == 1
        page.page.mouse.click(30, 450)
        assert page.count(".leaflet-control-layers-expanded") == 0
        assert page.problems() == []
        page.screenshot(f"phone_{kind}")
    finally:
        page.page.close()


def test_print_shows_map_legend_and_credits_without_buttons(browser, built):
    page = open_offline(browser, built["gaps"])
    try:
        credits = page.page.locator(".gp-credits").text_content()
        assert "原州区2023年老旧小区改造" in credits and "GB 50180-2018" in credits
        assert "生成" in credits
        page.page.evaluate("() => { window.__printed = 0; "
                           "window.print = () => window.__printed++; }")
        page.page.locator(".gp-print a").click()
        assert page.page.evaluate("() => window.__printed") == 1
        page.page.emulate_media(media="print")
        shown = page.page.evaluate("""() => Object.fromEntries(
            ['.gp-search', '.leaflet-control-zoom', '.gp-print', '.gp-legend',
             '.gp-title', '.gp-credits'].map(s => [s,
                getComputedStyle(document.querySelector(s)).display !== 'none']))""")
        assert shown == {".gp-search": False, ".leaflet-control-zoom": False,
                         ".gp-print": False, ".gp-legend": True, ".gp-title": True,
                         ".gp-credits": True}
        page.screenshot("print_gaps")
        assert page.problems() == []
    finally:
        page.page.close()


@pytest.mark.parametrize("name", ["xuchang", "huaian"])
def test_a_city_opens_where_compounds_are_visible_with_place_names(browser, sample_copy,
                                                                   tmp_path, name):
    m = maps.progress_map(sample_copy(name))
    page = open_offline(browser, maps.save_map(m, tmp_path / f"{name}.html"))
    try:
        px = page.page.evaluate("""() => {
            const e = gisplan.layers.compounds, map = e.map, b = map.getBounds();
            const w = [];
            e.layer.eachLayer(l => { const lb = l.getBounds();
                if (!b.intersects(lb)) return;
                const a = map.latLngToContainerPoint(lb.getSouthWest());
                const c = map.latLngToContainerPoint(lb.getNorthEast());
                w.push(Math.abs(c.x - a.x)); });
            w.sort((a, b) => a - b);
            return {n: w.length, median: w[Math.floor(w.length / 2)], zoom: map.getZoom()};
        }""")
        assert px["n"] >= 10, px  # the view is on compounds, not on empty county land
        assert px["median"] >= 8, px  # a typical compound is big enough to see and tap
        assert page.count(".gp-label") >= 3
        page.page.wait_for_timeout(200)
        page.screenshot(f"open_{name}_progress")
        assert page.problems() == []
    finally:
        page.page.close()


def test_labels_change_with_zoom(browser, built):
    page = open_offline(browser, built["progress"])
    try:
        def labels() -> list[str]:
            return page.page.locator(".gp-label").all_text_contents()

        near = labels()
        assert "西关北街" in near and "西关街" in near  # 片区 and road names up close
        page.page.evaluate("() => gisplan.layers.compounds.map.setZoom(12, {animate: false})")
        page.page.wait_for_timeout(100)
        far = labels()
        assert "原州区" in far and "西关街" not in far
        assert page.problems() == []
    finally:
        page.page.close()


def test_chinese_is_drawn_with_the_embedded_font(browser, built):
    from gisplan import _assets

    if _assets.find_cjk_font() is None:
        pytest.skip("no CJK font file here (apt-get install fonts-noto-cjk)")
    page = open_offline(browser, built["progress"])
    try:
        page.page.evaluate("() => document.fonts.ready")
        used = page.page.evaluate("""async () => {
            await document.fonts.load('14px "gisplan CJK"', '改造进度');
            const faces = [...document.fonts].filter(f => f.family.includes('gisplan CJK'));
            return {loaded: faces.map(f => f.status),
                    check: document.fonts.check('14px "gisplan CJK"', '改造进度'),
                    family: getComputedStyle(document.querySelector('.gp-title'))
                              .fontFamily};
        }""")
        assert used["loaded"] == ["loaded"] and used["check"]
        assert used["family"].startswith('"gisplan CJK"')
        assert page.problems() == []
    finally:
        page.page.close()


def test_progress_charts_are_inline_svg_and_follow_the_time_slider(browser, built):
    page = open_offline(browser, built["progress"])
    try:
        charts = page.page.locator(".gp-charts")
        assert charts.count() == 1
        svgs = charts.locator("svg.gp-chart-svg")
        assert svgs.count() == 1                      # one county in the fixture
        assert charts.locator("polyline.gp-chart-s0").count() == 1
        assert charts.locator("polyline.gp-chart-s3").count() == 1
        marker = charts.locator("line.gp-chart-now").first
        fig = charts.locator(".gp-chart-fig").first
        x_last, fig_last = marker.get_attribute("x1"), fig.text_content()
        slider = page.page.locator(".gp-slider-input")
        slider.fill("0")                              # the user drags to the first date
        page.page.wait_for_timeout(100)
        assert float(marker.get_attribute("x1")) < float(x_last)
        assert fig.text_content() != fig_last
        slider.fill(slider.get_attribute("max"))
        assert marker.get_attribute("x1") == x_last
        assert page.problems() == []
        page.screenshot("progress_charts")
    finally:
        page.page.close()


def test_progress_charts_show_milestone_targets(browser, tmp_path):
    prog = programme()
    prog["programme"] = dict(prog["programme"], milestones=[  # type: ignore[arg-type]
        {"key": "all_started", "zh": "全部开工", "date": "2023-06-30",
         "measure": "started_compounds", "target": 1.0},
        {"key": "half_done", "zh": "过半完工", "date": "2023-09-30",
         "measure": "completed_households", "target": 0.5}])
    path = maps.save_map(maps.progress_map(prog), tmp_path / "p.html")
    page = open_offline(browser, path)
    try:
        targets = page.page.locator(".gp-charts path.gp-chart-target")
        assert targets.count() == 2
        titles = page.page.evaluate(
            "() => [...document.querySelectorAll('.gp-chart-target title')]"
            ".map(t => t.textContent)")
        assert any("全部开工" in t and "100%" in t for t in titles)
        assert any("过半完工" in t and "50%" in t for t in titles)
    finally:
        page.page.close()


def test_pipes_sharing_a_street_are_drawn_side_by_side_and_the_old_swatch_matches(
        browser, tmp_path):
    import shapely

    prog = programme()
    util = prog["utilities"].copy()  # type: ignore[union-attr]
    street = util.geometry.iloc[0]
    util.loc[util.index[3], "geometry"] = street      # gas laid in the water main's street
    prog["utilities"] = util
    path = maps.save_map(maps.utilities_map(prog), tmp_path / "u.html")
    page = open_offline(browser, path)
    try:
        page.page.evaluate("() => { const e = gisplan.layers['utilities_water_supply_old'];"
                           " e.map.fitBounds(e.layer.getBounds(), {maxZoom: 18}); }")
        page.page.wait_for_timeout(300)
        ys = page.page.evaluate("""() => {
            const mid = k => { const l = gisplan.layers[k].layer.getLayers()[0];
                               const b = l._path.getBBox(); return b.y + b.height / 2; };
            return {water: mid('utilities_water_supply_old'), gas: mid('utilities_gas_old'),
                    power: mid('utilities_power')};
        }""")
        # same street, drawn apart (3.5 px per network slot; gas is 3 slots from water)
        assert abs(ys["water"] - ys["gas"]) == pytest.approx(3 * maps.PIPE_SPACING_PX, abs=1)
        widths = page.page.evaluate("""() => {
            const rows = [...document.querySelectorAll('.gp-legend-row')];
            const old = rows.find(r => r.textContent.includes('20'));
            const sw = old.querySelector('.gp-swatch');
            const line = gisplan.layers['utilities_water_supply_old'].layer.getLayers()[0];
            return [parseFloat(getComputedStyle(sw).borderTopWidth), line.options.weight];
        }""")
        assert widths[0] == pytest.approx(widths[1], abs=0.5)
        assert page.problems() == []
        page.screenshot("utilities_shared_street")
    finally:
        page.page.close()
    assert shapely.equals(util.geometry.iloc[3], street)


def test_a_very_large_layer_draws_what_is_in_view_and_search_still_finds_all(
        browser, tmp_path, monkeypatch):
    from gisplan.synth import synth_city

    monkeypatch.setattr(maps_page, "LAZY_ABOVE", 100)
    city = synth_city(compounds=600, seed=3)
    path = maps.save_map(maps.progress_map(city), tmp_path / "big.html")
    page = open_offline(browser, path, viewport=PHONE)
    try:
        page.page.evaluate("() => { const m = gisplan.layers.compounds.map;"
                           " m.setZoom(18, {animate: false}); }")
        page.page.wait_for_timeout(300)
        first = page.drawn()["compounds"]
        assert first["rows"] == 600 and 0 < first["count"] < 600
        far = page.page.evaluate("""() => {
            const e = gisplan.layers.compounds;
            const i = e.added.findIndex((a, k) => !a && !isNaN(e.boxes[4 * k]));
            return e.column("name")[i]; }""")
        page.page.fill(".gp-search-input", far)
        page.page.press(".gp-search-input", "Enter")
        page.page.wait_for_timeout(500)
        assert page.page.locator(".leaflet-popup .gp-popup h4").first.text_content() == far
        assert page.drawn()["compounds"]["count"] > first["count"]
        near = page.page.evaluate("""() => {
            const e = gisplan.layers.compounds;
            return e.column("name")[e.added.findIndex((a, k) => a && k > 0)]; }""")
        page.page.fill(".gp-search-input", near)   # one drawn before it was searched
        page.page.press(".gp-search-input", "Enter")
        page.page.wait_for_timeout(500)
        assert page.page.locator(".leaflet-popup .gp-popup h4").first.text_content() == near
        page.page.locator(".gp-slider-input").fill("0")   # the slider reaches added ones
        colours = page.page.evaluate("""() => {
            const out = [];
            gisplan.layers.compounds.layer.eachLayer(l => out.push(
                [l.feature.properties._h.charAt(0), l.options.fillColor]));
            return out; }""")
        stage_colours = [maps.STAGE_COLORS[s] for s in stage_order()]
        assert len(colours) == page.drawn()["compounds"]["count"]
        assert all(c == (maps.NO_RECORD if h in "-" else stage_colours[int(h, 36)])
                   for h, c in colours)
        counted = page.page.evaluate("""() => [...document.querySelectorAll(
            ".gp-slider-counts tr:not(.gp-sum) td")].reduce((a, td) => a + +td.textContent, 0)""")
        assert counted == 600   # every compound is counted, drawn or not
        assert page.problems() == []
    finally:
        page.page.close()


@pytest.mark.parametrize("size", [(1280, 860), (1366, 768), (1920, 1080)])
def test_the_left_controls_do_not_cover_each_other(browser, built, size):
    """The charts and the slider (bottom left) stop short of the title, search box and
    buttons (top left) on common laptop and desktop screens; the charts scroll instead."""
    width, height = size
    page = open_offline(browser, built["progress"], viewport={"width": width, "height": height})
    try:
        boxes = page.page.evaluate("""() => {
            const rects = sel => [...document.querySelectorAll(sel + ' > .leaflet-control')]
                .map(e => e.getBoundingClientRect())
                .map(r => ({top: r.top, bottom: r.bottom, left: r.left, right: r.right}));
            return {top: rects('.leaflet-top.leaflet-left'),
                    bottom: rects('.leaflet-bottom.leaflet-left'),
                    charts: !!document.querySelector('.gp-charts')};
        }""")
        assert boxes["charts"] and boxes["top"] and boxes["bottom"]
        lowest_top = max(r["bottom"] for r in boxes["top"])
        highest_bottom = min(r["top"] for r in boxes["bottom"])
        assert lowest_top <= highest_bottom, boxes
    finally:
        page.page.close()
