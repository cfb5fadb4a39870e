"""The populations behind the known-offenders demo: an earlier case and a partner platform
that share planted identities with the current demo, and decoys that must not match
(private to ``demo``).

Shared values are written another way on each side (``+86 138 ...`` here, ``138-...``
there): they differ only before normalisation, so they must match. Values drawn fresh for
the earlier case or the partner that happen to equal one of the current demo's (after
normalisation) are dropped, so every match is one planted on purpose.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.demo import _places as P
from workbench.demo._accounts import (
    BACKGROUND_VOLUME,
    HUB_VOLUME,
    RING_VOLUME,
    Builder,
    Population,
    Seller,
)
from workbench.demo._legit import add_background, add_hub, background_city
from workbench.demo._rings import add_ring

__all__ = [
    "EARLIER_RINGS",
    "PARTNER_PLATFORM",
    "Decoy",
    "Plant",
    "earlier_population",
    "id_frame",
    "partner_population",
    "plant",
    "plants_frame",
    "respell",
]

PARTNER_PLATFORM = "Xinghe Mall"
# the earlier case: the two Fujian rings, a smaller Putian one, with the same workshops
EARLIER_RINGS: tuple[P.Ring, ...] = (
    dataclasses.replace(P.RINGS[0], size=(16, 16)),
    P.RINGS[3],
)
_PARTNER_SELLERS = 40
# what is shared on purpose: (current group, kind, (earlier group, accounts) or None,
# the partner account's verdict or None, why)
_SHARED: tuple[tuple[str, str, tuple[str, int] | None, str | None, str], ...] = (
    ("putian-ring", "bank_card", ("putian-ring", 3), "confirmed",
     "the Putian ring's card, back on three accounts of the same ring"),
    ("putian-ring", "id_document", ("putian-ring", 2), None,
     "one of the Putian ring's fake ID cards, used before"),
    ("jinjiang-ring", "phone", ("jinjiang-ring", 1), "confirmed",
     "a Jinjiang ring phone, seen in the earlier case and by the partner"),
    ("baiyun-ring", "email", ("background", 1), None,
     "a Baiyun ring e-mail on an earlier shop outside any network"),
    ("background", "payment_account", ("background", 1), None,
     "a legitimate shop seen before: a match is a lead, not a verdict"),
    ("yiwu-ring", "device", None, "confirmed",
     "a Yiwu ring device, confirmed counterfeit by the partner only"),
    ("humen-ring", "bank_card", None, "confirmed",
     "a Humen ring card, confirmed counterfeit by the partner only"),
)  # fmt: skip
_HOTLINE_PARTNER_ACCOUNTS = 25  # above linking's floor of 20: infrastructure there too


@dataclass
class Plant:
    """One identity shared on purpose (``match`` ``identifier``), or an account that comes
    back under the same id on the same platform (``match`` ``seller``)."""

    match: str
    kind: str
    value_norm: str
    this_sellers: list[str]
    this_group: str  # the current demo's ring, "background" or "hub"
    spelling_here: list[str]  # how the current demo writes it (each account its own way)
    earlier_group: str = ""  # ring of the earlier case, "background", or "" (partner only)
    earlier_sellers: list[str] = field(default_factory=list)
    spelling_earlier: str = ""
    partner_sellers: list[str] = field(default_factory=list)
    spelling_partner: str = ""
    on_partner_list: bool = False
    note: str = ""


@dataclass
class Decoy:
    """A value placed where it must NOT match, and why."""

    kind: str
    value_norm: str
    spelling: str
    where: str
    why: str


# -- identifiers as frames ---------------------------------------------------------------
def id_frame(pop: Population) -> pd.DataFrame:
    """seller_id, group, network, kind, value, value_norm of every identifier row."""
    from workbench.networks._identifiers import normalise

    rows = [
        (pop.sellers[i].seller_id, pop.sellers[i].group, pop.sellers[i].network, k, v)
        for i, k, v in pop.identifiers
    ]
    frame = pd.DataFrame(rows, columns=["seller_id", "group", "network", "kind", "value"])
    frame["value_norm"] = normalise(frame["kind"], frame["value"]).to_numpy()
    return frame


def _spellings(kind: str, norm: str) -> list[str]:
    """Ways an export writes the normalised value ``norm`` (all normalise back to it)."""
    if kind == "phone" and norm.startswith("+86") and len(norm) == 14:
        d = norm[3:]
        return [f"{d[:3]}-{d[3:7]}-{d[7:]}", f"+86 {d[:3]} {d[3:7]} {d[7:]}", f"0086-{d}", d]
    if kind == "email":
        local, _, domain = norm.partition("@")
        return [norm.upper(), f"{local.capitalize()}@{domain}", norm]
    if kind in ("bank_card", "payment_account"):
        groups = [norm[i : i + 4] for i in range(0, len(norm), 4)]
        return [" ".join(groups), "-".join(groups), norm]
    if kind == "device":
        if len(norm) == 32:
            dashed = f"{norm[:8]}-{norm[8:12]}-{norm[12:16]}-{norm[16:20]}-{norm[20:]}"
            return [dashed.lower(), dashed, norm.lower(), norm]
        return [norm.lower(), "-".join(norm[i : i + 4] for i in range(0, len(norm), 4)), norm]
    if kind == "id_document":
        return [norm.lower(), f"{norm[:6]} {norm[6:14]} {norm[14:]}", norm]
    return [norm]


def respell(kind: str, norm: str, avoid: set[str]) -> str:
    """A spelling of ``norm`` that none of ``avoid`` already is (when one is left), checked
    by normalising it back."""
    from workbench.networks._identifiers import normalise

    spellings = _spellings(kind, norm)
    back = normalise(pd.Series([kind] * len(spellings)), pd.Series(spellings))
    valid = [s for s, b in zip(spellings, back, strict=True) if b == norm]
    if not valid:  # pragma: no cover - every kind above has a spelling of its own value
        raise RuntimeError(f"no spelling of a {kind} normalises to {norm!r}")
    return next((s for s in valid if s not in avoid), valid[0])


# -- populations ---------------------------------------------------------------------------
def earlier_population(seed: int, n_background: int) -> Population:
    """The earlier investigation: the two Fujian rings, the Yiwu hub, background sellers.
    Account ids ``T000001``... never meet the current demo's ``S...`` ones by chance."""
    rng = np.random.default_rng([seed, 2025])
    b = Builder(rng)
    total = sum(r.volume_share for r in EARLIER_RINGS)
    for ring in EARLIER_RINGS:
        add_ring(b, ring)
        b.pop.group_volume[ring.network] = RING_VOLUME * ring.volume_share / total
    add_hub(b)
    b.pop.group_volume["hub"] = HUB_VOLUME
    add_background(b, n_background)
    b.pop.group_volume["background"] = BACKGROUND_VOLUME
    for s, k in zip(b.pop.sellers, rng.permutation(len(b.pop.sellers)), strict=True):
        s.seller_id = f"T{int(k) + 1:06d}"
    return b.pop


