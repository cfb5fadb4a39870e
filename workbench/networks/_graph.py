"""Seller networks as graphs: export to Gephi or yEd, and a small picture for the notebook.

A network from :func:`workbench.networks._link.link_sellers` becomes a bipartite graph: one node
per seller account (``seller:<seller_id>``), one per shared identifier
(``identifier:<kind>:<value_norm>``), and an edge wherever an account uses an identifier.
networkx and matplotlib are imported only when a function needs them.

>>> graph = network_graph(nets, "N0001", sellers=sellers)     # doctest: +SKIP
>>> export_network(nets, "networks.gexf", sellers=sellers)   # doctest: +SKIP
>>> draw_network(nets, "N0001", sellers=sellers)             # doctest: +SKIP
"""

from __future__ import annotations

import functools
import io
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.errors import (
    InputError,
    MissingDependencyError,
    NotFoundError,
    require_columns,
)

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from workbench.networks._link import Networks

__all__ = [
    "EXPORT_FORMATS",
    "all_networks_graph",
    "draw_network",
    "export_network",
    "network_graph",
]

EXPORT_FORMATS = (".gexf", ".graphml")
LABEL_CHARS = 24
MASKED_KINDS = frozenset({"phone", "bank_card", "id_document", "payment_account"})
# characters XML 1.0 forbids (C0 controls but tab, newline, carriage return; lone surrogates;
# U+FFFE and U+FFFF): the writers would emit them and every XML reader would refuse the file
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")
_KIND_COLOURS = {
    "phone": "#1f77b4",
    "email": "#ff7f0e",
    "bank_card": "#2ca02c",
    "id_document": "#d62728",
    "device": "#9467bd",
    "payment_account": "#8c564b",
    "address": "#e377c2",
}
_SPARE_COLOURS = ("#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a")
_SELLER_COLOUR = "#404040"
_CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei")


def _networkx() -> Any:
    try:
        import networkx
    except ImportError as exc:  # pragma: no cover - networkx is installed with the workbench
        raise MissingDependencyError(
            "network graphs need networkx; install it with: pip install networkx"
        ) from exc
    return networkx


