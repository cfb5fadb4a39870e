"""The offline folium map page: its data and index (``_data``, ``_index``), its Leaflet elements
(``_elements``, which never re-parse data as a template) and its vendored JS/CSS (``static``)."""

from workbench.maps._page import MapLayers, MapView, compose, site_map

__all__ = ["MapLayers", "MapView", "compose", "site_map"]
