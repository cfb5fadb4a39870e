"""The demo's legitimate sellers: the logistics hub's users and background shops (private).

Hub users share only the logistics firm's 400 hotline (infrastructure); background sellers
have their own warehouses in fifteen cities, a few share a city-level address (a weak link)
and a couple of two-account households share a phone. Nearly half of them are small shops in
three busy market districts (45% of the sellers, 30% of their waybills), with a stall and
stockrooms spread evenly within 2.2 km of the district centre; a small counterfeit
workshop hides in each.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.demo import _places as P
from workbench.demo._accounts import Builder, Seller, Slot
from workbench.demo._identity import jitter, offset, street_address


def _legit_brands(builder: Builder, p_branded: float) -> tuple[tuple[str, ...], str]:
    """A legitimate seller's brand (an authorised one, or generic goods) and trade."""
    if builder.rng.random() < p_branded:
        brand = str(builder.rng.choice(P.LEGIT_BRANDS))
        return (brand,), "cosmetics" if brand in P.COSMETIC_BRANDS else "shoes"
    return (P.GENERIC_BRAND,), str(builder.rng.choice(P.LEGIT_CATEGORIES))


def add_hub(builder: Builder) -> None:
    """The logistics hub's users: own warehouses, part of their parcels from the hub docks."""
    rng, hub = builder.rng, P.HUB
    docks = [
        offset(hub.lat, hub.lon, rng.uniform(30, 200), rng.uniform(0, 2 * math.pi))
        for _ in range(int(rng.integers(3, 7)))
    ]
    dock_addr = [f"{hub.address_cn}{d + 1}号库" for d in range(len(docks))]
    builder.pop.hubs.append(
        {
            "name": hub.name,
            "city": hub.city.name_en,
            "lat": hub.lat,
            "lon": hub.lon,
            "kind": "hub",
            "n_sellers": hub.n_sellers,
        }
    )
    hotline_forms: set[str] = set()
    for _ in range(hub.n_sellers):
        city = hub.city if rng.random() < 0.7 else background_city(builder)
        brands, category = _legit_brands(builder, 0.2)
        s = builder.new_seller(
            "hub", None, city, category, brands, registered=("2013-01-01", 4_000)
        )
        s.platform = builder.platform()
        at_hub = float(rng.uniform(0.3, 0.8))
        use = rng.choice(len(docks), int(rng.integers(1, 4)), replace=False)
        for j, share in zip(use, rng.dirichlet(np.ones(len(use))), strict=True):
            s.slots.append(Slot(at_hub * float(share), *docks[int(j)], 0.0, (dock_addr[int(j)],)))
        la, lo = jitter(rng, city.lat, city.lon, city.spread_m)
        addr = street_address(rng, city)
        s.slots.append(Slot(1 - at_hub, la, lo, 0.0, (addr,)))
        builder.pop.locations.append((s.index, "warehouse", addr, la, lo))
        if rng.random() < 0.5:
            builder.pop.locations.append(
                (s.index, "return", f"{hub.address_cn}退货中心", *docks[0])
            )
        builder.own_ids(
            s,
            {
                "phone": 1.0,
                "email": 0.9,
                "id_document": 1.0,
                "bank_card": 0.7,
                "payment_account": 0.7,
                "device": 0.5,
            },
        )
        before = len(builder.pop.identifiers)
        builder.add_id(s, "phone", hub.hotline_digits)
        hotline_forms.update(v for _, _, v in builder.pop.identifiers[before:])
    builder.pop.infrastructure.extend(sorted(hotline_forms))
    _legit_evidence(builder, [s for s in builder.pop.sellers if s.group == "hub"], 8, 3)


def background_city(builder: Builder) -> P.City:
    """One of the fifteen background cities, bigger ones more often."""
    w = np.asarray(P.BACKGROUND_WEIGHTS, dtype=float)
    return P.BACKGROUND_CITIES[int(builder.rng.choice(len(w), p=w / w.sum()))]


