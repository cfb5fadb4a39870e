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

    /* Bind a tooltip whose content is built when it opens. */
    tooltip: function (layer, build) {
      layer.bindTooltip(function () { return build(); }, { sticky: true, className: "workbench-tooltip" });
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

  /* Ship-from markers (class workbench-point) from a column-wise payload, into group. */
  function drawPoints(group, d) {
    kit.layers.points = group;
    // many markers: one canvas instead of thousands of SVG elements (10x faster to redraw)
    var renderer = d.lat.length > kit.canvasAbove ? kit.pointCanvas() : undefined;
    function card(i) {
      var net = d.net[i], others = d.nnet[i] - 1;
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
    for (var i = 0; i < d.lat.length; i++) {
      var colour = d.net[i] < 0 ? d.unlinked : d.colours[d.net[i]];
      var marker = L.circleMarker([d.lat[i], d.lon[i]], {
        pane: "workbench-points", className: "workbench-point", renderer: renderer,
        radius: kit.radius(d.shipments[i]), color: colour, weight: 1,
        fillColor: colour, fillOpacity: 0.65
      });
      marker.workbench = {layer: "points", index: i, lat: d.lat[i], lon: d.lon[i]};
      kit.tooltip(marker, card.bind(null, i)).addTo(group);
    }
  }

  /* Warehouse / return / registered addresses as rings (class workbench-location). */
  function drawLocations(group, records) {
    kit.layers.locations = group;
    var titles = {warehouse: "Warehouse", "return": "Return address",
                  registered: "Registered address"};
    records.forEach(function (r, i) {
      var marker = L.circleMarker([r.lat, r.lon], {
        pane: "workbench-locations",
        className: "workbench-location workbench-location-" + r.cls,
        radius: 6, color: r.colour, weight: 2.5, fillColor: "#ffffff", fillOpacity: 0.9
      });
      marker.workbench = {layer: "locations", index: i};
      kit.tooltip(marker, function () {
        var title = Object.prototype.hasOwnProperty.call(titles, r.kind) ?
          titles[r.kind] : "Address (" + r.kind + ")";
        return kit.card(title, [
          ["Address", r.address], ["Seller", r.seller], ["Seller id", r.seller_id]
        ]);
      }).addTo(group);
    });
  }

  /* Candidate sites: radius circle, hull and centre dot (class workbench-site). */
  function drawSites(group, records) {
    kit.layers.sites = group;
    kit.siteParts = {};
    records.forEach(function (s) {
      var base = {pane: "workbench-sites", color: s.colour, fillColor: s.colour,
                  weight: 2, dashArray: s.hub ? "6 4" : null};
      var cls = "workbench-site" + (s.hub ? " workbench-site-hub" : "");
      function card() {
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
      parts.forEach(function (part) {
        part.workbench = {layer: "sites", id: s.id};
        kit.tooltip(part, card).addTo(group);
      });
      kit.siteParts[s.id] = parts;
    });
  }

  kit.canvasAbove = 2000;
  kit.pointCanvas = function () {
    if (!kit._canvas) kit._canvas = L.canvas({pane: "workbench-points", tolerance: 2});
    return kit._canvas;
  };
  kit.layers = {};
  kit.siteParts = {};
  kit.drawPoints = drawPoints;
  kit.drawLocations = drawLocations;
  kit.drawSites = drawSites;
  L.workbench = kit;
})();
