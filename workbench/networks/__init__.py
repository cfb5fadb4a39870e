"""Seller networks: accounts linked through shared, normalised identifiers.

Linking (``_link``) over normalised identifiers (``_identifiers``); graphs for Gephi and
drawings (``_graph``); where a network's accounts were seen before (``_flags``).
"""

from workbench.networks._flags import flag_networks
from workbench.networks._graph import draw_network, export_network, network_graph
from workbench.networks._link import Networks, describe_networks, explain_link, link_sellers

__all__ = [
    "Networks",
    "describe_networks",
    "draw_network",
    "explain_link",
    "export_network",
    "flag_networks",
    "link_sellers",
    "network_graph",
]