def partner_population(seed: int) -> Population:
    """The partner platform's accounts: legitimate-looking shops with their own identifiers
    (the planted ones and the verdicts are added by :func:`plant`)."""
    from workbench.demo._legit import _legit_brands

    rng = np.random.default_rng([seed, 4242])
    b = Builder(rng)
    for _ in range(_PARTNER_SELLERS):
        city = background_city(b)
        brands, category = _legit_brands(b, 0.3)
        s = b.new_seller("partner", None, city, category, brands, registered=("2018-01-01", 2_500))
        s.platform = PARTNER_PLATFORM
        kinds = {"phone": 1.0, "email": 0.8, "id_document": 1.0, "bank_card": 0.6, "device": 0.4}
        b.own_ids(s, kinds)
    for k, s in enumerate(b.pop.sellers):
        s.seller_id = f"XH{k + 1:06d}"
    b.pop.group_volume["partner"] = 1.0
    return b.pop


def _drop_collisions(pop: Population, taken: set[tuple[str, str]]) -> int:
    """Drop identifier rows of ``pop`` equal (after normalisation) to a current value;
    returns how many (chance collisions: they would be matches nobody planted)."""
    frame = id_frame(pop)
    clash = [(k, v) in taken for k, v in zip(frame["kind"], frame["value_norm"], strict=True)]
    pop.identifiers = [row for row, bad in zip(pop.identifiers, clash, strict=True) if not bad]
    return int(sum(clash))