def _text(value: Any) -> str:
    """A cell as plain text: '' for None/NaN/NA."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value)


def _seller_labels(sellers: pd.DataFrame | None) -> dict[str, str]:
    if sellers is None:
        return {}
    require_columns(sellers, "sellers", ("seller_id", "name"))
    labels: dict[str, str] = {}
    for seller_id, name in zip(sellers["seller_id"], sellers["name"], strict=True):
        key, text = _text(seller_id), _text(name).strip()
        if text and key not in labels:
            labels[key] = text
    return labels


def _add_links(graph: nx.Graph, links: pd.DataFrame, labels: dict[str, str]) -> None:
    """Seller and identifier nodes, and one edge per links row (first raw spelling wins)."""
    columns = ["network_id", "seller_id", "kind", "value", "value_norm"]
    for network_id, seller_id, kind, value, value_norm in links[columns].itertuples(
        index=False, name=None
    ):
        net, sid, kind, raw, norm = map(_text, (network_id, seller_id, kind, value, value_norm))
        seller, ident = f"seller:{sid}", f"identifier:{kind}:{norm}"
        if seller not in graph:
            graph.add_node(
                seller, type="seller", bipartite=0, network_id=net, seller_id=sid,
                label=labels.get(sid, sid),
            )  # fmt: skip
        if ident not in graph:
            graph.add_node(
                ident, type="identifier", bipartite=1, network_id=net, kind=kind, value=raw,
                value_norm=norm, label=f"{kind} {norm}",
            )  # fmt: skip
        graph.add_edge(seller, ident, network_id=net, kind=kind, value=raw)


def _known_ids(networks: Networks) -> list[str]:
    return [_text(n) for n in networks.summary["network_id"]]


def network_graph(
    networks: Networks, network_id: str, *, sellers: pd.DataFrame | None = None
) -> nx.Graph:
    """The bipartite seller-identifier graph of one network.

    Parameters
    ----------
    networks : result of :func:`workbench.networks._link.link_sellers`
    network_id : e.g. ``"N0001"``, as in ``networks.summary``
    sellers : optional frame with ``seller_id`` and ``name``; names become seller labels

    Seller nodes carry type, bipartite (0), network_id, seller_id and label (the shop name,
    else the id); identifier nodes carry type, bipartite (1), network_id, kind, value (one
    raw spelling), value_norm and label; edges carry network_id, kind and the account's raw
    spelling.

    >>> g = network_graph(nets, "N0001")                      # doctest: +SKIP
    >>> sorted(g.nodes)[:2]                                   # doctest: +SKIP
    ['identifier:bank_card:6222021234567890', 'identifier:phone:+8613800138000']
    """
    known = _known_ids(networks)
    if network_id not in known:
        shown = ", ".join(known[:5]) + (", …" if len(known) > 5 else "")
        hint = f"known: {shown} ({len(known)} in all)" if known else "there are no networks"
        raise NotFoundError(
            f"network_id={network_id!r} is not a network; {hint}. "
            "Pick one from networks.summary['network_id']."
        )
    graph = _networkx().Graph(network_id=network_id)
    links = networks.links
    _add_links(graph, links[links["network_id"] == network_id], _seller_labels(sellers))
    return graph


def all_networks_graph(networks: Networks, *, sellers: pd.DataFrame | None = None) -> nx.Graph:
    """Every network in one graph; each node and edge says its ``network_id``.

    >>> g = all_networks_graph(nets)                          # doctest: +SKIP
    >>> g.nodes["seller:S4"]["network_id"]                    # doctest: +SKIP
    'N0002'
    """
    graph = _networkx().Graph()
    links = networks.links
    _add_links(graph, links[links["network_id"].notna()], _seller_labels(sellers))
    return graph


def _xml_text(text: str) -> str:
    """Text XML 1.0 can carry: CR and CRLF become LF, forbidden characters are dropped."""
    return _XML_FORBIDDEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _xml_value(value: object) -> str | int:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    return _xml_text(_text(value))


def _xml_safe(graph: nx.Graph) -> nx.Graph:
    """A copy whose ids and attributes are XML-safe strings or ints; clashing ids get ' (2)'."""
    ids: dict[Any, str] = {}
    used: set[str] = set()
    for node in graph.nodes:
        base = new = _xml_text(str(node))
        n = 2
        while new in used:
            new, n = f"{base} ({n})", n + 1
        ids[node] = new
        used.add(new)
    clean = type(graph)(**{k: _xml_value(v) for k, v in graph.graph.items()})
    for node, data in graph.nodes(data=True):
        clean.add_node(ids[node], **{k: _xml_value(v) for k, v in data.items()})
    for u, v, data in graph.edges(data=True):
        clean.add_edge(ids[u], ids[v], **{k: _xml_value(x) for k, x in data.items()})
    return clean


def export_network(
    networks: Networks,
    path: str | Path,
    *,
    network_id: str | None = None,
    sellers: pd.DataFrame | None = None,
) -> Path:
    """Write one network, or all of them, as GEXF (Gephi) or GraphML (yEd, Cytoscape).

    Parameters
    ----------
    networks : result of :func:`workbench.networks._link.link_sellers`
    path : file ending in ``.gexf`` or ``.graphml``; the suffix picks the format
    network_id : one network, or None (the default) for every network
    sellers : optional frame with ``seller_id`` and ``name`` for the seller labels

    Every attribute is written as a string or an int (missing values as ''). XML 1.0 cannot
    carry most control characters, so they are removed from ids and text (U+0000-U+0008,
    U+000B, U+000C, U+000E-U+001F, lone surrogates, U+FFFE, U+FFFF) and carriage returns
    become line feeds; markup such as ``<img ...>`` or ``]]>`` is escaped by the writer and
    reads back unchanged. Returns the path written.

    >>> export_network(nets, "out/networks.graphml")          # doctest: +SKIP
    PosixPath('out/networks.graphml')
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise InputError(
            f"path={str(path)!r}: expected a file ending in {' or '.join(EXPORT_FORMATS)}, "
            f"got suffix {suffix or '(none)'!r}; use .gexf for Gephi, .graphml for yEd"
        )
    if network_id is None:
        graph = all_networks_graph(networks, sellers=sellers)
    else:
        graph = network_graph(networks, network_id, sellers=sellers)
    nx = _networkx()
    writer = nx.write_gexf if suffix == ".gexf" else nx.write_graphml
    writer(_xml_safe(graph), path)
    return path


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    """One line of at most ``limit`` characters: characters XML drops are dropped here too,
    other control characters (tab, newline) become spaces."""
    line = _CONTROLS.sub(" ", _xml_text(text)).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _node_label(data: dict[str, Any]) -> str:
    if data["type"] == "seller":
        return _short(data["label"])
    if data["kind"] in MASKED_KINDS:  # the full number is in the tables, not on the picture
        return "…" + _short(data["value_norm"])[-4:]
    return _short(data["value_norm"])