def add_background(builder: Builder, n: int) -> None:
    """``n`` unrelated legitimate sellers with one or two warehouses each.

    Each market district takes its ``seller_share`` of them (at least two), with their
    warehouses in the district and its ``volume_share`` of the background's waybills.
    """
    homes = _homes(n)
    blocks = _Blocks(builder.rng)
    sellers = [_background_seller(builder, blocks, home) for home in homes]
    _district_volumes(sellers, homes)
    coarse: set[str] = set()
    for s in sellers:
        if builder.rng.random() < 0.3:
            builder.add_id(s, "address", s.registered_address)
        elif builder.rng.random() < 0.06:  # a coarse, city-level address: a weak link at most
            builder.add_id(s, "address", s.city.prefix_cn)
            coarse.add(s.city.prefix_cn)
    builder.pop.weak_identifiers.extend(sorted(coarse))
    _families(builder, sellers)
    _legit_evidence(builder, sellers, max(3, n // 50), max(1, n // 100))


def _homes(n: int) -> list[P.MarketDistrict | None]:
    """Where each of ``n`` background sellers keeps its warehouses: a market district, or
    anywhere in its city (None)."""
    per = [max(2, round(n * d.seller_share)) for d in P.MARKET_DISTRICTS]
    in_districts = [d for d, k in zip(P.MARKET_DISTRICTS, per, strict=True) for _ in range(k)]
    return [None] * (n - len(in_districts)) + in_districts


def _radical_inverse(k: int, base: int) -> float:
    """The ``k``-th point of the van der Corput sequence in ``base`` (digits mirrored)."""
    value, scale = 0.0, 1.0 / base
    while k:
        k, digit = divmod(k, base)
        value += digit * scale
        scale /= base
    return value


class _Blocks:
    """Warehouse points for background sellers: evenly spread over a market district, or
    scattered over the city.

    District points are successive points of a Halton sequence (bases 2 and 3, shifted at
    random per district) mapped onto its disc, then moved a little: shops fill the blocks
    of a busy district evenly, where independent random points would leave chance clumps
    that stand out by density.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._shift = {d.name: rng.random(2) for d in P.MARKET_DISTRICTS}
        self._used = dict.fromkeys(self._shift, 0)

    def point(self, city: P.City, home: P.MarketDistrict | None) -> tuple[float, float]:
        if home is None:
            return jitter(self.rng, city.lat, city.lon, city.spread_m)
        k = self._used[home.name] = self._used[home.name] + 1
        shift = self._shift[home.name]
        u = (_radical_inverse(k, 2) + shift[0]) % 1.0  # area: the radius grows as sqrt(u)
        v = (_radical_inverse(k, 3) + shift[1]) % 1.0
        la, lo = offset(home.lat, home.lon, home.radius_m * math.sqrt(u), 2 * math.pi * v)
        return jitter(self.rng, la, lo, 30.0)


def _background_seller(builder: Builder, blocks: _Blocks, home: P.MarketDistrict | None) -> Seller:
    """One background seller, its warehouses (in ``home`` if given) and own identifiers."""
    rng = builder.rng
    city = background_city(builder) if home is None else home.city
    brands, category = _legit_brands(builder, 0.15)
    if home is not None and brands == (P.GENERIC_BRAND,) and rng.random() < 0.7:
        category = home.trade  # most shops of a market district sell its trade
    s = builder.new_seller(
        "background", None, city, category, brands, registered=("2012-01-01", 5_000)
    )
    s.platform = builder.platform()
    if home is None:
        n_wh, evenness = (1 if rng.random() < 0.65 else 2), 1.0
    else:  # a market shop: similar sizes, a stall and one to three stockrooms of similar use
        s.volume = float(rng.lognormal(0.0, 0.35))
        n_wh, evenness = int(rng.integers(2, 5)), 4.0
    scatter = float(rng.uniform(0.0, 0.15))
    shares = rng.dirichlet(np.full(n_wh, evenness)) * (1 - scatter)
    for share in shares:
        la, lo = blocks.point(city, home)
        addr = street_address(rng, city, None if home is None else home.district_cn)
        s.slots.append(Slot(float(share), la, lo, 0.0, (addr,)))
        builder.pop.locations.append((s.index, "warehouse", addr, la, lo))
    first = s.slots[0]
    s.slots.append(Slot(scatter, first.lat, first.lon, 1_500.0, builder.pool(city)))
    if rng.random() < 0.3:
        builder.pop.locations.append((s.index, "return", first.addresses[0], first.lat, first.lon))
    builder.own_ids(
        s,
        {
            "phone": 1.0,
            "email": 0.8,
            "id_document": 1.0,
            "bank_card": 0.6,
            "payment_account": 0.6,
            "device": 0.4,
        },
    )
    return s


def _district_volumes(sellers: list[Seller], homes: list[P.MarketDistrict | None]) -> None:
    """Scale the district sellers' volumes so each district ships exactly its
    ``volume_share`` of the background's waybills (their draws alone leave it to chance)."""
    elsewhere = sum(s.volume for s, h in zip(sellers, homes, strict=True) if h is None)
    rest = 1.0 - sum(d.volume_share for d in P.MARKET_DISTRICTS)
    for district in P.MARKET_DISTRICTS:
        members = [s for s, h in zip(sellers, homes, strict=True) if h is district]
        scale = district.volume_share / rest * elsewhere / sum(s.volume for s in members)
        for s in members:
            s.volume *= scale


def _families(builder: Builder, sellers: list[Seller]) -> None:
    """A couple of legitimate two-account households sharing one phone."""
    rng = builder.rng
    n_families = 0 if len(sellers) < 20 else 2 if len(sellers) < 500 else 3
    order = [int(i) for i in rng.permutation(len(sellers))]
    taken: set[int] = set()
    for f in range(n_families):
        a = next(i for i in order if i not in taken)
        taken.add(a)
        same = [i for i in order if i not in taken and sellers[i].city == sellers[a].city]
        c = same[0] if same else next(i for i in order if i not in taken)
        taken.add(c)
        phone = builder.ids.new("phone", sellers[a].city)
        for i in (a, c):
            sellers[i].network = f"family-{f + 1:02d}"
            builder.add_id(sellers[i], "phone", phone)


def _legit_evidence(
    builder: Builder, sellers: list[Seller], n_tests: int, n_complaints: int
) -> None:
    branded = [s for s in sellers if s.brands[0] != P.GENERIC_BRAND] or sellers
    picks = builder.rng.permutation(len(branded))
    for rank, i in enumerate(picks[: n_tests + n_complaints]):
        s = branded[int(i)]
        if rank < n_tests:
            builder.evidence(s, s.brands[0], "test_buy", "genuine")
        else:
            builder.evidence(s, s.brands[0], "complaint", "inconclusive")
