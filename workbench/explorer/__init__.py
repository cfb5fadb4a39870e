"""The explorer: the investigator's widget screen over a case, a file or a team case's
(map, filters, site table, review panel), its data side (``_data``, ``_details``, ``_seen``:
cross-references; ``_source``: what differs between the two kinds of case) and its two
widgets (``_widgets``)."""

from workbench.explorer._data import Selection
from workbench.explorer._screen import Explorer, explore

__all__ = ["Explorer", "Selection", "explore"]