# -- planting ------------------------------------------------------------------------------
class _Planter:
    """Puts shared values on earlier and partner accounts and records them."""

    def __init__(
        self,
        rng: np.random.Generator,
        current: Population,
        earlier: Population,
        partner: Population,
    ) -> None:
        self.rng = rng
        self.current, self.earlier, self.partner = current, earlier, partner
        self.ids = id_frame(current)
        self.plants: list[Plant] = []
        self._used_values: set[tuple[str, str]] = set()
        self._used_earlier: set[int] = set()

    def pick_value(self, group: str, kind: str) -> tuple[str, list[str], set[str]]:
        """A value of ``kind`` held only by accounts of ``group`` (none planted yet):
        (value_norm, its holders, its spellings here)."""
        ids = self.ids[(self.ids["kind"] == kind) & (self.ids["value_norm"] != "")]
        by_value = ids.groupby("value_norm", sort=True)
        only = by_value["group"].nunique().eq(1) & by_value["group"].first().eq(group)
        if group == "background":  # a shop of its own, not one of the two-account households
            only &= by_value["seller_id"].nunique().eq(1)
        ok = [v for v in only.index[only.to_numpy()] if (kind, v) not in self._used_values]
        norm = str(ok[int(self.rng.integers(len(ok)))])
        self._used_values.add((kind, norm))
        rows = ids[ids["value_norm"] == norm]
        return norm, sorted(set(rows["seller_id"])), set(rows["value"])

    def earlier_accounts(self, group: str, n: int) -> list[Seller]:
        pool = [
            s
            for s in sorted(self.earlier.sellers, key=lambda s: s.seller_id)
            if s.group == group
            and s.index not in self._used_earlier
            and (group != "background" or s.network is None)
        ]
        picked = [pool[int(i)] for i in self.rng.choice(len(pool), n, replace=False)]
        self._used_earlier.update(s.index for s in picked)
        return sorted(picked, key=lambda s: s.seller_id)

    def shared(
        self, group: str, kind: str, earlier: tuple[str, int] | None, partner: str | None, note: str
    ) -> Plant:
        """Plant a value of ``group``'s ``kind``: on ``earlier`` = (group, n accounts) of
        the earlier case, and on a partner account (``confirmed`` or ``unconfirmed``)."""
        norm, holders, here = self.pick_value(group, kind)
        plant = Plant("identifier", kind, norm, holders, group, sorted(here), note=note)
        if earlier is not None:
            plant.earlier_group = earlier[0]
            plant.spelling_earlier = respell(kind, norm, here)
            for s in self.earlier_accounts(*earlier):
                self.earlier.identifiers.append((s.index, kind, plant.spelling_earlier))
                plant.earlier_sellers.append(s.seller_id)
        if partner is not None:
            plant.spelling_partner = respell(kind, norm, here | {plant.spelling_earlier})
            plant.on_partner_list = partner == "confirmed"
            s = self._partner_account(group, partner)
            self.partner.identifiers.append((s.index, kind, plant.spelling_partner))
            plant.partner_sellers = [s.seller_id]
        self.plants.append(plant)
        return plant

    def _partner_account(self, group: str, verdict: str) -> Seller:
        """A partner account of its own for one planted value, with its evidence."""
        taken = {i for i, *_ in self.partner.evidence}
        s = next(s for s in self.partner.sellers if s.index not in taken)
        ring = next((r for r in P.RINGS if r.network == group), None)
        brand = ring.brands[0] if ring else s.brands[0]
        date = str(np.datetime64("2025-03-01") + int(self.rng.integers(0, 240)))
        if verdict == "confirmed":
            self.partner.evidence.append((s.index, brand, "test_buy", "counterfeit", date))
        else:  # a complaint alone confirms nobody: not on the partner's list
            self.partner.evidence.append((s.index, brand, "complaint", "inconclusive", date))
        return s

    def returning_account(self, group: str) -> Plant:
        """An account of ``group`` that was in the earlier case under the same id and
        platform (an earlier ring account takes its id; its identifiers stay its own)."""
        mine = sorted(
            (s for s in self.current.sellers if s.group == group), key=lambda s: s.seller_id
        )
        here = mine[int(self.rng.integers(len(mine)))]
        (there,) = self.earlier_accounts(group, 1)
        there.seller_id, there.platform = here.seller_id, here.platform
        plant = Plant(
            "seller", "", "", [here.seller_id], group, [here.platform],
            earlier_group=group, earlier_sellers=[here.seller_id], spelling_earlier=here.platform,
            note="the same account (id and platform) was in the earlier case",
        )  # fmt: skip
        self.plants.append(plant)
        return plant

    def unconfirmed(self, group: str, kind: str) -> Decoy:
        """A value of ``group`` on a partner account that was only complained about."""
        norm, _, here = self.pick_value(group, kind)
        spelling = respell(kind, norm, here)
        s = self._partner_account(group, "unconfirmed")
        self.partner.identifiers.append((s.index, kind, spelling))
        return Decoy(
            kind, norm, spelling, f"partner: {s.seller_id} (a complaint, no test buy)",
            "the partner never confirmed this account, so it is not on the partner's list",
        )  # fmt: skip