def _kind_colours(kinds: Iterable[str]) -> dict[str, str]:
    """Fixed colours for the usual kinds; other kinds take spare colours in name order."""
    spare = itertools.cycle(_SPARE_COLOURS)
    return {k: _KIND_COLOURS.get(k) or next(spare) for k in sorted(set(kinds))}


def _xy(points: list[Any]) -> tuple[list[float], list[float]]:
    return [float(p[0]) for p in points], [float(p[1]) for p in points]


def _font_family() -> list[str]:
    """Sans-serif, falling back to an installed CJK font for Chinese shop names."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["sans-serif", *[f for f in _CJK_FONTS if f in installed][:1]]


@functools.cache
def _figure_class() -> type[Figure]:
    from matplotlib.figure import Figure

    class NetworkFigure(Figure):
        """A Figure that shows itself as a PNG in Jupyter even without pyplot."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()

    return NetworkFigure


def _target(ax: Axes | None, n_nodes: int) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a new figure on the Agg canvas (no pyplot)."""
    if ax is not None:
        root = ax.get_figure(root=True)
        if root is None:
            raise InputError("ax is not attached to a figure; pass an Axes from fig.add_subplot()")
        return root, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    scale = min(2.5, max(1.0, (n_nodes / 20) ** 0.5))  # bigger networks get more room
    fig = _figure_class()(figsize=(7 * scale, 5 * scale), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _add_legend(ax: Axes, colours: dict[str, str], family: list[str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="s", color=_SELLER_COLOUR, label="seller account")]
    handles += [
        Line2D([], [], ls="", marker="o", color=c, label=_short(k)) for k, c in colours.items()
    ]
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
        text.set_fontfamily(family)


def draw_network(
    networks: Networks,
    network_id: str,
    *,
    sellers: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A small picture of one network: accounts as grey squares, identifiers coloured by kind.

    Labels are shortened to 24 characters and phone, card, document and payment-account
    numbers are masked to their last four characters (``…8000``); the full values are in
    ``networks.links``. All text is drawn literally (a ``$`` is not mathtext). The layout is
    seeded, so the same network gives the same picture. A new figure uses the Agg canvas
    and no pyplot state; pass ``ax`` to draw into your own figure instead.

    >>> fig = draw_network(nets, "N0001", sellers=sellers)    # doctest: +SKIP
    >>> fig.savefig("N0001.png")                              # doctest: +SKIP
    """
    graph = network_graph(networks, network_id, sellers=sellers)
    try:
        from matplotlib.collections import LineCollection
    except ImportError as exc:  # pragma: no cover - matplotlib is installed with the workbench
        raise MissingDependencyError(
            "draw_network needs matplotlib; install it with: pip install matplotlib"
        ) from exc
    fig, ax = _target(ax, graph.number_of_nodes())
    pos = _networkx().spring_layout(graph, seed=7)
    nodes = dict(graph.nodes(data=True))
    ax.add_collection(
        LineCollection([(pos[u], pos[v]) for u, v in graph.edges], colors="#b0b0b0", zorder=1)
    )
    sellers_at = [pos[n] for n, d in nodes.items() if d["type"] == "seller"]
    ax.scatter(*_xy(sellers_at), marker="s", s=160, c=_SELLER_COLOUR, zorder=2)
    colours = _kind_colours(d["kind"] for d in nodes.values() if d["type"] == "identifier")
    for kind, colour in colours.items():
        at = [pos[n] for n, d in nodes.items() if d["type"] != "seller" and d["kind"] == kind]
        ax.scatter(*_xy(at), marker="o", s=140, c=colour, zorder=2)
    family = _font_family()
    for node, data in nodes.items():
        ax.annotate(
            _node_label(data), pos[node], xytext=(0, -10), textcoords="offset points",
            ha="center", va="top", fontsize=8, family=family, parse_math=False,
        )  # fmt: skip
    _add_legend(ax, colours, family)
    n_sellers, n_idents = len(sellers_at), len(nodes) - len(sellers_at)
    plural = "" if n_idents == 1 else "s"
    ax.set_title(
        f"Network {_short(network_id)}: {n_sellers} accounts, {n_idents} shared identifier{plural}",
        parse_math=False,
    )
    ax.margins(0.2)
    ax.set_axis_off()
    return fig
