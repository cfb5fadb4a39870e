"""Seller networks as graphs: structure, GEXF/GraphML export, drawing."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure

from workbench.errors import InputError, MissingColumnsError, NotFoundError
from workbench.networks._graph import (
    all_networks_graph,
    draw_network,
    export_network,
    network_graph,
)
from workbench.networks._link import Networks, link_sellers

PHONE = "identifier:phone:+8613800138000"  # '+86 138 0013 8000' and '0086-13800138000'
CARD = "identifier:bank_card:6222021234567890"  # '6222 0212 3456 7890' and with dashes
# XML-hostile e-mail shared by S4 and S5; \x01 is forbidden in XML 1.0 and is dropped on export
HOSTILE_EMAIL = "a<b>]]>&\x01@x.com"


@pytest.fixture
def toy_nets(toy_sellers: pd.DataFrame, toy_identifiers: pd.DataFrame) -> Networks:
    # N0001 = {S1, S2, S3} (phone S1-S2, card S2-S3), N0002 = {S4, S5} (e-mail);
    # max_accounts=5 makes the courier hotline on all eight accounts infrastructure
    return link_sellers(toy_sellers, toy_identifiers, max_accounts=5)


@pytest.fixture
def hostile_sellers() -> pd.DataFrame:
    # markup, a template literal, a CDATA end, mathtext, and control characters
    names = [
        "<img src=x onerror=alert(1)>",
        "${alert(1)}",
        "]]> & \"q\" 's'",
        "bad\x00\x07name\r\nx",
        r"$\undefined{x}$ shop",
    ]
    return pd.DataFrame({"seller_id": ["S1", "S2", "S3", "S4", "S5"], "name": names})


@pytest.fixture
def hostile_nets(hostile_sellers: pd.DataFrame) -> Networks:
    # same shape as the toy: N0001 = {S1, S2, S3} via phone and card, N0002 = {S4, S5}
    identifiers = pd.DataFrame(
        [
            ("S1", "phone", "+86 138 0013 8000"),
            ("S2", "phone", "0086-13800138000"),
            ("S2", "bank_card", "6222 0212 3456 7890"),
            ("S3", "bank_card", "6222-0212-3456-7890"),
            ("S4", "email", HOSTILE_EMAIL),
            ("S5", "email", HOSTILE_EMAIL.upper()),
        ],
        columns=["seller_id", "kind", "value"],
    )
    return link_sellers(hostile_sellers, identifiers)


def test_toy_network_is_bipartite_sellers_and_identifiers(
    toy_nets: Networks, toy_sellers: pd.DataFrame
) -> None:
    graph = network_graph(toy_nets, "N0001", sellers=toy_sellers)
    # 3 sellers + 1 phone + 1 card; 4 edges, one per account-identifier pair
    assert set(graph.nodes) == {"seller:S1", "seller:S2", "seller:S3", PHONE, CARD}
    edges = {frozenset(e) for e in graph.edges}
    assert edges == {
        frozenset({"seller:S1", PHONE}),
        frozenset({"seller:S2", PHONE}),
        frozenset({"seller:S2", CARD}),
        frozenset({"seller:S3", CARD}),
    }
    assert graph.graph["network_id"] == "N0001"
    assert graph.nodes["seller:S2"] == {
        "type": "seller",
        "bipartite": 0,
        "network_id": "N0001",
        "seller_id": "S2",
        "label": "Shop 2",  # from toy_sellers.name
    }
    phone = graph.nodes[PHONE]
    assert phone["type"] == "identifier" and phone["bipartite"] == 1
    assert phone["kind"] == "phone" and phone["value_norm"] == "+8613800138000"
    assert phone["value"] in {"+86 138 0013 8000", "0086-13800138000"}  # one raw spelling
    assert phone["label"] == "phone +8613800138000"
    # each edge keeps the spelling that account used
    assert graph.edges["seller:S2", PHONE] == {
        "network_id": "N0001",
        "kind": "phone",
        "value": "0086-13800138000",
    }


def test_labels_fall_back_to_the_seller_id(toy_nets: Networks) -> None:
    # S2 has no usable name (NA), S1's name is kept, S3 is missing from the frame
    sellers = pd.DataFrame({"seller_id": ["S1", "S2"], "name": ["Shop 1", None]})
    graph = network_graph(toy_nets, "N0001", sellers=sellers)
    assert [graph.nodes[f"seller:S{i}"]["label"] for i in (1, 2, 3)] == ["Shop 1", "S2", "S3"]
    assert network_graph(toy_nets, "N0001").nodes["seller:S1"]["label"] == "S1"


def test_sellers_without_name_column(toy_nets: Networks) -> None:
    with pytest.raises(MissingColumnsError, match=r"sellers: required field\(s\) name"):
        network_graph(toy_nets, "N0001", sellers=pd.DataFrame({"seller_id": ["S1"]}))


def test_unknown_network_id_names_known_ones(toy_nets: Networks) -> None:
    with pytest.raises(NotFoundError, match=r"'N0099' is not a network; known: N0001, N0002 \("):
        network_graph(toy_nets, "N0099")
    with pytest.raises(KeyError):  # NotFoundError is a KeyError too
        draw_network(toy_nets, "N0099")


def test_all_networks_graph_tags_network_id(toy_nets: Networks) -> None:
    graph = all_networks_graph(toy_nets)
    # N0001: 3 sellers + 2 identifiers; N0002: S4, S5 + 1 e-mail; nobody else is linked
    assert graph.number_of_nodes() == 8 and graph.number_of_edges() == 6
    assert nx.number_connected_components(graph) == 2
    by_net = {n: d["network_id"] for n, d in graph.nodes(data=True)}
    assert by_net["seller:S1"] == by_net[CARD] == "N0001"
    assert by_net["seller:S4"] == by_net["identifier:email:li.wei@example.com"] == "N0002"
    assert {d["network_id"] for *_, d in graph.edges(data=True)} == {"N0001", "N0002"}


@pytest.mark.parametrize(
    ("suffix", "read"), [(".gexf", nx.read_gexf), (".graphml", nx.read_graphml)]
)
def test_export_round_trip_with_hostile_text(
    tmp_path: Path,
    hostile_nets: Networks,
    hostile_sellers: pd.DataFrame,
    suffix: str,
    read: Callable[[Path], nx.Graph],
) -> None:
    path = export_network(hostile_nets, tmp_path / f"nets{suffix.upper()}", sellers=hostile_sellers)
    assert path == tmp_path / f"nets{suffix.upper()}"
    raw = path.read_bytes()
    assert b"\x00" not in raw and b"\x01" not in raw and b"\x07" not in raw
    back = read(path)  # a parse error here means malformed XML
    assert back.number_of_nodes() == 8 and back.number_of_edges() == 6
    labels = {n: back.nodes[f"seller:S{n}"]["label"] for n in range(1, 6)}
    assert labels == {
        1: "<img src=x onerror=alert(1)>",  # markup reads back as text, unchanged
        2: "${alert(1)}",
        3: "]]> & \"q\" 's'",
        4: "badname\nx",  # \x00 and \x07 dropped, CRLF became LF
        5: r"$\undefined{x}$ shop",
    }
    # the e-mail's node id and value lose only the forbidden \x01
    email = back.nodes["identifier:email:a<b>]]>&@x.com"]
    assert email["value_norm"] == "a<b>]]>&@x.com" and email["kind"] == "email"
    assert back.nodes[PHONE]["network_id"] == "N0001"
    assert int(back.nodes[PHONE]["bipartite"]) == 1
    for _, data in back.nodes(data=True):
        assert all(isinstance(v, str | int) for v in data.values()), data


def test_export_one_network(tmp_path: Path, toy_nets: Networks) -> None:
    path = export_network(toy_nets, tmp_path / "n2.graphml", network_id="N0002")
    # S4, S5 and their shared e-mail
    assert set(nx.read_graphml(path).nodes) == {
        "seller:S4",
        "seller:S5",
        "identifier:email:li.wei@example.com",
    }


@pytest.mark.parametrize("name", ["nets.csv", "nets", "nets.gexf.gz"])
def test_export_rejects_other_suffixes(tmp_path: Path, toy_nets: Networks, name: str) -> None:
    with pytest.raises(InputError, match=r"expected a file ending in \.gexf or \.graphml"):
        export_network(toy_nets, tmp_path / name)
    assert not (tmp_path / name).exists()


def _legend(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts] + _legend(fig)


def test_draw_network_title_labels_and_legend(
    toy_nets: Networks, toy_sellers: pd.DataFrame
) -> None:
    managers = _pylab_helpers.Gcf.get_num_fig_managers()
    fig = draw_network(toy_nets, "N0001", sellers=toy_sellers)
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "Network N0001: 3 accounts, 2 shared identifiers"
    # shop names, masked phone and card (last 4 digits), a legend of the kinds present
    assert sorted(fig.axes[0].texts[i].get_text() for i in range(5)) == sorted(
        ["Shop 1", "Shop 2", "Shop 3", "…8000", "…7890"]
    )
    assert _legend(fig) == [
        "seller account",
        "bank_card",
        "phone",
    ]
    assert not any("13800138000" in t or "62220212" in t for t in _texts(fig))
    assert _pylab_helpers.Gcf.get_num_fig_managers() == managers  # no pyplot figure left
    fig.savefig(io.BytesIO(), format="png")
    assert fig._repr_png_().startswith(b"\x89PNG")  # type: ignore[attr-defined]


def test_draw_network_singular_and_long_labels(toy_nets: Networks) -> None:
    sellers = pd.DataFrame({"seller_id": ["S4", "S5"], "name": ["A" * 30, "B\nshop"]})
    fig = draw_network(toy_nets, "N0002", sellers=sellers)
    assert fig.axes[0].get_title() == "Network N0002: 2 accounts, 1 shared identifier"
    texts = _texts(fig)
    # 23 characters and an ellipsis; the newline became a space; e-mails are not masked
    assert "A" * 23 + "…" in texts and "B shop" in texts
    assert "li.wei@example.com" in texts


def test_draw_network_renders_dollar_signs_literally(
    hostile_nets: Networks, hostile_sellers: pd.DataFrame
) -> None:
    # r"$\undefined{x}$ shop" raises a mathtext ParseError when drawn unless math is off
    fig = draw_network(hostile_nets, "N0001", sellers=hostile_sellers)
    fig.savefig(io.BytesIO(), format="png")
    fig = draw_network(hostile_nets, "N0002", sellers=hostile_sellers)
    fig.savefig(io.BytesIO(), format="png")
    assert {"badname x", r"$\undefined{x}$ shop"} <= set(_texts(fig))


def test_draw_network_is_deterministic_and_draws_into_given_axes(toy_nets: Networks) -> None:
    first, second = draw_network(toy_nets, "N0001"), draw_network(toy_nets, "N0001")
    # node markers (scatter offsets) land in the same places both times
    xy = [
        [np.asarray(c.get_offsets()).tolist() for c in f.axes[0].collections[1:]]
        for f in (first, second)
    ]
    assert len(xy[0]) == 3  # sellers, bank cards, phones
    assert xy[0] == xy[1]
    own = Figure()
    ax = own.add_subplot()
    assert draw_network(toy_nets, "N0001", ax=ax) is own
    assert ax.get_title().startswith("Network N0001")


def test_import_does_not_load_matplotlib_or_networkx() -> None:
    code = (
        "import sys, workbench.networks._graph; "
        "print(sorted(m for m in ('matplotlib', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
