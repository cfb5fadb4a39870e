/* Counterfeit Workbench explorer bridge: inlined after map.js into the explorer's map page.
 *
 * The page runs in an iframe sandboxed without allow-same-origin: it cannot reach JupyterLab.
 * It reports clicks, drawn shapes and view changes to the widget that hosts it with
 * postMessage to window.parent, and takes commands (new layer data, zoom to a site) only
 * from window.parent. Layer data arrives as JSON and is drawn with the runtime in map.js,
 * which shows every string with textContent.
 */
(function () {
  "use strict";
  var kit = L.workbench, map = window.workbenchMap;

  function post(message) { window.parent.postMessage(message, "*"); }

  /* -- drawing a selection: one polygon or rectangle at a time -------------------------- */
  var drawn = new L.FeatureGroup().addTo(map);
  map.addControl(new L.Control.Draw({
    position: "topleft",
    draw: {
      polygon: {allowIntersection: false, showArea: false},
      rectangle: {showArea: false},
      polyline: false, circle: false, marker: false, circlemarker: false
    },
    edit: {featureGroup: drawn, edit: false, remove: true}
  }));

  function ring(layer) {
    var latlngs = layer.getLatLngs();
    while (Array.isArray(latlngs[0])) latlngs = latlngs[0];  // outer ring of the first part
    return latlngs.map(function (p) { return [p.lng, p.lat]; });
  }

  map.on(L.Draw.Event.CREATED, function (e) {
    drawn.clearLayers();
    drawn.addLayer(e.layer);
    post({type: "draw", shape: e.layerType, coordinates: ring(e.layer)});
  });
  map.on(L.Draw.Event.DELETED, function () {
    if (!drawn.getLayers().length) post({type: "draw-clear"});
  });

  /* -- clicks on sites and points (not while a shape is being drawn) ----------------- */
  var drawing = false;
  map.on("draw:drawstart", function () { drawing = true; });
  map.on("draw:drawstop", function () { drawing = false; });

  function clicked(e) {
    // e.workbench: a marker of a canvas layer; else the SVG element's own
    var info = e.workbench || (e.propagatedFrom || e.layer || {}).workbench;
    if (!info || drawing) return;
    if (info.layer === "sites") post({type: "site-click", site_id: info.id});
    if (info.layer === "points") post({type: "point-click", lat: info.lat, lon: info.lon});
  }
  ["sites", "points"].forEach(function (kind) {
    if (kit.layers[kind]) kit.layers[kind].on("click", clicked);
  });

  /* -- the view, debounced: the widget answers with finer points when zoomed in --------- */
  var timer = null;
  map.on("moveend", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var b = map.getBounds();
      post({type: "view", zoom: map.getZoom(),
            bounds: [[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]]});
    }, 250);
  });

  /* -- commands from the widget --------------------------------------------------------- */
  var commands = {
    points: function (m) {
      kit.layers.points.clearLayers();
      kit.drawPoints(kit.layers.points, m.payload, m.canvas === true);
      document.body.dataset.workbenchPoints = String(m.payload.lat.length);
    },
    locations: function (m) {
      if (!kit.layers.locations) return;
      kit.layers.locations.clearLayers();
      kit.drawLocations(kit.layers.locations, m.payload);
      document.body.dataset.workbenchLocations = String(m.payload.lat.length);
    },
    /* records: to draw, or (with ids) those the page lacks of the sites to draw; canvas:
     * on a canvas layer however few (a map redrawn week after week) */
    sites: function (m) {
      var records = m.records;
      if (Array.isArray(m.ids)) {
        records.forEach(function (s) { kit.siteRecords[s.id] = s; });
        records = m.ids.map(function (id) { return kit.siteRecords[id]; }).filter(Boolean);
      }
      kit.drawSites(kit.layers.sites, records, m.canvas === true);  // keeps the selection
      document.body.dataset.workbenchSites = String(records.length);
    },
    "zoom-site": function (m) {
      var box = kit.siteBox(m.site_id);
      if (box && box.isValid()) map.fitBounds(box.pad(0.6), {maxZoom: 17});
      kit.highlightSite(m.site_id);
      document.body.dataset.workbenchSelected = String(m.site_id);
    },
    events: function (m) {
      if (!kit.layers.events) return;
      kit.drawEvents(kit.layers.events, m.payload);
      document.body.dataset.workbenchEvents = String(m.payload.lat.length);
    },
    arrows: function (m) {
      if (!kit.layers.arrows) return;
      kit.drawArrows(kit.layers.arrows, m.payload);
      document.body.dataset.workbenchArrows = String(m.payload.from_lat.length);
    },
    "select-site": function (m) { kit.highlightSite(m.site_id); },
    "clear-drawing": function () { drawn.clearLayers(); }
  };

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;  // commands come from the host widget only
    var m = event.data;
    if (!m || typeof m.type !== "string" || !Object.prototype.hasOwnProperty.call(commands, m.type)) {
      return;
    }
    commands[m.type](m);
  });

  window.workbenchExplorerReady = true;
  post({type: "ready"});
})();
