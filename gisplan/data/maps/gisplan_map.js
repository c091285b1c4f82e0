/* gisplan map runtime: feature layers, legend, search, time slider, roll-up panel.
 *
 * Plain JS on Leaflet only; no other library, no network. Every piece of user text is
 * put into the page with textContent (never innerHTML), so a compound called
 * an image tag with an onerror handler shows as text and runs nothing.
 */
(function () {
  "use strict";
  var G = (window.gisplan = window.gisplan || {});
  G.layers = {};
  G.searchable = [];
  G.maps = [];

  function el(tag, cls, text, parent) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  G.el = el;

  G.esc = function (v) {
    return String(v === null || v === undefined ? "" : v)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  };

  G.fmt = function (v, kind, lang) {
    if (v === null || v === undefined || v === "" || (typeof v === "number" && isNaN(v))) {
      return "—";
    }
    var loc = lang === "en" ? "en-US" : "zh-CN";
    if (kind === "int") return Math.round(Number(v)).toLocaleString(loc);
    if (kind === "float") return Number(v).toLocaleString(loc, {maximumFractionDigits: 1});
    if (kind === "pct") return (Number(v) * 100).toFixed(1) + "%";
    if (kind === "m") return Math.round(Number(v)).toLocaleString(loc) + " m";
    return String(v);
  };

  /* Columnar data {geoms: [...], props: {col: [...]}} -> GeoJSON features. */
  G.decode = function (data) {
    var cols = Object.keys(data.props), n = data.geoms.length, out = new Array(n);
    for (var i = 0; i < n; i++) {
      var p = {};
      for (var j = 0; j < cols.length; j++) p[cols[j]] = data.props[cols[j]][i];
      out[i] = {type: "Feature", geometry: data.geoms[i], properties: p};
    }
    return out;
  };

  function sub(key, opts) {
    return opts.sw === undefined ? key : String(key).replace("{t}", opts.sw);
  }

  function value(props, key, opts) {
    var k = sub(key, opts);
    if (k in props) return props[k];
    return opts.constants ? opts.constants[k] : undefined;
  }

  function table(rows, props, opts) {
    var t = el("table", "gp-table"), lang = opts.lang;
    for (var i = 0; i < rows.length; i++) {
      var v = value(props, rows[i][1], opts);
      if (rows[i][3] && (v === null || v === undefined || v === "")) continue;
      var tr = el("tr", null, null, t);
      el("th", null, rows[i][0], tr);
      el("td", null, G.fmt(v, rows[i][2], lang), tr);
    }
    return t;
  }

  function styleFor(opts, props) {
    var c = opts.color;
    if (opts.colorKey) {
      var k = value(props, opts.colorKey, opts);
      c = (opts.colors && opts.colors[k]) || opts.otherColor || c;
    }
    return {
      color: opts.stroke || c,
      fillColor: c,
      weight: opts.weight,
      opacity: opts.opacity,
      fillOpacity: opts.fillOpacity,
      dashArray: opts.dashArray || null,
      className: opts.className
    };
  }
  G.styleFor = styleFor;

  /* Add one feature layer; returns the L.GeoJSON (not yet on the map). */
  G.addLayer = function (map, key, data, opts) {
    var features = G.decode(data);
    var layer = L.geoJSON(null, {
      interactive: opts.interactive !== false,
      style: function (f) { return styleFor(opts, f.properties); },
      pointToLayer: function (f, latlng) {
        var s = styleFor(opts, f.properties);
        s.interactive = opts.interactive !== false;
        if (opts.radiusKey) {
          s.radius = Number(f.properties[opts.radiusKey]) || 0;
          return L.circle(latlng, s);
        }
        s.radius = opts.radius || 5;
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        if (opts.tooltip) {
          lyr.bindTooltip(function () {
            var d = el("div", "gp-tip");
            if (opts.nameKey) el("b", null, p[opts.nameKey], d);
            if (opts.tooltip.length) d.appendChild(table(opts.tooltip, p, opts));
            return d;
          }, {sticky: true});
        }
        if (opts.popup) {
          lyr.bindPopup(function () {
            var d = el("div", "gp-popup");
            if (opts.nameKey) el("h4", null, p[opts.nameKey], d);
            if (opts.subtitle) el("div", "gp-sub", opts.subtitle, d);
            if (opts.subtitleKey) el("div", "gp-sub", value(p, opts.subtitleKey, opts), d);
            d.appendChild(table(opts.popup, p, opts));
            if (opts.extra && G.popupExtra[opts.extra]) G.popupExtra[opts.extra](d, p, opts);
            return d;
          }, {maxWidth: 360});
        }
        if (opts.searchable && opts.nameKey && p[opts.nameKey]) {
          G.searchable.push({name: String(p[opts.nameKey]), layer: lyr, key: key, map: map});
        }
      }
    });
    layer.addData(features);
    G.layers[key] = {layer: layer, count: layer.getLayers().length, rows: features.length,
                     opts: opts, map: map};
    return layer;
  };

  G.popupExtra = {};

  /* Switch a layer's "{t}" placeholder (e.g. the facility type) and restyle it. */
  G.switchTo = function (key, sw) {
    var entry = G.layers[key];
    if (!entry) return;
    entry.opts.sw = sw;
    entry.layer.setStyle(function (f) { return styleFor(entry.opts, f.properties); });
  };

  /* Layers drawn on the map now, with the number of features each holds. */
  G.drawn = function () {
    var out = {};
    Object.keys(G.layers).forEach(function (k) {
      var L0 = G.layers[k];
      out[k] = {count: L0.count, rows: L0.rows, onMap: L0.map.hasLayer(L0.layer)};
    });
    return out;
  };

  /* Legend: sections of {title, items: [{label, color, shape}]}. */
  G.legend = function (map, title, sections, position) {
    var ctl = L.control({position: position || "bottomright"});
    ctl.onAdd = function () {
      var d = el("div", "gp-legend leaflet-bar");
      if (title) el("div", "gp-legend-title", title, d);
      sections.forEach(function (s) {
        if (s.title) el("div", "gp-legend-section", s.title, d);
        s.items.forEach(function (it) {
          var row = el("div", "gp-legend-row", null, d);
          var sw = el("span", "gp-swatch gp-swatch-" + (it.shape || "box"), null, row);
          sw.style.background = it.shape === "line" || it.shape === "ring" ? "transparent" : it.color;
          sw.style.borderColor = it.color;
          el("span", null, it.label, row);
          if (it.count !== undefined && it.count !== null) el("span", "gp-legend-count", it.count, row);
        });
      });
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    ctl.addTo(map);
    return ctl;
  };

  G.title = function (map, text, sub) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var d = el("div", "gp-title leaflet-bar");
      el("div", "gp-title-main", text, d);
      if (sub) el("div", "gp-title-sub", sub, d);
      return d;
    };
    ctl.addTo(map);
    return ctl;
  };

  /* Search by compound name: substring, case-insensitive; Enter or click zooms. */
  G.search = function (map, placeholder, noneText) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var d = el("div", "gp-search leaflet-bar");
      var input = el("input", "gp-search-input", null, d);
      input.type = "search";
      input.placeholder = placeholder;
      input.setAttribute("aria-label", placeholder);
      var list = el("div", "gp-search-results", null, d);
      function go(hit) {
        var lyr = hit.layer;
        if (!map.hasLayer(G.layers[hit.key].layer)) G.layers[hit.key].layer.addTo(map);
        if (lyr.getBounds) map.fitBounds(lyr.getBounds(), {maxZoom: 17});
        else map.setView(lyr.getLatLng(), 17);
        if (lyr.openPopup) lyr.openPopup();
        list.textContent = "";
      }
      function update() {
        list.textContent = "";
        var q = input.value.trim().toLowerCase();
        if (!q) return [];
        var hits = [];
        for (var i = 0; i < G.searchable.length && hits.length < 12; i++) {
          if (G.searchable[i].name.toLowerCase().indexOf(q) >= 0) hits.push(G.searchable[i]);
        }
        if (!hits.length) el("div", "gp-search-none", noneText, list);
        hits.forEach(function (h) {
          var b = el("button", "gp-search-hit", h.name, list);
          b.type = "button";
          b.addEventListener("click", function () { go(h); });
        });
        return hits;
      }
      input.addEventListener("input", update);
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          var hits = update();
          if (hits.length) go(hits[0]);
        }
      });
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    ctl.addTo(map);
    return ctl;
  };

  /* Time slider over snapshots of the progress log.
   * cfg: {layer, dates: [...], histKey, colors: [per stage index], labels: [...],
   *       title, start, started, completed (stage indices), hhKey, text: {...}} */
  G.timeSlider = function (map, cfg) {
    var entry = G.layers[cfg.layer];
    var ctl = L.control({position: "bottomleft"});
    var state = {i: cfg.start};
    G.time = state;
    ctl.onAdd = function () {
      var d = el("div", "gp-slider leaflet-bar");
      el("div", "gp-slider-title", cfg.title, d);
      var label = el("div", "gp-slider-date", null, d);
      var input = el("input", "gp-slider-input", null, d);
      input.type = "range";
      input.min = 0;
      input.max = cfg.dates.length - 1;
      input.step = 1;
      input.value = cfg.start;
      var counts = el("div", "gp-slider-counts", null, d);
      function apply(i) {
        state.i = i;
        label.textContent = cfg.dates[i];
        var n = new Array(cfg.labels.length + 1).fill(0), hh = 0, hhStarted = 0, hhDone = 0;
        entry.layer.eachLayer(function (lyr) {
          var p = lyr.feature.properties, ch = String(p[cfg.histKey] || "").charAt(i);
          var s = ch === "" || ch === "-" ? -1 : parseInt(ch, 36);
          var h = Number(p[cfg.hhKey]) || 0;
          hh += h;
          if (s >= cfg.started) hhStarted += h;
          if (s >= cfg.completed) hhDone += h;
          n[s < 0 ? cfg.labels.length : s] += 1;
          lyr.setStyle({fillColor: s < 0 ? cfg.noneColor : cfg.colors[s],
                        color: s < 0 ? cfg.noneColor : cfg.colors[s]});
        });
        counts.textContent = "";
        var t = el("table", "gp-table", null, counts);
        cfg.labels.forEach(function (lab, k) {
          if (!n[k]) return;
          var tr = el("tr", null, null, t);
          var th = el("th", null, null, tr);
          var sw = el("span", "gp-swatch gp-swatch-box", null, th);
          sw.style.background = cfg.colors[k];
          th.appendChild(document.createTextNode(lab));
          el("td", null, n[k], tr);
        });
        if (n[cfg.labels.length]) {
          var tr0 = el("tr", null, null, t);
          el("th", null, cfg.text.none, tr0);
          el("td", null, n[cfg.labels.length], tr0);
        }
        var tr1 = el("tr", "gp-sum", null, t);
        el("th", null, cfg.text.startedShare, tr1);
        el("td", null, hh ? G.fmt(hhStarted / hh, "pct") : "—", tr1);
        var tr2 = el("tr", "gp-sum", null, t);
        el("th", null, cfg.text.completedShare, tr2);
        el("td", null, hh ? G.fmt(hhDone / hh, "pct") : "—", tr2);
      }
      input.addEventListener("input", function () { apply(parseInt(input.value, 10)); });
      G.setTime = function (i) { input.value = i; apply(i); };
      apply(cfg.start);
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    ctl.addTo(map);
    return ctl;
  };

  G.popupExtra.stageNow = function (d, p, opts) {
    if (!G.time || !opts.time) return;
    var t = opts.time, ch = String(p[t.histKey] || "").charAt(G.time.i);
    var s = ch === "" || ch === "-" ? -1 : parseInt(ch, 36);
    var row = el("div", "gp-sub", null, d);
    row.textContent = t.dates[G.time.i] + " · " + (s < 0 ? t.none : t.labels[s]);
  };
})();
