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
    if (kind === "date" && G.time && G.time.date && String(v) > G.time.date) return "—";
    return String(v);
  };

  /* Columnar data {geoms: [...], props: {col: [...]}} -> GeoJSON features. */
  /* The layers' data: one array, inline (setData) or gzipped base64 (setPacked, unpacked
   * with the browser's DecompressionStream); the map script runs in whenData. */
  var store = null, waiting = [];
  G.setData = function (arr) {
    store = arr;
    var w = waiting;
    waiting = [];
    w.forEach(function (f) { f(); });
  };
  G.setPacked = function (b64) {
    function unpack(blob) {
      var stream = blob.stream().pipeThrough(new DecompressionStream("gzip"));
      return new Response(stream).text().then(function (t) { G.setData(JSON.parse(t)); });
    }
    function slow() {  /* base64 by hand, where a data: URL cannot be fetched */
      var bin = atob(b64), bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return unpack(new Blob([bytes]));
    }
    /* the browser decodes a data: URL off the main thread: no network is involved */
    fetch("data:application/octet-stream;base64," + b64)
      .then(function (r) { return r.blob(); }).then(unpack, slow);
  };
  G.whenData = function (fn) { if (store) fn(); else waiting.push(fn); };
  G.data = function (i) { var d = store[i]; store[i] = null; return d; };

  /* Columnar integer delta-coded geometries (maps.encode_geometries) back to GeoJSON:
   * x = X0 + (running sum of dx along the line or ring) / scale. */
  var GTYPES = ["Point", "LineString", "LineString", "Polygon", "MultiPoint",
                "MultiLineString", "MultiPolygon", "GeometryCollection"];
  /* A reader over the packed arrays: geom(i) decodes the geometry at the cursor and moves
   * it on; seek(p, s, c) puts the cursor at a feature's first part, sequence, vertex. */
  function geomReader(e, q) {
    var x0 = q[0], y0 = q[1], s = q[2], xy = e.xy;
    var pi = 0, si = 0, ci = 0;
    function seq() {
      var n = e.lens[si++], r = new Array(n), x = 0, y = 0;
      for (var k = 0; k < n; k++, ci++) {
        x += xy[2 * ci]; y += xy[2 * ci + 1];
        r[k] = [x0 + x / s, y0 + y / s];
      }
      return r;
    }
    function part() {
      var t = e.pt[pi], n = e.ns[pi];
      pi++;
      if (t === 0) return {type: "Point", coordinates: seq()[0]};
      if (t === 3) {
        var rings = [];
        for (var k = 0; k < n; k++) rings.push(seq());
        return {type: "Polygon", coordinates: rings};
      }
      if (t === 1 || t === 2) return {type: "LineString", coordinates: seq()};
      for (var j = 0; j < n; j++) seq();  /* unknown part: skip its sequences */
      return null;
    }
    function geom(i) {
      var t = e.gt[i];
      if (t < 0) return null;
      var parts = [];
      for (var p = 0; p < e.np[i]; p++) parts.push(part());
      if (t <= 3) return parts[0];
      if (t === 7) return {type: GTYPES[t], geometries: parts.filter(Boolean)};
      return {type: GTYPES[t], coordinates: parts.map(function (g) {
        return g ? g.coordinates : [];
      })};
    }
    return {geom: geom, seek: function (p, s0, c) { pi = p; si = s0; ci = c; }};
  }
  function decodeGeoms(e, q) {
    var r = geomReader(e, q), out = new Array(e.gt.length);
    for (var i = 0; i < out.length; i++) out[i] = r.geom(i);
    return out;
  }

  /* The light index of a lazily drawn layer, one pass over the packed arrays: where each
   * feature's parts, sequences and vertices start, and its bounding box (lon/lat, NaN
   * for a missing geometry, which is then never in view). */
  function packedIndex(e, q) {
    var n = e.gt.length, xy = e.xy, x0 = q[0], y0 = q[1], s = q[2];
    var ps = new Int32Array(n), ss = new Int32Array(n), cs = new Int32Array(n);
    var box = new Float32Array(4 * n), pi = 0, si = 0, ci = 0;
    for (var i = 0; i < n; i++) {
      ps[i] = pi; ss[i] = si; cs[i] = ci;
      var a = Infinity, b = Infinity, c = -Infinity, d = -Infinity;
      for (var p = 0; p < e.np[i]; p++) {
        var m = e.ns[pi++];
        for (var k = 0; k < m; k++) {
          var len = e.lens[si++], x = 0, y = 0;
          for (var j = 0; j < len; j++, ci++) {
            x += xy[2 * ci]; y += xy[2 * ci + 1];
            if (x < a) a = x;
            if (x > c) c = x;
            if (y < b) b = y;
            if (y > d) d = y;
          }
        }
      }
      if (a === Infinity) { box[4 * i] = box[4 * i + 1] = box[4 * i + 2] = box[4 * i + 3] = NaN; }
      else {
        box[4 * i] = x0 + a / s; box[4 * i + 1] = y0 + b / s;
        box[4 * i + 2] = x0 + c / s; box[4 * i + 3] = y0 + d / s;
      }
    }
    return {ps: ps, ss: ss, cs: cs, box: box};
  }

  G.decode = function (data) {
    var geoms = data.enc ? decodeGeoms(data.enc, data.q) : data.geoms;
    var cols = Object.keys(data.props), n = geoms.length, out = new Array(n);
    for (var i = 0; i < n; i++) {
      var p = {};
      for (var j = 0; j < cols.length; j++) p[cols[j]] = data.props[cols[j]][i];
      out[i] = {type: "Feature", geometry: geoms[i], properties: p};
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

  /* Lines of different networks sharing a street are drawn side by side: a polyline
   * with options.offset (px) is shifted along its normals after projection, so the
   * gap between networks is the same at every zoom (mitre joins, limited). */
  function offsetRing(pts, d) {
    var n = pts.length, out = new Array(n);
    if (n < 2) return pts;
    function normal(a, b) {
      var dx = b.x - a.x, dy = b.y - a.y, l = Math.sqrt(dx * dx + dy * dy) || 1;
      return [-dy / l, dx / l];
    }
    for (var i = 0; i < n; i++) {
      var n1 = i > 0 ? normal(pts[i - 1], pts[i]) : normal(pts[i], pts[i + 1]);
      var n2 = i < n - 1 ? normal(pts[i], pts[i + 1]) : n1;
      var mx = n1[0] + n2[0], my = n1[1] + n2[1], ml = Math.sqrt(mx * mx + my * my) || 1;
      mx /= ml; my /= ml;
      var s = d / Math.max(mx * n1[0] + my * n1[1], 0.5);
      out[i] = L.point(pts[i].x + mx * s, pts[i].y + my * s);
    }
    return out;
  }
  G.offsetRing = offsetRing;
  var basePolylinePath = L.Polyline.prototype._updatePath;
  L.Polyline.prototype._updatePath = function () {
    var d = this.options.offset;
    if (!d || this instanceof L.Polygon) return basePolylinePath.call(this);
    var saved = this._parts;
    this._parts = saved.map(function (ring) { return offsetRing(ring, d); });
    basePolylinePath.call(this);
    this._parts = saved;
  };

  /* Add one feature layer; returns the L.GeoJSON (not yet on the map). A layer with
   * opts.lazy keeps its packed arrays and turns features into Leaflet layers only when
   * they come into view (lazyLayer). */
  G.addLayer = function (map, key, data, opts) {
    var lazy = !!(opts.lazy && data.enc);
    var features = lazy ? null : G.decode(data);
    var layer = L.geoJSON(null, {
      interactive: opts.interactive !== false,
      style: function (f) {
        var st = styleFor(opts, f.properties);
        if (opts.offsetKey) st.offset = Number(f.properties[opts.offsetKey]) || 0;
        return st;
      },
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
        if (f._gpIndex !== undefined) G.layers[key].lyrs[f._gpIndex] = lyr;
        if (f._gpHit) f._gpHit.layer = lyr;
        else if (!lazy && opts.searchable && opts.nameKey && p[opts.nameKey]) {
          G.searchable.push({name: String(p[opts.nameKey]), layer: lyr, key: key, map: map,
                             feature: f});
        }
      }
    });
    var entry = {layer: layer, count: 0, opts: opts, map: map, features: features,
                 rows: lazy ? data.enc.gt.length : features.length, z: opts.z || 0};
    /* one column of properties, for every feature (drawn or not) */
    entry.column = function (k) {
      if (lazy) return data.props[k] || [];
      return features.map(function (f) { return f.properties[k]; });
    };
    G.layers[key] = entry;
    if (lazy) lazyLayer(map, key, entry, data);
    else layer.addData(features);
    entry.count = layer.getLayers().length;
    layer.on("add", function () { G.reorder(map); });
    return layer;
  };

  /* A very large layer draws only the features near the view, from the packed arrays:
   * a feature becomes a GeoJSON feature and a Leaflet layer the first time it comes
   * near the view (never removed), so a city of 300,000 compounds opens fast. Search
   * runs over the names column and decodes a hit's feature on demand (G.ensure); the
   * time slider colours features as they are drawn. */
  function lazyLayer(map, key, entry, data) {
    var opts = entry.opts, n = entry.rows, idx = packedIndex(data.enc, data.q);
    var reader = geomReader(data.enc, data.q), cols = Object.keys(data.props);
    var box = idx.box, hits = {};
    entry.added = new Uint8Array(n);
    entry.lyrs = {};
    entry.boxes = box;
    entry.feature = function (i) {
      reader.seek(idx.ps[i], idx.ss[i], idx.cs[i]);
      var p = {};
      for (var j = 0; j < cols.length; j++) p[cols[j]] = data.props[cols[j]][i];
      var f = {type: "Feature", geometry: reader.geom(i), properties: p};
      f._gpIndex = i;
      if (hits[i]) f._gpHit = hits[i];
      return f;
    };
    entry.hit = function (i) {
      var names = data.props[opts.nameKey] || [];
      if (!hits[i]) hits[i] = {name: String(names[i]), layer: null, key: key, map: map, index: i};
      hits[i].layer = entry.lyrs[i] || null;
      return hits[i];
    };
    if (opts.searchable && opts.nameKey) G.lazySearch.push(entry);
    function add(list) {
      if (!list.length) return;
      entry.layer.addData(list);
      entry.count = entry.layer.getLayers().length;
      /* the slider colours the compounds and the roll-ups drawn just now */
      if (G.time && G.setTime && (opts.time || /^rollup_/.test(key))) G.setTime(G.time.i);
    }
    entry.ensure = function (i) {
      if (!entry.added[i] && box[4 * i] === box[4 * i]) {
        entry.added[i] = 1;
        add([entry.feature(i)]);
      }
    };
    function inView() {
      if (map.getZoom() < (opts.lazyZoom || 0)) return;
      var b = map.getBounds().pad(0.5), w = b.getWest(), e = b.getEast();
      var s = b.getSouth(), nn = b.getNorth(), list = [];
      for (var i = 0; i < n; i++) {
        var k = 4 * i;
        if (!entry.added[i] && box[k + 2] >= w && box[k] <= e && box[k + 3] >= s &&
            box[k + 1] <= nn) {
          entry.added[i] = 1;
          list.push(entry.feature(i));
        }
      }
      add(list);
    }
    map.on("moveend", inView);
    map.whenReady(function () { setTimeout(inView, 0); });
  }
  G.lazySearch = [];

  /* make sure the feature of a search hit is drawn; returns its layer */
  G.ensure = function (hit) {
    if (!hit.layer && hit.index !== undefined) {
      var e = G.layers[hit.key];
      e.ensure(hit.index);
      hit.layer = e.lyrs[hit.index] || null;
    }
    return hit.layer;
  };

  /* Search hits whose name contains q (lower case), at most max: the drawn layers'
   * names first, then the names columns of the lazily drawn layers. */
  G.findHits = function (q, max) {
    var out = [];
    for (var i = 0; i < G.searchable.length && out.length < max; i++) {
      if (G.searchable[i].name.toLowerCase().indexOf(q) >= 0) out.push(G.searchable[i]);
    }
    G.lazySearch.forEach(function (entry) {
      var names = entry.column(entry.opts.nameKey);
      if (!entry.lower) {
        entry.lower = names.map(function (v) { return v ? String(v).toLowerCase() : ""; });
      }
      for (var j = 0; j < names.length && out.length < max; j++) {
        if (entry.lower[j] && entry.lower[j].indexOf(q) >= 0) out.push(entry.hit(j));
      }
    });
    return out;
  };

  /* The search hit of the compound whose property col equals value (the atlas table). */
  G.findHit = function (col, value) {
    var hit = G.searchable.find(function (h) {
      return String((h.feature || h.layer.feature).properties[col]) === value;
    });
    for (var k = 0; !hit && k < G.lazySearch.length; k++) {
      var vals = G.lazySearch[k].column(col);
      for (var j = 0; j < vals.length; j++) {
        if (String(vals[j]) === value) { hit = G.lazySearch[k].hit(j); break; }
      }
    }
    return hit || null;
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

  /* Draw order: every gisplan layer on the map brought to front by its rank (context
   * and roll-ups at the bottom, compounds above them, lines and points on top), so
   * that toggling a layer off and on never puts a roll-up over the compounds. */
  var reorderPending = {};
  G.reorder = function (map) {
    var id = L.Util.stamp(map);
    if (reorderPending[id]) return;
    reorderPending[id] = true;
    setTimeout(function () {
      reorderPending[id] = false;
      Object.keys(G.layers).map(function (k) { return G.layers[k]; })
        .filter(function (e) { return e.map === map && map.hasLayer(e.layer); })
        .sort(function (a, b) { return a.z - b.z; })
        .forEach(function (e) { e.layer.bringToFront(); });
      if (G.highlightLayer && map.hasLayer(G.highlightLayer)) G.highlightLayer.bringToFront();
    }, 0);
  };
  G.order = function () {
    return Object.keys(G.layers).map(function (k) { return [k, G.layers[k].z]; });
  };

  /* A thick outline around the compound a search found (not clickable). */
  G.highlight = function (map, lyr) {
    if (G.highlightLayer) map.removeLayer(G.highlightLayer);
    G.highlightLayer = L.geoJSON(lyr.feature, {
      interactive: false,
      style: function () {
        return {color: "#000000", weight: 4, opacity: 1, fill: false, dashArray: null,
                className: "gp-highlight"};
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 11, color: "#000000", weight: 3, fill: false,
                                       className: "gp-highlight", interactive: false});
      }
    }).addTo(map);
    G.highlighted = lyr.feature.properties;
  };

  /* Opening view: the whole programme, unless its compounds would be a few pixels wide;
   * then the densest part at the zoom where a typical compound is >= minPx wide. */
  G.view = function (map, cfg) {
    G.home = function () { map.fitBounds(cfg.bounds, {padding: [12, 12], maxZoom: 17}); };
    if (!cfg.sizeM || !cfg.dense) return;
    var lat = cfg.dense[0] * Math.PI / 180;
    var need = Math.ceil(Math.log2(cfg.minPx * 156543.03 * Math.cos(lat) / cfg.sizeM));
    need = Math.min(need, cfg.maxZoom || 17);
    if (map.getZoom() >= need) return;
    if (cfg.denseBounds) {
      map.fitBounds(cfg.denseBounds, {padding: [12, 12], animate: false,
                                      maxZoom: Math.min(need + 1, cfg.maxZoom || 17)});
    }
    if (map.getZoom() < need) map.setView(cfg.dense, need, {animate: false});
  };

  G.homeButton = function (map, label) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var d = el("div", "leaflet-bar gp-home");
      var a = el("a", null, "⤢", d);
      a.href = "#";
      a.title = label;
      a.setAttribute("role", "button");
      a.setAttribute("aria-label", label);
      L.DomEvent.on(a, "click", function (e) { L.DomEvent.stop(e); if (G.home) G.home(); });
      L.DomEvent.disableClickPropagation(d);
      return d;
    };
    ctl.addTo(map);
  };

  /* Place names from the programme's own layers, each shown in its zoom range. */
  G.labels = function (map, items) {
    if (!map.getPane("gpLabels")) {
      var pane = map.createPane("gpLabels");
      pane.style.zIndex = 450;
      pane.style.pointerEvents = "none";
    }
    var group = L.layerGroup().addTo(map);
    var markers = items.map(function (it) {
      var icon = L.divIcon({className: "gp-label gp-label-" + it.c, html: "", iconSize: null});
      var mk = L.marker(it.p, {icon: icon, interactive: false, keyboard: false,
                               pane: "gpLabels"});
      mk.on("add", function () {
        var e = mk.getElement();
        e.textContent = "";
        el("span", null, it.t, e);
      });
      mk.gp = it;
      return mk;
    });
    /* many names (a city of 8,000 片区): only those near the view are markers, as
     * every marker on the map costs a DOM node and map listeners */
    var cull = items.length > 1000;
    function update() {
      var z = map.getZoom(), b = cull ? map.getBounds().pad(1) : null;
      markers.forEach(function (mk) {
        var on = z >= mk.gp.z0 && z <= mk.gp.z1 && (!b || b.contains(mk.gp.p));
        if (on && !group.hasLayer(mk)) group.addLayer(mk);
        else if (!on && group.hasLayer(mk)) group.removeLayer(mk);
      });
    }
    map.on(cull ? "moveend" : "zoomend", update);
    update();
    G.labelGroup = group;
    return group;
  };

  /* Credits line: data sources, rule set, generation time (text, never HTML). */
  G.credits = function (map, text) {
    if (!map.attributionControl) L.control.attribution().addTo(map);
    map.attributionControl.addAttribution('<span class="gp-credits">' + G.esc(text) +
                                          "</span>");
  };

  /* A printer drawn in SVG: no icon font, no glyph a system may lack. */
  function printerIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M7 3h10v5H7zM4 9h16a1 1 0 0 1 1 1v6h-4v5H7v-5H3v-6a1 1 0 0 1 " +
                      "1-1zm5 7v3h6v-3zm9-4.5a1 1 0 1 0 0 .01z");
    path.setAttribute("fill", "#222");
    svg.appendChild(path);
    return svg;
  }

  G.printButton = function (map, label) {
    var ctl = L.control({position: "topleft"});
    ctl.onAdd = function () {
      var d = el("div", "leaflet-bar gp-print");
      var a = el("a", null, null, d);
      a.appendChild(printerIcon());
      a.href = "#";
      a.title = label;
      a.setAttribute("role", "button");
      a.setAttribute("aria-label", label);
      L.DomEvent.on(a, "click", function (e) { L.DomEvent.stop(e); window.print(); });
      L.DomEvent.disableClickPropagation(d);
      return d;
    };
    ctl.addTo(map);
  };

  G.narrow = function () { return window.innerWidth < 700; };

  /* Legend: sections of {title, items: [{label, color, shape}]}. */
  G.legend = function (map, title, sections, position) {
    var ctl = L.control({position: position || "bottomright"});
    G.legendRows = {};
    ctl.onAdd = function () {
      var d = el("div", "gp-legend leaflet-bar");
      var head = el("button", "gp-legend-title", title || "", d);
      head.type = "button";
      head.setAttribute("aria-expanded", "true");
      var body = el("div", "gp-legend-body", null, d);
      head.addEventListener("click", function () {
        var open = d.classList.toggle("gp-collapsed");
        head.setAttribute("aria-expanded", open ? "false" : "true");
      });
      if (G.narrow()) {
        d.classList.add("gp-collapsed");
        head.setAttribute("aria-expanded", "false");
      }
      sections.forEach(function (s) {
        if (s.title) el("div", "gp-legend-section", s.title, body);
        s.items.forEach(function (it) {
          var row = el("div", "gp-legend-row", null, body);
          var sw = el("span", "gp-swatch gp-swatch-" + (it.shape || "box"), null, row);
          sw.style.background = it.shape === "line" || it.shape === "ring" ? "transparent" : it.color;
          sw.style.borderColor = it.stroke || it.color;
          if (it.dash) sw.style.borderStyle = "dashed";
          if (it.width) sw.style.borderTopWidth = it.width + "px";
          el("span", null, it.label, row);
          if (it.count !== undefined && it.count !== null) {
            var c = el("span", "gp-legend-count", it.count, row);
            if (it.key !== undefined) G.legendRows[it.key] = c;
          }
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
      G.titleSub = el("div", "gp-title-sub", sub || "", d);
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
        var lyr = G.ensure(hit);
        if (!map.hasLayer(G.layers[hit.key].layer)) G.layers[hit.key].layer.addTo(map);
        if (lyr.getBounds) map.fitBounds(lyr.getBounds(), {maxZoom: 17, animate: false});
        else map.setView(lyr.getLatLng(), 17, {animate: false});
        G.highlight(map, lyr);
        if (lyr.openPopup) lyr.openPopup();
        setTimeout(function () { list.textContent = ""; }, 0);
      }
      function update() {
        list.textContent = "";
        var q = input.value.trim().toLowerCase();
        if (!q) return [];
        var hits = G.findHits(q, 12);
        if (!hits.length) el("div", "gp-search-none", noneText, list);
        hits.forEach(function (h) {
          var b = el("button", "gp-search-hit", h.name, list);
          b.type = "button";
          L.DomEvent.on(b, "click", function (e) { L.DomEvent.stop(e); go(h); });
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

  function pct0(v) {
    return v === null || v === undefined || isNaN(v) ? "—" : Math.round(Number(v) * 100) + "%";
  }

  /* Time slider over snapshots of the progress log.
   * cfg: {layer, dates: [...], histKey, colors: [per stage index], labels, stageKeys,
   *       title, start, started, completed (stage indices), hhKey, text: {...},
   *       totals: [[start share, completion share] per date] (households),
   *       rollups: [{layer, cols, values: {unit: [[...cols] per date]}, bins, palette}]}
   * Everything that shows a date follows it: compound colours, the title, the legend
   * counts, the counts table and the county / 片区 roll-ups (colours and popups). */
  G.timeSlider = function (map, cfg) {
    var entry = G.layers[cfg.layer];
    var ctl = L.control({position: "bottomleft"});
    var state = {i: cfg.start, date: cfg.dates[cfg.start], dates: cfg.dates};
    G.time = state;
    G.timeHooks = G.timeHooks || [];
    function stageAt(p, i) {
      var ch = String(p[cfg.histKey] || "").charAt(i);
      return ch === "" || ch === "-" ? -1 : parseInt(ch, 36);
    }
    function recolour(i) {
      entry.layer.eachLayer(function (lyr) {
        var s = stageAt(lyr.feature.properties, i);
        lyr.setStyle({fillColor: s < 0 ? cfg.noneColor : cfg.colors[s],
                      color: s < 0 ? cfg.noneStroke || cfg.noneColor : cfg.colors[s],
                      dashArray: s < 0 ? cfg.noneDash || null : null});
      });
    }
    function countStages(i) {
      var n = new Array(cfg.labels.length + 1).fill(0);
      var col = entry.column(cfg.histKey);
      for (var j = 0; j < col.length; j++) {
        var ch = String(col[j] || "").charAt(i);
        var s = ch === "" || ch === "-" ? -1 : parseInt(ch, 36);
        n[s < 0 ? cfg.labels.length : s] += 1;
      }
      return n;
    }
    function rollups(i) {
      (cfg.rollups || []).forEach(function (r) {
        var e = G.layers[r.layer];
        if (!e) return;
        e.layer.eachLayer(function (lyr) {
          var p = lyr.feature.properties, rows = r.values[p.name], row = rows ? rows[i] : null;
          r.cols.forEach(function (c, k) { p[c] = row ? row[k] : null; });
          var share = p[r.shareKey], b = 0;
          if (share !== null && share !== undefined) {
            b = 1;
            while (b < r.bins.length + 1 && share >= r.bins[b - 1]) b++;
            b -= 1;
          }
          lyr.setStyle({fillColor: r.palette[b]});
          if (lyr.isPopupOpen && lyr.isPopupOpen()) lyr.getPopup().update();
        });
      });
    }
    function titleAt(i) {
      if (!G.titleSub || !cfg.totals) return;
      var t = cfg.totals[i] || [null, null];
      G.titleSub.textContent = cfg.text.asOf + " " + cfg.dates[i] + " · " +
        cfg.text.startedShare + " " + pct0(t[0]) + " · " + cfg.text.completedShare + " " +
        pct0(t[1]);
    }
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
      input.setAttribute("aria-label", cfg.title);
      var counts = el("div", "gp-slider-counts", null, d);
      function apply(i) {
        state.i = i;
        state.date = cfg.dates[i];
        label.textContent = cfg.dates[i];
        recolour(i);
        var n = countStages(i);
        counts.textContent = "";
        var t = el("table", "gp-table", null, counts);
        cfg.labels.forEach(function (lab, k) {
          var key = cfg.stageKeys ? cfg.stageKeys[k] : k;
          if (G.legendRows && G.legendRows[key]) G.legendRows[key].textContent = n[k];
          if (!n[k]) return;
          var tr = el("tr", null, null, t);
          var th = el("th", null, null, tr);
          var sw = el("span", "gp-swatch gp-swatch-box", null, th);
          sw.style.background = cfg.colors[k];
          th.appendChild(document.createTextNode(lab));
          el("td", null, n[k], tr);
        });
        if (G.legendRows && G.legendRows[""]) G.legendRows[""].textContent = n[cfg.labels.length];
        if (n[cfg.labels.length]) {
          var tr0 = el("tr", null, null, t);
          el("th", null, cfg.text.none, tr0);
          el("td", null, n[cfg.labels.length], tr0);
        }
        var tot = (cfg.totals && cfg.totals[i]) || [null, null];
        var tr1 = el("tr", "gp-sum", null, t);
        el("th", null, cfg.text.startedShare, tr1);
        el("td", null, pct0(tot[0]), tr1);
        var tr2 = el("tr", "gp-sum", null, t);
        el("th", null, cfg.text.completedShare, tr2);
        el("td", null, pct0(tot[1]), tr2);
        rollups(i);
        titleAt(i);
        (G.timeHooks || []).forEach(function (f) { f(i); });
        map.eachLayer(function (l) { if (l.isPopupOpen && l.isPopupOpen()) l.getPopup().update(); });
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


  /* Progress charts: per county 开工率 and 完工率 by households and by count over the
   * snapshot dates, against the milestone targets, as inline SVG (no library).
   * cfg: {dates, units: [{name, values: [[sh, ch, sc, cc] per date]}], targets:
   *       [{date, target, label, series}], series: [4 labels], colors, title, targetLabel}
   * A vertical marker and each chart's figures follow the time slider (G.timeHooks). */
  var SVGNS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  var DASH = [null, null, "4 3", "4 3"];
  G.progressCharts = function (map, cfg) {
    var W = 250, H = 96, L0 = 30, R0 = 8, T0 = 6, B0 = 16;
    var t = cfg.dates.map(function (d) { return Date.parse(d); });
    cfg.targets.forEach(function (g) { t.push(Date.parse(g.date)); });
    var t0 = Math.min.apply(null, t), t1 = Math.max.apply(null, t);
    if (t1 <= t0) t1 = t0 + 86400000;
    function X(ms) { return L0 + (ms - t0) / (t1 - t0) * (W - L0 - R0); }
    function Y(v) { return T0 + (1 - Math.max(0, Math.min(1, v))) * (H - T0 - B0); }
    var markers = [], figures = [];
    function chart(unit, parent) {
      var box = el("div", "gp-chart", null, parent);
      var head = el("div", "gp-chart-head", null, box);
      el("b", null, unit.name, head);
      var fig = el("span", "gp-chart-fig", null, head);
      figures.push({el: fig, unit: unit});
      var svg = svgEl("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H,
                              "class": "gp-chart-svg", role: "img"}, box);
      svgEl("title", {}, svg).textContent = unit.name + " · " + cfg.title;
      [0, 0.5, 1].forEach(function (v) {
        svgEl("line", {x1: L0, x2: W - R0, y1: Y(v), y2: Y(v), "class": "gp-chart-grid"}, svg);
        svgEl("text", {x: L0 - 3, y: Y(v) + 3, "text-anchor": "end", "class": "gp-chart-axis"},
              svg).textContent = Math.round(v * 100) + "%";
      });
      svgEl("text", {x: L0, y: H - 3, "class": "gp-chart-axis"}, svg).textContent =
        cfg.dates[0];
      svgEl("text", {x: W - R0, y: H - 3, "text-anchor": "end", "class": "gp-chart-axis"},
            svg).textContent = new Date(t1).toISOString().slice(0, 10);
      for (var k = 0; k < 4; k++) {
        var pts = [];
        unit.values.forEach(function (row, i) {
          if (row[k] !== null && row[k] !== undefined) {
            pts.push(X(Date.parse(cfg.dates[i])).toFixed(1) + "," + Y(row[k]).toFixed(1));
          }
        });
        if (!pts.length) continue;
        var a = {points: pts.join(" "), fill: "none", stroke: cfg.colors[k],
                 "stroke-width": k < 2 ? 2 : 1.5, "class": "gp-chart-line gp-chart-s" + k};
        if (DASH[k]) a["stroke-dasharray"] = DASH[k];
        svgEl("polyline", a, svg);
      }
      cfg.targets.forEach(function (g) {
        var x = X(Date.parse(g.date)), y = Y(g.target);
        var d = svgEl("path", {d: "M" + x + " " + (y - 5) + "l5 5l-5 5l-5-5z",
                               fill: g.series < 2 ? cfg.colors[g.series] : "#fff",
                               stroke: cfg.colors[g.series], "stroke-width": 1.5,
                               "class": "gp-chart-target"}, svg);
        svgEl("title", {}, d).textContent = cfg.targetLabel + " " + g.label + " " +
          g.date + " " + Math.round(g.target * 100) + "% · " + cfg.series[g.series];
      });
      markers.push(svgEl("line", {y1: T0, y2: H - B0, "class": "gp-chart-now"}, svg));
    }
    function setDate(i) {
      var x = X(Date.parse(cfg.dates[i])).toFixed(1);
      markers.forEach(function (m) { m.setAttribute("x1", x); m.setAttribute("x2", x); });
      figures.forEach(function (f) {
        var r = f.unit.values[i] || [];
        f.el.textContent = cfg.short[0] + " " + pct0(r[0]) + " · " +
          cfg.short[1] + " " + pct0(r[1]);
      });
    }
    var ctl = L.control({position: "bottomleft"});
    ctl.onAdd = function () {
      var d = el("div", "gp-charts leaflet-bar");
      if (window.innerWidth < 700) d.classList.add("gp-collapsed");
      var btn = el("button", "gp-charts-title", cfg.title, d);
      btn.type = "button";
      btn.addEventListener("click", function () { d.classList.toggle("gp-collapsed"); });
      var body = el("div", "gp-charts-body", null, d);
      var key = el("div", "gp-chart-key", null, body);
      cfg.series.forEach(function (lab, k) {
        var row = el("span", "gp-chart-key-item", null, key);
        var sw = svgEl("svg", {width: 18, height: 8}, row);
        var a = {x1: 0, x2: 18, y1: 4, y2: 4, stroke: cfg.colors[k], "stroke-width": 2};
        if (DASH[k]) a["stroke-dasharray"] = DASH[k];
        svgEl("line", a, sw);
        row.appendChild(document.createTextNode(lab));
      });
      if (cfg.targets.length) {
        var tk = el("span", "gp-chart-key-item", null, key);
        var sw2 = svgEl("svg", {width: 12, height: 12}, tk);
        svgEl("path", {d: "M6 1l5 5l-5 5l-5-5z", fill: "#555"}, sw2);
        tk.appendChild(document.createTextNode(cfg.targetLabel));
      }
      cfg.units.forEach(function (u) { chart(u, body); });
      setDate(G.time ? G.time.i : cfg.dates.length - 1);
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    ctl.addTo(map);
    fitBetweenCorners(map, ctl.getContainer());
    G.timeHooks = G.timeHooks || [];
    G.timeHooks.push(setDate);
    G.charts = {setDate: setDate, markers: markers};
    return ctl;
  };

  /* Keep *box* (a bottom-left control that scrolls: the charts) below the top-left stack
   * (title, search, buttons): its height is what the map leaves between the two corners,
   * at most 45 % of the map (at least 80 px), and follows the window and the top stack. */
  function fitBetweenCorners(map, box) {
    var c = map.getContainer();
    var top = c.querySelector(".leaflet-top.leaflet-left");
    var bottom = c.querySelector(".leaflet-bottom.leaflet-left");
    if (!top || !bottom) return;
    function fit() {
      var h = c.getBoundingClientRect().height;
      var others = bottom.getBoundingClientRect().height - box.getBoundingClientRect().height;
      var room = h - top.getBoundingClientRect().height - others - 20;  // control margins
      box.style.maxHeight = Math.max(80, Math.min(room, 0.45 * h)) + "px";
    }
    fit();
    setTimeout(fit, 0);  // after the controls added later (the slider, the search box)
    map.on("resize", fit);
    if (window.ResizeObserver) new ResizeObserver(fit).observe(top);
  }

  /* Every facility type's walking distance against its standard, in a gaps popup. */
  G.popupExtra.allGaps = function (d, p, opts) {
    var g = opts.gaps;
    if (!g || !g.types.length) return;
    el("div", "gp-popup-section", g.title, d);
    var t = el("table", "gp-table gp-gaps", null, d);
    g.types.forEach(function (ty) {
      var tr = el("tr", null, null, t);
      el("th", null, ty.label, tr);
      var walk = p["walk_m_" + ty.key], std = ty.standard;
      el("td", null, G.fmt(walk, "m", opts.lang) + " / " + G.fmt(std, "m", opts.lang), tr);
      var st = p["_cov_" + ty.key];
      var v = el("td", "gp-verdict gp-verdict-" + st, g.verdict[st] || "—", tr);
      v.style.color = g.colors[st] || "#333";
    });
  };

  G.popupExtra.stageNow = function (d, p, opts) {
    if (!G.time || !opts.time) return;
    var t = opts.time, ch = String(p[t.histKey] || "").charAt(G.time.i);
    var s = ch === "" || ch === "-" ? -1 : parseInt(ch, 36);
    var row = el("div", "gp-sub", null, d);
    row.textContent = t.dates[G.time.i] + " · " + (s < 0 ? t.none : t.labels[s]);
  };
})();
