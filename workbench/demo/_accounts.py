"""The demo's accounts while they are drawn: sellers, their identifiers, locations,
evidence and ship-from slots, and the builder helpers rings and legitimate sellers share.

Loops here run per seller or per network, never per waybill (private).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.demo import _places as P
from workbench.demo._identity import IdentityFactory, street_address

# shares of all waybills: ring accounts, hub users, background sellers
RING_VOLUME = 0.25
HUB_VOLUME = 0.30
BACKGROUND_VOLUME = 0.45


@dataclass(frozen=True)
class Slot:
    """Where a share of one seller's waybills leave from: an exact point or a scatter."""

    weight: float
    lat: float
    lon: float
    sigma_m: float  # 0 for an exact point (its coordinates repeat), else scatter spread
    addresses: tuple[str, ...]


@dataclass
class Seller:
    """One account while the demo is built; ``index`` is its position in ``Population``."""

    index: int
    group: str  # ring network name, "hub" or "background"
    network: str | None
    city: P.City
    brands: tuple[str, ...]
    price_factor: float  # share of the genuine price the seller asks
    items_p: float  # geometric parameter of items per waybill
    volume: float  # heavy-tailed relative number of waybills within its group
    name: str = ""
    platform: str = ""
    registered_address: str = ""
    registered_at: str = ""
    slots: list[Slot] = field(default_factory=list)
    seller_id: str = ""


@dataclass
class Population:
    """Everything about the accounts; waybills are drawn from ``sellers[i].slots``."""

    sellers: list[Seller] = field(default_factory=list)
    identifiers: list[tuple[int, str, str]] = field(default_factory=list)
    locations: list[tuple[int, str, str, float, float]] = field(default_factory=list)
    evidence: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    sites: list[dict[str, object]] = field(default_factory=list)
    hubs: list[dict[str, object]] = field(default_factory=list)
    infrastructure: list[str] = field(default_factory=list)
    weak_identifiers: list[str] = field(default_factory=list)
    hostile_names: list[str] = field(default_factory=list)
    group_volume: dict[str, float] = field(default_factory=dict)


class Builder:
    """Draws accounts into one ``Population``; shared by the ring and legitimate parts."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.ids = IdentityFactory(rng)
        self.pop = Population()
        self._names: set[str] = set()
        self._held: set[tuple[int, str, str]] = set()  # (seller, kind, canonical) already listed
        self._pools: dict[str, tuple[str, ...]] = {}

    # -- small helpers -------------------------------------------------------------------
    def pool(self, city: P.City) -> tuple[str, ...]:
        """Street addresses scattered waybills from ``city`` show."""
        if city.key not in self._pools:
            self._pools[city.key] = tuple(street_address(self.rng, city) for _ in range(48))
        return self._pools[city.key]

    def add_id(self, seller: Seller, kind: str, canonical: str) -> None:
        key = (seller.index, kind, canonical.casefold())
        if key not in self._held:
            self._held.add(key)
            self.pop.identifiers.append((seller.index, kind, self.ids.render(kind, canonical)))

    def own_ids(self, seller: Seller, kinds: dict[str, float]) -> None:
        for kind, p in kinds.items():
            if self.rng.random() < p:
                self.add_id(seller, kind, self.ids.new(kind, seller.city))

    def shop_name(self, city: P.City, category: str) -> str:
        rng = self.rng
        cn, en = P.CATEGORIES[category]
        for attempt in range(50):
            if rng.random() < 0.6:
                place = city.short_cn if rng.random() < 0.5 else ""
                name = f"{place}{rng.choice(P.NAME_PREFIX_CN)}{cn}{rng.choice(P.STORE_CN)}"
            else:
                name = (
                    f"{city.name_en} {rng.choice(P.NAME_PREFIX_EN)} {en} {rng.choice(P.STORE_EN)}"
                )
            if attempt > 40:
                name = f"{name}{attempt - 40}号店"
            if name not in self._names:
                self._names.add(name)
                return name
        raise RuntimeError("could not draw a unique shop name")  # pragma: no cover

    def new_seller(
        self,
        group: str,
        network: str | None,
        city: P.City,
        category: str,
        brands: tuple[str, ...],
        *,
        registered: tuple[str, int],
        price_factor: float = 1.0,
        items_p: float = 0.35,
    ) -> Seller:
        """A new account; ``registered`` is (first possible date, span in days)."""
        rng = self.rng
        s = Seller(
            len(self.pop.sellers),
            group,
            network,
            city,
            brands,
            price_factor,
            items_p,
            float(rng.lognormal(0.0, 1.0)),
        )
        s.name = self.shop_name(city, category)
        s.registered_address = street_address(rng, city)
        start, span_days = registered
        s.registered_at = str(np.datetime64(start) + int(rng.integers(0, span_days)))
        self.pop.sellers.append(s)
        return s

    def platform(self, choices: tuple[str, ...] = P.PLATFORMS) -> str:
        if choices == P.PLATFORMS:
            return str(self.rng.choice(choices, p=P.PLATFORM_WEIGHTS))
        return str(self.rng.choice(choices))

    def evidence(self, seller: Seller, brand: str, kind: str, verdict: str) -> None:
        date = str(np.datetime64("2026-01-05") + int(self.rng.integers(0, 295)))
        self.pop.evidence.append((seller.index, brand, kind, verdict, date))


def name_hostile(pop: Population) -> None:
    """Give two top-ring accounts and one background seller names that attack HTML views."""
    ring = sorted(
        (s for s in pop.sellers if s.group == P.RINGS[0].network), key=lambda s: s.seller_id
    )
    background = sorted(
        (s for s in pop.sellers if s.group == "background"), key=lambda s: s.seller_id
    )
    for s, name in zip(ring, P.HOSTILE_RING_NAMES, strict=False):
        s.name = name
    background[0].name = P.HOSTILE_BACKGROUND_NAME
    pop.hostile_names = [*P.HOSTILE_RING_NAMES, P.HOSTILE_BACKGROUND_NAME]
