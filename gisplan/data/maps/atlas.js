/* gisplan "一张图" atlas: four themed maps (each a self-contained gisplan page, gzipped in
 * this file and opened in a frame when first shown) with one search, one time slider
 * and one compound table linked to the map both ways. */
(function () {
  "use strict";
  var A = window.gisplanAtlas = {views: {}, active: null, rows: [], shown: [], selected: null};
  var cfg = JSON.parse(document.getElementById("gp-atlas-config").textContent);
  function el(tag, cls, text, parent) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  function unpack(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var st = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(st).text();
  }
  /* the gisplan runtime of a view once its map is built */
  function G(view) {
    var w = view && view.frame.contentWindow;
    return w && w.gisplan && w.gisplan.layers && w.gisplan.layers.compounds ? w.gisplan : null;
  }
  function whenReady(view, fn) {
    (function poll() { if (G(view)) fn(G(view)); else setTimeout(poll, 50); })();
  }
  function hookView(view) {
    whenReady(view, function (g) {
      var doc = view.frame.contentDocument, st = doc.createElement("style");
      st.textContent = ".gp-slider, .gp-search { display: none !important; }";
      doc.head.appendChild(st);
      g.layers.compounds.layer.on("click", function (e) {
        A.select(String(e.layer.feature.properties.compound_id), {fromMap: true});
      });
      view.ready = true;
      A.applyFilter();
      if (A.time !== undefined && g.setTime) g.setTime(A.time);
      if (A.selected) A.select(A.selected, {fromMap: true});
    });
  }
  A.show = function (kind) {
    Object.keys(A.views).forEach(function (k) {
      var v = A.views[k];
      v.frame.style.display = k === kind ? "block" : "none";
      v.tab.classList.toggle("gp-tab-on", k === kind);
      v.tab.setAttribute("aria-selected", k === kind ? "true" : "false");
    });
    A.active = kind;
    var v = A.views[kind];
    if (!v.loaded) {
      v.loaded = true;
      unpack(v.data).then(function (html) { v.frame.srcdoc = html; hookView(v); });
    }
  };
  /* the compound the user picked: its row selected, the active map zoomed to it */
  A.select = function (id, how) {
    A.selected = id;
    var rows = A.tbody.querySelectorAll("tr");
    for (var i = 0; i < rows.length; i++) {
      var on = rows[i].dataset.id === id;
      rows[i].classList.toggle("gp-row-selected", on);
      rows[i].setAttribute("aria-selected", on ? "true" : "false");
      if (on) rows[i].scrollIntoView({block: "nearest"});
    }
    var g = G(A.views[A.active]);
    if (!g || (how && how.fromMap)) return;
    var hit = g.findHit("compound_id", id);
    if (!hit) return;
    var map = hit.map, lyr = g.ensure ? g.ensure(hit) : hit.layer;
    if (lyr.getBounds) map.fitBounds(lyr.getBounds(), {maxZoom: 17, animate: false});
    g.highlight(map, lyr);
    if (lyr.openPopup) lyr.openPopup();
  };
  /* table filter → every built map shows the matching compounds and fits to them */
  A.applyFilter = function () {
    var keep = {};
    A.shown.forEach(function (r) { keep[r.id] = true; });
    var all = A.shown.length === A.rows.length;
    Object.keys(A.views).forEach(function (k) {
      var g = G(A.views[k]);
      if (!g) return;
      var lyr = g.layers.compounds.layer, bounds = null;
      lyr.eachLayer(function (f) {
        var on = all || keep[String(f.feature.properties.compound_id)];
        f.setStyle({opacity: on ? 0.9 : 0.15, fillOpacity: on ? g.layers.compounds.opts.fillOpacity
                    : 0.05});
        if (on && !all && f.getBounds) {
          bounds = bounds ? bounds.extend(f.getBounds()) : L0(g).latLngBounds(
            f.getBounds().getSouthWest(), f.getBounds().getNorthEast());
        }
      });
      if (bounds && k === A.active) g.layers.compounds.map.fitBounds(bounds, {maxZoom: 17});
    });
  };
  function L0(g) { return A.views[A.active].frame.contentWindow.L; }
  function buildTable(root) {
    var bar = el("div", "gp-table-bar", null, root);
    var filter = el("input", "gp-table-filter", null, bar);
    filter.type = "search";
    filter.placeholder = cfg.text.filter;
    filter.setAttribute("aria-label", cfg.text.filter);
    var count = el("span", "gp-table-count", null, bar);
    var wrap = el("div", "gp-table-wrap", null, root);
    var t = el("table", "gp-atlas-table", null, wrap);
    var head = el("tr", null, null, el("thead", null, null, t));
    A.tbody = el("tbody", null, null, t);
    var sortCol = null, sortDir = 1;
    cfg.columns.forEach(function (c, j) {
      var th = el("th", null, c.label, head);
      th.tabIndex = 0;
      th.addEventListener("click", function () {
        sortDir = sortCol === j ? -sortDir : 1;
        sortCol = j;
        head.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
        render();
      });
    });
    A.rows = cfg.rows.map(function (r) { return {id: String(r[0]), cells: r}; });
    function render() {
      var q = filter.value.trim().toLowerCase();
      A.shown = A.rows.filter(function (r) {
        return !q || r.cells.some(function (c) {
          return c !== null && String(c).toLowerCase().indexOf(q) >= 0;
        });
      });
      if (sortCol !== null) {
        var num = cfg.columns[sortCol].numeric;
        A.shown.sort(function (a, b) {
          var x = a.cells[sortCol], y = b.cells[sortCol];
          if (x === null) return 1;
          if (y === null) return -1;
          return (num ? x - y : String(x).localeCompare(String(y), "zh")) * sortDir;
        });
      }
      A.tbody.textContent = "";
      A.shown.slice(0, cfg.maxRows).forEach(function (r) {
        var tr = el("tr", r.id === A.selected ? "gp-row-selected" : null, null, A.tbody);
        tr.dataset.id = r.id;
        r.cells.forEach(function (c) { el("td", null, c === null ? "—" : c, tr); });
        tr.addEventListener("click", function () { A.select(r.id); });
      });
      count.textContent = A.shown.length + " / " + A.rows.length;
      A.applyFilter();
    }
    filter.addEventListener("input", render);
    A.filter = function (q) { filter.value = q; render(); };
    render();
  }
  function buildBar(bar) {
    cfg.views.forEach(function (v) {
      var tab = el("button", "gp-tab", v.label, bar.tabs);
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.addEventListener("click", function () { A.show(v.kind); });
      var frame = el("iframe", "gp-view", null, document.getElementById("gp-atlas-maps"));
      frame.title = v.label;
      A.views[v.kind] = {tab: tab, frame: frame, data: v.data, loaded: false};
    });
    var search = el("input", "gp-atlas-search", null, bar.tools);
    search.type = "search";
    search.placeholder = cfg.text.search;
    search.setAttribute("aria-label", cfg.text.search);
    search.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      var q = search.value.trim().toLowerCase();
      var hit = A.rows.find(function (r) { return String(r.cells[1]).toLowerCase().indexOf(q) >= 0; });
      if (hit) A.select(hit.id);
    });
    if (cfg.dates && cfg.dates.length) {
      var wrap = el("label", "gp-atlas-time", null, bar.tools);
      var label = el("span", "gp-atlas-date", cfg.dates[cfg.dates.length - 1], wrap);
      var slider = el("input", "gp-atlas-slider", null, wrap);
      slider.type = "range";
      slider.min = 0;
      slider.max = cfg.dates.length - 1;
      slider.value = cfg.dates.length - 1;
      slider.setAttribute("aria-label", cfg.text.time);
      slider.addEventListener("input", function () {
        A.time = parseInt(slider.value, 10);
        label.textContent = cfg.dates[A.time];
        Object.keys(A.views).forEach(function (k) {
          var g = G(A.views[k]);
          if (g && g.setTime) g.setTime(A.time);
        });
      });
    }
  }
  buildBar({tabs: document.getElementById("gp-atlas-tabs"),
            tools: document.getElementById("gp-atlas-tools")});
  buildTable(document.getElementById("gp-atlas-table"));
  A.show(cfg.views[0].kind);
})();
