/* Counterfeit Workbench map runtime: inlined after Leaflet into every map page.
 *
 * Data reaches the page only as JSON inside script elements of type application/json, and
 * is shown only through textContent: nothing from the data is ever parsed as HTML or code.
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var kit = {
    /* Parse the JSON payload of the application/json script element with this id. */
    data: function (id) {
      return JSON.parse(document.getElementById(id).textContent);
    },

    /* A tooltip card: a title and [label, value] rows; empty values are skipped. */
    card: function (title, rows) {
      var box = el("div", "workbench-card");
      box.appendChild(el("div", "workbench-card-title", title));
      rows.forEach(function (row) {
        var value = row[1];
        if (value === null || value === undefined || value === "") return;
        var line = el("div", "workbench-card-row");
        line.appendChild(el("span", "workbench-card-key", row[0] + ": "));
        line.appendChild(el("span", "workbench-card-value", value));
        box.appendChild(line);
      });
      return box;
    },

    /* "a, b, c (+2 more)" */
    list: function (items, more) {
      var text = (items || []).join(", ");
      if (more > 0) text += " (+" + more + " more)";
      return text;
    },

    /* Circle-marker radius in pixels for a shipment count (log scale, capped). */
    radius: function (count) {
      return Math.min(22, 4 + 4 * Math.log10(Math.max(1, count)));
    },

    /* Bind a tooltip whose content is built when it opens (from the layer it opens on). */
    tooltip: function (layer, build) {
      layer.bindTooltip(function (source) { return build(source); }, { sticky: true, className: "workbench-tooltip" });
      return layer;
    },

    /* The legend control: sections of swatches, all text through textContent. */
    Legend: L.Control.extend({
      options: { position: "bottomright", sections: [] },
      onAdd: function () {
        var box = el("div", "workbench-legend leaflet-bar");
        this.options.sections.forEach(function (section) {
          box.appendChild(el("div", "workbench-legend-title", section.title));
          section.items.forEach(function (item) {
            var line = el("div", "workbench-legend-item");
            var swatch = el("span", "workbench-swatch workbench-swatch-" + item.shape);
            swatch.style.borderColor = item.colour;
            if (item.shape !== "ring" && item.shape !== "dash") swatch.style.background = item.colour;
            line.appendChild(swatch);
            line.appendChild(el("span", "workbench-legend-label", item.label));
            box.appendChild(line);
          });
          if (section.note) box.appendChild(el("div", "workbench-legend-note", section.note));
        });
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    })
  };

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  /* Many markers: one canvas instead of thousands of SVG elements (10x faster to draw),
   * and one tooltip for the whole group instead of one per marker. A few: SVG elements
   * with their own tooltips (each can be found and opened by itself). Every layer drawn on
   * a canvas shares the one canvas: a canvas takes the mouse events of all below it. */
  function many(n) { return n > kit.canvasAbove; }

  function add(group, layer, info, build, shared) {
    layer.workbench = info;
    if (!shared) kit.tooltip(layer, build);
    group.addLayer(layer);
  }

  function shareTooltip(group, shared, build) {
    group.unbindTooltip();
    if (shared) kit.tooltip(group, function (layer) { return build(layer.workbench); });
  }

  /* Ship-from markers (class workbench-point) from a column-wise payload, into group. */
  function drawPoints(group, d) {
    kit.layers.points = group;
    var shared = many(d.lat.length);
    var renderer = shared ? kit.canvas() : undefined;
    function card(info) {
      var i = info.index, net = d.net[i], others = d.nnet[i] - 1;
      return kit.card(
        (d.grid ? "Grid cell: " : "") + plural(d.shipments[i], "shipment") +
          " from " + plural(d.sellers[i], "seller"),
        [
          ["Network", net < 0 ? "unlinked" :
            d.networks[net] + (others > 0 ? " (+" + others + " more)" : "")],
          ["Sellers", kit.list(d.who[i].map(function (k) { return d.names[k]; }), d.more[i])],
          [d.grid ? "Mean position" : "Position", d.lat[i].toFixed(5) + ", " + d.lon[i].toFixed(5)]
        ]);
    }
    shareTooltip(group, shared, card);
    for (var i = 0; i < d.lat.length; i++) {
      var colour = d.net[i] < 0 ? d.unlinked : d.colours[d.net[i]];
      var info = {layer: "points", index: i, lat: d.lat[i], lon: d.lon[i]};
      add(group, L.circleMarker([d.lat[i], d.lon[i]], {
        pane: "workbench-points", className: "workbench-point", renderer: renderer,
        radius: kit.radius(d.shipments[i]), color: colour, weight: 1,
        fillColor: colour, fillOpacity: 0.65
      }), info, card.bind(null, info), shared);
    }
  }

  /* Many rings on one canvas, drawn as one path per colour (tens of thousands draw in
   * milliseconds, where a marker each takes seconds); hovering one shows its card. */
  var Dots = L.Layer.extend({
    options: {pane: "overlayPane", radius: 6, weight: 2.5, padding: 0.1, cell: 16, batch: 64},

    initialize: function (d, card, options) {
      L.setOptions(this, options);
      this._d = d;
      this._card = card;
    },

    onAdd: function (map) {
      this._canvas = L.DomUtil.create("canvas", "workbench-dots leaflet-zoom-hide");
      map.getPane(this.options.pane).appendChild(this._canvas);
      this._tip = L.tooltip({sticky: true, className: "workbench-tooltip"});
      map.on("moveend zoomend resize viewreset", this._schedule, this);
      // the container's own events: a canvas above (which takes them) skips some for speed
      L.DomEvent.on(map.getContainer(), "mousemove", this._hover, this);
      this._schedule();
    },

    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this._schedule, this);
      L.DomEvent.off(map.getContainer(), "mousemove", this._hover, this);
      L.Util.cancelAnimFrame(this._frame);
      map.closeTooltip(this._tip);
      L.DomUtil.remove(this._canvas);
    },

    getBounds: function () {
      var d = this._d, box = L.latLngBounds([]);
      for (var i = 0; i < d.lat.length; i++) box.extend([d.lat[i], d.lon[i]]);
      return box;
    },

    /* Draw on the next frame, once however many view changes came before it (a page's
     * first fitBounds alone fires zoomend and moveend). */
    _schedule: function () {
      if (!this._frame) this._frame = L.Util.requestAnimFrame(this._draw, this);
    },

    _draw: function () {
      this._frame = null;
      if (!this._map) return;
      var map = this._map, d = this._d, o = this.options, r = o.radius;
      var size = map.getSize(), pad = size.multiplyBy(o.padding).round();
      var origin = map.containerPointToLayerPoint(pad.multiplyBy(-1));
      var width = size.x + 2 * pad.x, height = size.y + 2 * pad.y;
      var ratio = window.devicePixelRatio || 1, canvas = this._canvas;
      L.DomUtil.setPosition(canvas, origin);
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      var ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      var x = new Float64Array(d.lat.length), y = new Float64Array(d.lat.length);
      var byKind = d.colours.map(function () { return []; });
      this._grid = {};
      for (var i = 0; i < d.lat.length; i++) {
        var p = map.latLngToLayerPoint([d.lat[i], d.lon[i]]).subtract(origin);
        if (p.x < -r || p.y < -r || p.x > width + r || p.y > height + r) continue;
        x[i] = p.x;
        y[i] = p.y;
        byKind[d.kind[i]].push(i);
        var key = Math.floor(p.x / o.cell) + "," + Math.floor(p.y / o.cell);
        (this._grid[key] = this._grid[key] || []).push(i);
      }
      ctx.lineWidth = o.weight;
      byKind.forEach(function (members, k) {
        ctx.strokeStyle = d.colours[k];
        // paths of a few hundred rings: one path of thousands fills in quadratic time
        for (var start = 0; start < members.length; start += o.batch) {
          ctx.beginPath();
          members.slice(start, start + o.batch).forEach(function (j) {
            ctx.moveTo(x[j] + r, y[j]);
            ctx.arc(x[j], y[j], r, 0, 2 * Math.PI);
          });
          ctx.globalAlpha = 0.9;
          ctx.fillStyle = "#ffffff";
          ctx.fill();
          ctx.globalAlpha = 1;
          ctx.stroke();
        }
      });
      this._x = x;
      this._y = y;
      this._origin = origin;
    },

    /* The dot under the mouse (within its radius), or -1. */
    _at: function (point) {
      var o = this.options, best = -1, bestDistance = o.radius + o.weight;
      var gx = Math.floor(point.x / o.cell), gy = Math.floor(point.y / o.cell);
      for (var dx = -1; dx <= 1; dx++) {
        for (var dy = -1; dy <= 1; dy++) {
          (this._grid[(gx + dx) + "," + (gy + dy)] || []).forEach(function (i) {
            var distance = Math.hypot(this._x[i] - point.x, this._y[i] - point.y);
            if (distance <= bestDistance) { best = i; bestDistance = distance; }
          }, this);
        }
      }
      return best;
    },

    _hover: function (e) {
      var map = this._map, point = map.mouseEventToLayerPoint(e);
      var i = this._x ? this._at(point.subtract(this._origin)) : -1;
      if (i < 0) {
        map.closeTooltip(this._tip);
        return;
      }
      this._tip.setContent(this._card({layer: "locations", index: i}));
      map.openTooltip(this._tip, map.layerPointToLatLng(point));
    }
  });
  kit.Dots = Dots;

  /* Warehouse / return / registered addresses as rings (class workbench-location), from a
   * column-wise payload: kinds and sellers are indexes into their tables. */
  function drawLocations(group, d) {
    kit.layers.locations = group;
    var titles = {warehouse: "Warehouse", "return": "Return address",
                  registered: "Registered address"};
    function card(info) {
      var i = info.index, kind = d.kinds[d.kind[i]], s = d.seller[i];
      var title = Object.prototype.hasOwnProperty.call(titles, kind) ?
        titles[kind] : "Address (" + kind + ")";
      return kit.card(title, [
        ["Address", d.address[i]], ["Seller", d.seller_names[s]], ["Seller id", d.seller_ids[s]]
      ]);
    }
    if (many(d.lat.length)) {
      group.addLayer(new Dots(d, card, {pane: "workbench-locations"}));
      return;
    }
    for (var i = 0; i < d.lat.length; i++) {
      var k = d.kind[i], info = {layer: "locations", index: i};
      add(group, L.circleMarker([d.lat[i], d.lon[i]], {
        pane: "workbench-locations",
        className: "workbench-location workbench-location-" + d.cls[k],
        radius: 6, color: d.colours[k], weight: 2.5, fillColor: "#ffffff", fillOpacity: 0.9
      }), info, card.bind(null, info), false);
    }
  }

  /* Candidate sites: radius circle, hull and centre dot (class workbench-site). Drawn
   * again with new records, only the sites that changed are redrawn: a filter that hides
   * half of three thousand sites removes those, the others stay as they are. */
  function drawSites(group, records) {
    var shared = many(3 * records.length);
    if (kit.layers.sites !== group || kit.sitesShared !== shared) {
      group.clearLayers();
      kit.siteParts = Object.create(null);
      kit.siteKeys = Object.create(null);
    }
    kit.layers.sites = group;
    kit.sitesShared = shared;
    var renderer = shared ? kit.canvas() : undefined;
    var byId = Object.create(null), keep = Object.create(null);
    function card(info) {
      var s = byId[info.id];
      return kit.card("Site " + s.id, [
        ["Rank", s.rank], ["Label", s.label],
        ["Score", s.score === null ? null : s.score.toFixed(1)],
        ["Shipments", s.shipments], ["Sellers", s.sellers],
        ["Networks", s.networks],
        ["Place", [s.place, s.province].filter(Boolean).join(", ")],
        ["Brands", s.brands.join(", ")],
        ["Seller names", kit.list(s.names, s.more)],
        ["Radius", Math.round(s.radius_m) + " m"]
      ]);
    }
    function remove(id) {
      (kit.siteParts[id] || []).forEach(function (part) { group.removeLayer(part); });
      delete kit.siteParts[id];
      delete kit.siteKeys[id];
    }
    shareTooltip(group, shared, card);
    records.forEach(function (s) {
      var key = JSON.stringify(s);
      byId[s.id] = s;
      keep[s.id] = true;
      if (kit.siteKeys[s.id] === key) return;
      remove(s.id);
      var base = {pane: "workbench-sites", color: s.colour, fillColor: s.colour,
                  weight: 2, dashArray: s.hub ? "6 4" : null, renderer: renderer};
      var cls = "workbench-site" + (s.hub ? " workbench-site-hub" : "");
      var parts = [];
      if (s.radius_m > 0) {
        parts.push(L.circle([s.lat, s.lon], L.extend({}, base, {
          radius: s.radius_m, fillOpacity: 0.08, className: cls + " workbench-site-radius"})));
      }
      s.hull.forEach(function (rings) {
        parts.push(L.polygon(rings, L.extend({}, base, {
          fillOpacity: 0.25, className: cls + " workbench-site-hull"})));
      });
      parts.push(L.circleMarker([s.lat, s.lon], L.extend({}, base, {
        pane: "workbench-site-centres", renderer: renderer, radius: 5, color: "#333333",
        weight: 1.5, fillOpacity: 0.95, className: cls + " workbench-site-centre"})));
      var info = {layer: "sites", id: s.id};
      parts.forEach(function (part) { add(group, part, info, card.bind(null, info), shared); });
      kit.siteParts[s.id] = parts;
      kit.siteKeys[s.id] = key;
    });
    Object.keys(kit.siteParts).forEach(function (id) { if (!keep[id]) remove(id); });
  }

  kit.canvasAbove = 2000;
  kit.canvas = function () {
    if (!kit._canvas) kit._canvas = L.canvas({pane: "workbench-points", tolerance: 2});
    return kit._canvas;
  };
  kit.layers = {};
  kit.siteParts = Object.create(null);
  kit.siteKeys = Object.create(null);
  kit.drawPoints = drawPoints;
  kit.drawLocations = drawLocations;
  kit.drawSites = drawSites;
  L.workbench = kit;
})();
