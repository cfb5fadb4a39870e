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

  L.workbench = kit;
})();