def _near_miss(planter: _Planter, group: str) -> Decoy:
    """A phone of ``group`` with its last digit changed: a different number, no match."""
    norm, _, _ = planter.pick_value(group, "phone")
    taken = set(planter.ids["value_norm"])
    last = int(norm[-1])
    other = next(
        norm[:-1] + str((last + k) % 10) for k in range(1, 10)
        if norm[:-1] + str((last + k) % 10) not in taken
    )  # fmt: skip
    spelling = respell("phone", other, set())
    (s,) = planter.earlier_accounts(group, 1)
    planter.earlier.identifiers.append((s.index, "phone", spelling))
    return Decoy(
        "phone", other, spelling, f"earlier case: {s.seller_id} ({group})",
        f"one digit away from {norm} of the current {group}: another number, no match",
    )  # fmt: skip


def _weak_address(planter: _Planter, group: str) -> Decoy:
    """A registered address of ``group`` on an earlier account: addresses are weak (many
    shops share a building), so they link and match nothing by default."""
    norm, _, here = planter.pick_value(group, "address")
    (s,) = planter.earlier_accounts(group, 1)
    planter.earlier.identifiers.append((s.index, "address", sorted(here)[0]))
    return Decoy(
        "address", norm, sorted(here)[0], f"earlier case: {s.seller_id} ({group})",
        "an address is a weak identifier: not matched unless linking includes weak kinds",
    )  # fmt: skip


def _hotline(planter: _Planter) -> Decoy:
    """The logistics park's hotline on earlier ring accounts and on partner accounts (two
    of them confirmed counterfeiters): infrastructure everywhere, it matches nothing."""
    spelling = f"{P.HUB.hotline_digits[:3]}-{P.HUB.hotline_digits[3:6]}-{P.HUB.hotline_digits[6:]}"
    for s in planter.earlier_accounts("putian-ring", 3):
        planter.earlier.identifiers.append((s.index, "phone", spelling))
    confirmed = sorted(
        {i for i, _, _, verdict, _ in planter.partner.evidence if verdict == "counterfeit"}
    )
    others = [s.index for s in planter.partner.sellers if s.index not in confirmed]
    chosen = confirmed[:2] + others[: _HOTLINE_PARTNER_ACCOUNTS - 2]
    for i in chosen:
        planter.partner.identifiers.append((i, "phone", P.HUB.hotline_digits))
    norm = id_frame(planter.current)
    value = norm.loc[norm["value"].isin(planter.current.infrastructure), "value_norm"].iloc[0]
    return Decoy(
        "phone", str(value), spelling,
        f"this case: {P.HUB.n_sellers} hub accounts; earlier case: the hub and 3 accounts of "
        f"putian-ring; partner: {len(chosen)} accounts, 2 of them confirmed counterfeiters",
        "a courier hotline on hundreds of accounts is infrastructure: it links nothing, "
        "matches nothing and never goes on an exchange list",
    )  # fmt: skip


def plant(
    seed: int, current: Population, earlier: Population, partner: Population
) -> tuple[list[Plant], list[Decoy], dict[str, int]]:
    """Plant the shared identities and the decoys; returns them and the chance collisions
    dropped from the earlier case and the partner before planting."""
    ids = id_frame(current)
    hotline = ids["value"].isin(current.infrastructure)  # the decoy everyone holds: kept
    taken = set(zip(ids.loc[~hotline, "kind"], ids.loc[~hotline, "value_norm"], strict=True))
    dropped = {
        "earlier": _drop_collisions(earlier, taken),
        "partner": _drop_collisions(partner, taken),
    }
    p = _Planter(np.random.default_rng([seed, 77]), current, earlier, partner)
    for group, kind, earlier_side, partner_side, note in _SHARED:
        p.shared(group, kind, earlier_side, partner_side, note)
    p.returning_account("putian-ring")
    decoys = [
        p.unconfirmed("fengze-ring", "phone"),
        _hotline(p),
        _near_miss(p, "putian-ring"),
        _weak_address(p, "putian-ring"),
    ]
    for i, s in enumerate(partner.sellers):  # a few genuine test buys: not confirmed either
        if i % 9 == 4 and all(e[0] != s.index for e in partner.evidence):
            partner.evidence.append((s.index, s.brands[0], "test_buy", "genuine", "2025-06-12"))
    return p.plants, decoys, dropped


def plants_frame(plants: list[Plant]) -> pd.DataFrame:
    """The planted matches as the rows of ``planted.csv`` (lists joined with ``;``)."""
    rows: list[dict[str, Any]] = []
    for plant in plants:
        row = dataclasses.asdict(plant)
        for key in ("this_sellers", "spelling_here", "earlier_sellers", "partner_sellers"):
            row[key] = ";".join(row[key])
        rows.append(row)
    return pd.DataFrame(rows)
