"""The explorer: the investigator's widget screen over a case (map, filters, site table,
review panel), its data side (``_data``, ``_details``, ``_seen``: cross-references) and its
two widgets (``_widgets``)."""

from workbench.explorer._data import Selection
from workbench.explorer._screen import Explorer, explore

__all__ = ["Explorer", "Selection", "explore"]
