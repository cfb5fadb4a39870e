"""The demo's counterfeit rings: linked accounts shipping from their workshops (private).

A ring's accounts are joined by a spanning tree of shared strong identifiers (phones, bank
cards, ID documents, devices, payment accounts, e-mails) plus a few extra edges, each shared
value written differently on each account; most waybills leave from a few exact points at
the workshop, and returns go to an address next to it. A workshop in a busy market district
is flagged ``dense_district`` in the truth list.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.demo import _places as P
from workbench.demo._accounts import Builder, Seller, Slot
from workbench.demo._identity import jitter, offset, street_address

_SHARED_KINDS = ("phone", "bank_card", "id_document", "device", "payment_account", "email")
_SHARED_P = (0.22, 0.20, 0.12, 0.22, 0.14, 0.05)
_EXTRA_KINDS = (*_SHARED_KINDS, "address")  # extra edges may also be a shared address (weak)
_EXTRA_P = (0.21, 0.19, 0.11, 0.21, 0.13, 0.05, 0.10)


def add_ring(builder: Builder, ring: P.Ring) -> None:
    """One ring: its workshop points, accounts, identifiers, locations and evidence."""
    rng = builder.rng
    n = int(rng.integers(ring.size[0], ring.size[1] + 1))
    points: list[list[tuple[float, float, str]]] = []
    returns: list[list[tuple[str, float, float]]] = []
    for ws in ring.workshops:
        k = int(rng.integers(3, 7))
        pts = [
            offset(ws.lat, ws.lon, rng.uniform(20, 120), rng.uniform(0, 2 * math.pi))
            for _ in range(k)
        ]
        points.append([(la, lo, f"{ws.address_cn}{j + 1}栋") for j, (la, lo) in enumerate(pts)])
        rets = []
        for r in range(int(rng.integers(1, 3))):
            la, lo = offset(ws.lat, ws.lon, rng.uniform(150, 400), rng.uniform(0, 2 * math.pi))
            rets.append((f"{ws.address_cn[: ws.address_cn.index('号')]}号之{r + 2}", la, lo))
        returns.append(rets)
        builder.pop.sites.append(
            {
                "name": ws.name,
                "city": ws.city.name_en,
                "lat": ws.lat,
                "lon": ws.lon,
                "network": ring.network,
                "brands": list(ring.brands),
                "kind": "workshop",
                "dense_district": ws.district is not None,
            }
        )
    per_ws = [max(3, round(n * share)) for share in ring.workshop_share[1:]]
    home = [0] * (n - sum(per_ws)) + [w + 1 for w, c in enumerate(per_ws) for _ in range(c)]
    start = str(np.datetime64("2024-08-01") + int(rng.integers(0, 240)))
    offices = [street_address(rng, ring.workshops[0].city) for _ in range(3)]
    accounts: list[Seller] = []
    for i in range(n):
        w = home[i]
        ws = ring.workshops[w]
        k = int(rng.integers(1, len(ring.brands) + 1))
        brands = tuple(sorted(rng.choice(ring.brands, k, replace=False).tolist()))
        s = builder.new_seller(
            ring.network,
            ring.network,
            ws.city,
            ring.category,
            brands,
            price_factor=float(rng.uniform(0.08, 0.3)),  # fakes sell far below the genuine price
            items_p=0.16,  # larger orders than legitimate retail
            registered=(start, 90),  # accounts opened in a burst
        )
        s.platform = builder.platform(ring.platforms)
        if rng.random() < 0.35:
            s.registered_address = str(rng.choice(offices))
        exact = float(rng.uniform(0.80, 0.95))
        use = rng.choice(
            len(points[w]), int(rng.integers(2, min(5, len(points[w])) + 1)), replace=False
        )
        shares = rng.dirichlet(np.ones(len(use)))
        for j, share in zip(use, shares, strict=True):
            la, lo, addr = points[w][int(j)]
            s.slots.append(Slot(exact * float(share), la, lo, 0.0, (addr,)))
        city = ws.city
        s.slots.append(Slot(1 - exact, city.lat, city.lon, city.spread_m, builder.pool(city)))
        la, lo = jitter(rng, city.lat, city.lon, city.spread_m)
        builder.pop.locations.append((s.index, "warehouse", street_address(rng, city), la, lo))
        ret = returns[w][int(rng.integers(0, len(returns[w])))]
        builder.pop.locations.append((s.index, "return", *ret))
        accounts.append(s)
    _ring_identifiers(builder, ring, accounts)
    _ring_evidence(builder, ring, accounts)


def _ring_identifiers(builder: Builder, ring: P.Ring, accounts: list[Seller]) -> None:
    rng = builder.rng
    n = len(accounts)
    fake_ids = [builder.ids.new("id_document", accounts[0].city) for _ in range(max(3, n * 3 // 5))]
    for i, s in enumerate(accounts):
        cards = 1 + int(ring.pooled_id_documents and rng.random() < 0.5)
        builder.own_ids(s, {"phone": 1.0, "email": 1.0, "payment_account": 1.0, "device": 0.6})
        for _ in range(cards):
            builder.add_id(s, "bank_card", builder.ids.new("bank_card", s.city))
        if ring.pooled_id_documents:
            doc = fake_ids[i] if i < len(fake_ids) else fake_ids[int(rng.integers(len(fake_ids)))]
            builder.add_id(s, "id_document", doc)
        else:
            builder.add_id(s, "id_document", builder.ids.new("id_document", s.city))
        if s.registered_address and rng.random() < 0.5:
            builder.add_id(s, "address", s.registered_address)
    shared: dict[tuple[int, str], list[str]] = {}
    # a spanning tree through strong identifiers, then a few extra edges of any kind
    edges = [(int(rng.integers(max(0, i - 3), i)), i, True) for i in range(1, n)]
    for _ in range(max(1, n // 6)):
        a, c = (int(x) for x in rng.choice(n, 2, replace=False))
        edges.append((a, c, False))
    tree_p = np.asarray(_SHARED_P) / sum(_SHARED_P)
    for a, c, tree in edges:
        if tree:
            kind = str(rng.choice(_SHARED_KINDS, p=tree_p))
        else:
            kind = str(rng.choice(_EXTRA_KINDS, p=_EXTRA_P))
        existing = shared.get((a, kind), [])
        if existing and rng.random() < 0.4:
            value = existing[int(rng.integers(len(existing)))]
        elif kind == "address":
            value = street_address(rng, accounts[a].city)
        else:
            value = builder.ids.new(kind, accounts[a].city)
        for end in (a, c):
            builder.add_id(accounts[end], kind, value)
            shared.setdefault((end, kind), []).append(value)


def _ring_evidence(builder: Builder, ring: P.Ring, accounts: list[Seller]) -> None:
    rng = builder.rng
    order = rng.permutation(len(accounts))
    for rank, i in enumerate(order):
        s = accounts[int(i)]
        brand = str(rng.choice(s.brands))
        if rank < 2 or rng.random() < 0.35:  # every ring has at least two confirmed fakes
            for _ in range(int(rng.integers(1, 3))):
                builder.evidence(s, brand, "test_buy", "counterfeit")
        if rng.random() < 0.08:
            builder.evidence(s, brand, "test_buy", "inconclusive")
        if rng.random() < 0.12:
            builder.evidence(
                s, brand, "complaint", str(rng.choice(["inconclusive", "counterfeit"]))
            )
        if rng.random() < 0.05:
            builder.evidence(s, brand, "takedown", "counterfeit")
