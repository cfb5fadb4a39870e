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

  /* Many markers: a canvas layer of our own per layer, instead of a Leaflet layer each.
   * Ten thousand circle markers cost Leaflet seconds to create, project and keep (and it
   * redraws them all on every view change); a canvas layer draws them as a few paths per
   * colour in milliseconds and finds the marker under the mouse itself. A few: SVG
   * elements with their own tooltips (each can be found and opened by itself). */
  function many(n) { return n > kit.canvasAbove; }

  function add(group, layer, info, build) {
    layer.workbench = info;
    kit.tooltip(layer, build);
    group.addLayer(layer);
  }

  var canvasLayers = [];  // on the map now, for clicks: the highest pane answers first

  function paneOrder(layer) {
    var pane = layer._map && layer._map.getPane(layer.options.pane);
    return pane ? Number(pane.style.zIndex) || 0 : 0;
  }

  /* A click on the map (no SVG layer under it) goes to the topmost clickable canvas layer
   * with a marker there, as a "click" event of its group carrying the marker's info. */
  function onMapClick(e) {
    var layers = canvasLayers.filter(function (l) { return l.options.clickable && l._map; });
    layers.sort(function (a, b) { return paneOrder(b) - paneOrder(a); });
    for (var k = 0; k < layers.length; k++) {
      var layer = layers[k], i = layer._pick(e.layerPoint);
      if (i >= 0) {
        if (layer._group) layer._group.fire("click", {workbench: layer._info(i)});
        return;
      }
    }
  }

  /* Base of the canvas layers: a canvas over the view (and a margin), drawn again on the
   * next frame after the view changes, once however many changes came before it (a page's
   * first fitBounds alone fires zoomend and moveend); a card for the marker under the mouse.
   * Subclasses give _paint(ctx, project), _at(point) -> index or -1, and _info(index). */
  var CanvasLayer = L.Layer.extend({
    options: {pane: "overlayPane", padding: 0.1, kind: "dots", clickable: false},

    initialize: function (d, card, options) {
      L.setOptions(this, options);
      this._d = d;
      this._card = card;
    },

    onAdd: function (map) {
      this._canvas = L.DomUtil.create(
        "canvas", "workbench-canvas workbench-canvas-" + this.options.kind + " leaflet-zoom-hide");
      map.getPane(this.options.pane).appendChild(this._canvas);
      this._tip = L.tooltip({sticky: true, className: "workbench-tooltip"});
      map.on("moveend zoomend resize viewreset", this._schedule, this);
      // the container's own events: the canvas takes none (pointer-events: none)
      L.DomEvent.on(map.getContainer(), "mousemove", this._hover, this);
      L.DomEvent.on(map.getContainer(), "mouseleave", this._leave, this);
      if (!map._workbenchClicks) {
        map._workbenchClicks = true;
        map.on("click", onMapClick);
      }
      canvasLayers.push(this);
      this._schedule();
    },

    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this._schedule, this);
      L.DomEvent.off(map.getContainer(), "mousemove", this._hover, this);
      L.DomEvent.off(map.getContainer(), "mouseleave", this._leave, this);
      L.Util.cancelAnimFrame(this._frame);
      this._frame = null;
      this._drawn = false;
      map.closeTooltip(this._tip);
      L.DomUtil.remove(this._canvas);
      canvasLayers.splice(canvasLayers.indexOf(this), 1);
    },

    /* Draw again on the next frame (new data, a new selection). */
    redraw: function () {
      if (this._map) this._schedule();
      return this;
    },

    _schedule: function () {
      if (!this._frame) this._frame = L.Util.requestAnimFrame(this._draw, this);
    },

    _draw: function () {
      this._frame = null;
      if (!this._map) return;
      var map = this._map, size = map.getSize();
      var pad = size.multiplyBy(this.options.padding).round();
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
      this._origin = origin;
      this._width = width;
      this._height = height;
      this._paint(ctx, function (lat, lon) {
        return map.latLngToLayerPoint([lat, lon])._subtract(origin);
      });
      this._drawn = true;
    },

    /* Is a circle at (x, y) of radius r on the canvas? */
    _visible: function (x, y, r) {
      return !(x < -r || y < -r || x > this._width + r || y > this._height + r);
    },

    /* The marker at a layer point, or -1. */
    _pick: function (layerPoint) {
      return this._drawn ? this._at(layerPoint.subtract(this._origin)) : -1;
    },

    _hover: function (e) {
      var map = this._map;
      if (!map) return;
      var point = map.mouseEventToLayerPoint(e), i = this._pick(point);
      if (i < 0) {
        map.closeTooltip(this._tip);
        return;
      }
      this._tip.setContent(this._card(this._info(i)));
      map.openTooltip(this._tip, map.layerPointToLatLng(point));
    },

    _leave: function () {
      if (this._map) this._map.closeTooltip(this._tip);
    },

    getBounds: function () {
      var d = this._d, box = L.latLngBounds([]);
      for (var i = 0; i < d.lat.length; i++) box.extend([d.lat[i], d.lon[i]]);
      return box;
    }
  });

  /* Fill and stroke circles in paths of `batch` (one path of thousands fills in quadratic
   * time); `members` are indexes into x, y and radius r (an array, or one number). */
  function circles(ctx, members, x, y, r, batch, fillAlpha) {
    for (var start = 0; start < members.length; start += batch) {
      ctx.beginPath();
      var end = Math.min(members.length, start + batch);
      for (var k = start; k < end; k++) {
        var j = members[k], rj = typeof r === "number" ? r : r[j];
        ctx.moveTo(x[j] + rj, y[j]);
        ctx.arc(x[j], y[j], rj, 0, 2 * Math.PI);
      }
      ctx.globalAlpha = fillAlpha;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.stroke();
    }
  }

  /* The nearest of `members` whose circle (radius r, or r[i], plus slack) holds (px, py). */
  function nearest(members, x, y, r, slack, px, py) {
    var best = -1, bestDistance = Infinity;
    for (var k = 0; k < members.length; k++) {
      var i = members[k], reach = (typeof r === "number" ? r : r[i]) + slack;
      var distance = Math.hypot(x[i] - px, y[i] - py);
      if (distance <= reach && distance < bestDistance) {
        best = i;
        bestDistance = distance;
      }
    }
    return best;
  }

  /* Many rings (addresses, or grid cells of addresses sized by their count): white fill,
   * coloured by kind. */
  var Dots = CanvasLayer.extend({
    options: {radius: 6, weight: 2.5, batch: 64, kind: "locations"},

    _paint: function (ctx, project) {
      var d = this._d, o = this.options, n = d.lat.length;
      var r = d.count ? d.count.map(kit.radius) : o.radius;
      var x = new Float64Array(n), y = new Float64Array(n), shown = [];
      var byKind = d.colours.map(function () { return []; });
      for (var i = 0; i < n; i++) {
        var p = project(d.lat[i], d.lon[i]);
        if (!this._visible(p.x, p.y, typeof r === "number" ? r : r[i])) continue;
        x[i] = p.x;
        y[i] = p.y;
        shown.push(i);
        byKind[d.kind[i]].push(i);
      }
      ctx.lineWidth = o.weight;
      ctx.fillStyle = "#ffffff";
      byKind.forEach(function (members, k) {
        ctx.strokeStyle = d.colours[k];
        circles(ctx, members, x, y, r, o.batch, 0.9);
      });
      this._x = x;
      this._y = y;
      this._r = r;
      this._shown = shown;
    },

    _at: function (p) {
      return nearest(this._shown, this._x, this._y, this._r, this.options.weight, p.x, p.y);
    },

    _info: function (i) { return {layer: "locations", index: i}; }
  });
  kit.Dots = Dots;

  /* Many ship-from markers: sized by shipments, coloured by network, clickable. */
  var PointDots = CanvasLayer.extend({
    options: {batch: 64, kind: "points", clickable: true},

    _paint: function (ctx, project) {
      var d = this._d, n = d.lat.length, batch = this.options.batch;
      var x = new Float64Array(n), y = new Float64Array(n), r = new Float64Array(n);
      var shown = [], byColour = Object.create(null);
      for (var i = 0; i < n; i++) {
        var p = project(d.lat[i], d.lon[i]), radius = kit.radius(d.shipments[i]);
        if (!this._visible(p.x, p.y, radius)) continue;
        x[i] = p.x;
        y[i] = p.y;
        r[i] = radius;
        shown.push(i);
        var colour = d.net[i] < 0 ? d.unlinked : d.colours[d.net[i]];
        (byColour[colour] = byColour[colour] || []).push(i);
      }
      ctx.lineWidth = 1;
      Object.keys(byColour).forEach(function (colour) {
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        circles(ctx, byColour[colour], x, y, r, batch, 0.65);
      });
      this._x = x;
      this._y = y;
      this._r = r;
      this._shown = shown;
    },

    _at: function (p) { return nearest(this._shown, this._x, this._y, this._r, 1, p.x, p.y); },

    _info: function (i) {
      var d = this._d;
      return {layer: "points", index: i, lat: d.lat[i], lon: d.lon[i]};
    },

    count: function () { return this._d.lat.length; }
  });
  kit.PointDots = PointDots;

  /* Ship-from markers (class workbench-point) from a column-wise payload, into group;
   * `canvas`: on a canvas layer however few (a map redrawn week after week). */
  function drawPoints(group, d, canvas) {
    kit.layers.points = group;
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
    if (canvas || many(d.lat.length)) {
      var layer = new PointDots(d, card, {pane: "workbench-points"});
      layer._group = group;
      group.addLayer(layer);
      return;
    }
    for (var i = 0; i < d.lat.length; i++) {
      var colour = d.net[i] < 0 ? d.unlinked : d.colours[d.net[i]];
      var info = {layer: "points", index: i, lat: d.lat[i], lon: d.lon[i]};
      add(group, L.circleMarker([d.lat[i], d.lon[i]], {
        pane: "workbench-points", className: "workbench-point",
        radius: kit.radius(d.shipments[i]), color: colour, weight: 1,
        fillColor: colour, fillOpacity: 0.65
      }), info, card.bind(null, info));
    }
  }

  /* Warehouse / return / registered addresses as rings (class workbench-location), from a
   * column-wise payload: kinds and sellers are indexes into their tables. A payload with a
   * `grid` holds cells of addresses instead (count, kind_counts, sellers, who, more). */
  function drawLocations(group, d) {
    kit.layers.locations = group;
    var titles = {warehouse: "Warehouse", "return": "Return address",
                  registered: "Registered address"};
    function cellCard(i) {
      var kinds = [];
      d.kind_counts[i].forEach(function (n, k) { if (n > 0) kinds.push(n + " " + d.kinds[k]); });
      return kit.card(
        "Grid cell: " + d.count[i] + (d.count[i] === 1 ? " address" : " addresses") +
          " of " + plural(d.sellers[i], "seller"),
        [
          ["Kinds", kinds.join(", ")],
          ["Sellers", kit.list(d.who[i].map(function (k) { return d.seller_names[k]; }), d.more[i])],
          ["Mean position", d.lat[i].toFixed(5) + ", " + d.lon[i].toFixed(5)]
        ]);
    }
    function card(info) {
      if (d.grid) return cellCard(info.index);
      var i = info.index, kind = d.kinds[d.kind[i]], s = d.seller[i];
      var title = Object.prototype.hasOwnProperty.call(titles, kind) ?
        titles[kind] : "Address (" + kind + ")";
      return kit.card(title, [
        ["Address", d.address[i]], ["Seller", d.seller_names[s]], ["Seller id", d.seller_ids[s]]
      ]);
    }
    if (d.grid || many(d.lat.length)) {
      group.addLayer(new Dots(d, card, {pane: "workbench-locations"}));
      return;
    }
    for (var i = 0; i < d.lat.length; i++) {
      var k = d.kind[i], info = {layer: "locations", index: i};
      add(group, L.circleMarker([d.lat[i], d.lon[i]], {
        pane: "workbench-locations",
        className: "workbench-location workbench-location-" + d.cls[k],
        radius: 6, color: d.colours[k], weight: 2.5, fillColor: "#ffffff", fillOpacity: 0.9
      }), info, card.bind(null, info));
    }
  }

  /* -- sites on canvas: radius circles and hulls on the sites pane, centres above the points */
  var SITE_CENTRE_PX = 5;
  var EARTH_CIRCUMFERENCE_M = 40075016.686;

  /* Is (px, py) inside the ring of [x, y] points (even-odd rule)? */
  function inRing(ring, px, py) {
    var inside = false;
    for (var a = 0, b = ring.length - 1; a < ring.length; b = a++) {
      var ya = ring[a][1], yb = ring[b][1];
      if ((ya > py) !== (yb > py) &&
          px < (ring[b][0] - ring[a][0]) * (py - ya) / (yb - ya) + ring[a][0]) inside = !inside;
    }
    return inside;
  }

  /* Radius circles and hulls of many sites. Its records, their index by id and the selected
   * site live in `state`, shared with the centres' layer. */
  var SiteAreas = CanvasLayer.extend({
    options: {kind: "sites", clickable: true},

    _paint: function (ctx, project) {
      var state = this._d, records = state.records, n = records.length, map = this._map;
      var scale = map.options.crs.scale(map.getZoom());
      var x = new Float64Array(n), y = new Float64Array(n), r = new Float64Array(n);
      var hulls = new Array(n), shown = [], groups = Object.create(null), selected = -1;
      for (var k = 0; k < n; k++) {
        var s = records[k], p = project(s.lat, s.lon);
        var metresPerPixel = EARTH_CIRCUMFERENCE_M * Math.cos(s.lat * Math.PI / 180) / scale;
        var radius = s.radius_m > 0 ? s.radius_m / metresPerPixel : 0;
        var rings = s.hull.map(function (polygon) {
          return polygon.map(function (ring) {
            return ring.map(function (c) { var q = project(c[0], c[1]); return [q.x, q.y]; });
          });
        });
        var reach = radius + 2;
        rings.forEach(function (polygon) {
          polygon[0].forEach(function (q) {
            reach = Math.max(reach, Math.abs(q[0] - p.x) + 2, Math.abs(q[1] - p.y) + 2);
          });
        });
        if (!this._visible(p.x, p.y, reach)) continue;
        x[k] = p.x;
        y[k] = p.y;
        r[k] = radius;
        hulls[k] = rings;
        shown.push(k);
        if (s.id === state.selected) selected = k;
        var key = s.colour + (s.hub ? " hub" : "");
        (groups[key] = groups[key] || []).push(k);
      }
      Object.keys(groups).forEach(function (key) {
        var members = groups[key], s0 = records[members[0]];
        ctx.strokeStyle = ctx.fillStyle = s0.colour;
        ctx.lineWidth = 2;
        ctx.setLineDash(s0.hub ? [6, 4] : []);
        paintAreas(ctx, members, x, y, r, hulls, 0.08, 0.25);
      });
      if (selected >= 0) {  // drawn again on top, with a thick outline
        ctx.strokeStyle = ctx.fillStyle = records[selected].colour;
        ctx.lineWidth = 4;
        ctx.setLineDash(records[selected].hub ? [6, 4] : []);
        paintAreas(ctx, [selected], x, y, r, hulls, 0, 0);
      }
      this._x = x;
      this._y = y;
      this._r = r;
      this._hulls = hulls;
      this._shown = shown;
    },

    /* The site whose radius circle or hull holds p (the smallest circle first), or -1. */
    _at: function (p) {
      var best = -1, bestRadius = Infinity;
      for (var j = 0; j < this._shown.length; j++) {
        var k = this._shown[j], radius = this._r[k];
        var hit = Math.hypot(this._x[k] - p.x, this._y[k] - p.y) <= radius + 1 ||
          this._hulls[k].some(function (polygon) { return inRing(polygon[0], p.x, p.y); });
        if (hit && radius < bestRadius) {
          best = k;
          bestRadius = radius;
        }
      }
      return best;
    },

    /* Nothing where a centre is (the centres' layer shows that site's card). */
    _pick: function (layerPoint) {
      var centres = this._d.centres;
      if (centres && centres._pick(layerPoint) >= 0) return -1;
      return CanvasLayer.prototype._pick.call(this, layerPoint);
    },

    _info: function (k) { return {layer: "sites", id: this._d.records[k].id}; },

    getBounds: function () { return sitesBounds(this._d.records); }
  });

  function paintAreas(ctx, members, x, y, r, hulls, circleAlpha, hullAlpha) {
    ctx.beginPath();
    members.forEach(function (k) {
      if (r[k] > 0) {
        ctx.moveTo(x[k] + r[k], y[k]);
        ctx.arc(x[k], y[k], r[k], 0, 2 * Math.PI);
      }
    });
    ctx.globalAlpha = circleAlpha;
    if (circleAlpha > 0) ctx.fill();
    ctx.globalAlpha = 1;
    ctx.stroke();
    ctx.beginPath();
    members.forEach(function (k) {
      hulls[k].forEach(function (polygon) {
        polygon.forEach(function (ring) {
          ring.forEach(function (q, m) { if (m) ctx.lineTo(q[0], q[1]); else ctx.moveTo(q[0], q[1]); });
          ctx.closePath();
        });
      });
    });
    ctx.globalAlpha = hullAlpha;
    if (hullAlpha > 0) ctx.fill("evenodd");
    ctx.globalAlpha = 1;
    ctx.stroke();
  }

  /* The centre dots of many sites, above the ship-from points. */
  var SiteCentres = CanvasLayer.extend({
    options: {kind: "site-centres", clickable: true, batch: 64},

    _paint: function (ctx, project) {
      var state = this._d, records = state.records, n = records.length;
      var x = new Float64Array(n), y = new Float64Array(n), shown = [], selected = -1;
      var byColour = Object.create(null);
      for (var k = 0; k < n; k++) {
        var s = records[k], p = project(s.lat, s.lon);
        if (!this._visible(p.x, p.y, SITE_CENTRE_PX + 2)) continue;
        x[k] = p.x;
        y[k] = p.y;
        shown.push(k);
        if (s.id === state.selected) selected = k;
        (byColour[s.colour] = byColour[s.colour] || []).push(k);
      }
      ctx.strokeStyle = "#333333";
      Object.keys(byColour).forEach(function (colour) {
        ctx.fillStyle = colour;
        ctx.lineWidth = 1.5;
        circles(ctx, byColour[colour], x, y, SITE_CENTRE_PX, this.options.batch, 0.95);
      }, this);
      if (selected >= 0) {
        ctx.fillStyle = records[selected].colour;
        ctx.lineWidth = 4;
        circles(ctx, [selected], x, y, SITE_CENTRE_PX, 1, 0.95);
      }
      this._x = x;
      this._y = y;
      this._shown = shown;
    },

    _at: function (p) {
      return nearest(this._shown, this._x, this._y, SITE_CENTRE_PX, 1.5, p.x, p.y);
    },

    _info: function (k) { return {layer: "sites", id: this._d.records[k].id}; },

    getBounds: function () { return sitesBounds(this._d.records); }
  });

  /* Around a site's radius circle and hull. */
  function siteBounds(s) {
    var box = L.latLng(s.lat, s.lon).toBounds(2 * Math.max(s.radius_m, 1));
    s.hull.forEach(function (polygon) { box.extend(polygon[0]); });
    return box;
  }

  function sitesBounds(records) {
    var box = L.latLngBounds([]);
    records.forEach(function (s) { box.extend(siteBounds(s)); });
    return box;
  }

  /* Candidate sites: radius circle, hull and centre dot (class workbench-site). Few: SVG
   * elements, and drawn again with new records only the sites that changed are redrawn.
   * Many (or `canvas`): two canvas layers, drawn again whole (it takes milliseconds). */
  function drawSites(group, records, canvas) {
    var shared = canvas || many(3 * records.length);
    records.forEach(function (s) { kit.siteRecords[s.id] = s; });  // for ids sent later
    if (kit.layers.sites !== group || kit.sitesShared !== shared) {
      group.clearLayers();
      kit.siteParts = Object.create(null);
      kit.siteKeys = Object.create(null);
      kit.siteCanvas = null;
    }
    kit.layers.sites = group;
    kit.sitesShared = shared;
    var byId = Object.create(null), keep = Object.create(null);
    records.forEach(function (s) { byId[s.id] = s; });
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
    if (shared) {
      if (!kit.siteCanvas) {
        var state = {records: [], byId: byId, selected: kit.selectedSite};
        state.centres = new SiteCentres(state, card, {pane: "workbench-site-centres"});
        kit.siteCanvas = {state: state, layers: [
          new SiteAreas(state, card, {pane: "workbench-sites"}), state.centres
        ]};
        kit.siteCanvas.layers.forEach(function (layer) {
          layer._group = group;
          group.addLayer(layer);
        });
      }
      kit.siteCanvas.state.records = records;
      kit.siteCanvas.state.byId = byId;
      kit.siteCanvas.layers.forEach(function (layer) { layer._card = card; layer.redraw(); });
      return;
    }
    function remove(id) {
      (kit.siteParts[id] || []).forEach(function (part) { group.removeLayer(part); });
      delete kit.siteParts[id];
      delete kit.siteKeys[id];
    }
    records.forEach(function (s) {
      var key = JSON.stringify(s);
      keep[s.id] = true;
      if (kit.siteKeys[s.id] === key) return;
      remove(s.id);
      var base = {pane: "workbench-sites", color: s.colour, fillColor: s.colour,
                  weight: 2, dashArray: s.hub ? "6 4" : null};
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
        pane: "workbench-site-centres", radius: 5, color: "#333333",
        weight: 1.5, fillOpacity: 0.95, className: cls + " workbench-site-centre"})));
      var info = {layer: "sites", id: s.id};
      parts.forEach(function (part) { add(group, part, info, card.bind(null, info)); });
      kit.siteParts[s.id] = parts;
      kit.siteKeys[s.id] = key;
    });
    Object.keys(kit.siteParts).forEach(function (id) { if (!keep[id]) remove(id); });
    if (kit.selectedSite) highlightSite(kit.selectedSite);
  }

  /* Thicker outlines for the selected site; the one selected before gets its own back.
   * On SVG only these two are touched (a run has thousands); on canvas the layers redraw. */
  function highlightSite(siteId) {
    var before = kit.selectedSite;
    kit.selectedSite = siteId;
    if (kit.siteCanvas) {
      kit.siteCanvas.state.selected = siteId;
      kit.siteCanvas.layers.forEach(function (layer) { layer.redraw(); });
      return;
    }
    [before, siteId].forEach(function (id) {
      var on = id === siteId;
      (kit.siteParts[id] || []).forEach(function (part) {
        part.setStyle({weight: on ? 4 : (part instanceof L.CircleMarker ? 1.5 : 2)});
        var node = part.getElement && part.getElement();
        if (node) node.classList.toggle("workbench-site-selected", on);
        if (on && part.bringToFront) part.bringToFront();
      });
    });
  }

  /* The bounds of a site drawn now (circle and hull), or null. */
  function siteBox(siteId) {
    if (kit.siteCanvas) {
      var s = kit.siteCanvas.state.byId[siteId];
      return s ? siteBounds(s) : null;
    }
    var parts = kit.siteParts[siteId];
    if (!parts) return null;
    var box = L.latLngBounds([]);
    parts.forEach(function (part) { box.extend(part.getBounds ? part.getBounds() : part.getLatLng()); });
    return box;
  }

  var COLOUR = /^#[0-9a-fA-F]{6}$/;

  function colourOr(value, fallback) { return COLOUR.test(value) ? value : fallback; }

  /* A marker drawn by an element of its own (a divIcon), centred on its place. */
  function shapeMarker(latlng, pane, className, shape, size) {
    return L.marker(latlng, {
      pane: pane, keyboard: false,
      icon: L.divIcon({html: shape, className: className, iconSize: [size, size],
                       iconAnchor: [size / 2, size / 2]})
    });
  }

  /* Dated events (raids, takedowns...): a diamond each, coloured by kind, above every other
   * layer; a click opens its card (kind, date, site, note), all text. Few by design (the
   * kernel sends at most a bound), so each is a marker of its own. */
  function drawEvents(group, d) {
    kit.layers.events = group;
    group.clearLayers();
    function card(i) {
      return kit.card(d.kinds[d.kind[i]] + " on " + d.date[i], [
        ["Site", d.site[i]], ["Note", d.note[i]], ["Event", d.id[i]]
      ]);
    }
    for (var i = 0; i < d.lat.length; i++) {
      var shape = el("div", "workbench-event-shape");
      shape.style.backgroundColor = colourOr(d.colours[d.kind[i]], "#333333");
      var marker = shapeMarker([d.lat[i], d.lon[i]], "workbench-events", "workbench-event", shape, 16);
      marker.workbench = {layer: "events", index: i};
      marker.bindPopup(card.bind(null, i), {className: "workbench-popup", maxWidth: 320});
      kit.tooltip(marker, card.bind(null, i));
      group.addLayer(marker);
    }
    kit.drawn.events = d.lat.length;
  }

  /* Relocations: an arrow from the old site to the new, a line and a head (a rotated
   * triangle at the new site; Web Mercator keeps angles, so its direction holds at every
   * zoom). The card on hover says which sites, when and why. */
  function drawArrows(group, d) {
    kit.layers.arrows = group;
    group.clearLayers();
    var colour = colourOr(d.colour, "#000000"), crs = L.CRS.EPSG3857;
    function card(i) {
      return kit.card("Moved: site " + d.from[i] + " \u2192 site " + d.to[i], [
        ["Around", d.around[i]], ["Why", d.label[i]]
      ]);
    }
    for (var i = 0; i < d.from_lat.length; i++) {
      var a = L.latLng(d.from_lat[i], d.from_lon[i]), b = L.latLng(d.to_lat[i], d.to_lon[i]);
      var pa = crs.latLngToPoint(a, 0), pb = crs.latLngToPoint(b, 0);
      var angle = Math.atan2(pb.y - pa.y, pb.x - pa.x) * 180 / Math.PI;
      var head = el("div", "workbench-arrow-head-shape");
      head.style.borderLeftColor = colour;
      // the triangle's tip (its right edge) onto the new site
      head.style.transform = "rotate(" + angle + "deg) translateX(-7px)";
      var info = {layer: "arrows", index: i}, build = card.bind(null, i);
      add(group, L.polyline([a, b], {
        pane: "workbench-arrows", className: "workbench-arrow", color: colour,
        weight: 2.5, opacity: 0.9, dashArray: "8 5"
      }), info, build);
      add(group, shapeMarker(b, "workbench-arrows", "workbench-arrow-head", head, 18), info, build);
    }
    kit.drawn.arrows = d.from_lat.length;
  }

  /* How many markers the layer of this kind ("points", "locations", "sites", "events",
   * "arrows") draws now: its SVG elements, or what its canvas layers hold. */
  kit.count = function (kind) {
    var group = kit.layers[kind], n = 0;
    if (!group) return 0;
    if (kind === "events" || kind === "arrows") return kit.drawn[kind] || 0;
    if (kind === "sites") {
      return kit.siteCanvas ? kit.siteCanvas.state.records.length : Object.keys(kit.siteParts).length;
    }
    group.eachLayer(function (layer) { n += layer instanceof CanvasLayer ? layer._d.lat.length : 1; });
    return n;
  };

  kit.canvasAbove = 2000;
  kit.layers = {};
  kit.siteParts = Object.create(null);
  kit.siteKeys = Object.create(null);
  kit.siteCanvas = null;
  kit.siteRecords = Object.create(null);  // every site record received, by id
  kit.selectedSite = null;
  kit.drawPoints = drawPoints;
  kit.drawLocations = drawLocations;
  kit.drawSites = drawSites;
  kit.drawEvents = drawEvents;
  kit.drawArrows = drawArrows;
  kit.drawn = {};
  kit.highlightSite = highlightSite;
  kit.siteBox = siteBox;
  L.workbench = kit;
})();
