"""Synthetic identifiers for the demo, written the messy ways platform exports write them.

Every value is made up: phone numbers, bank cards (Luhn-valid), 18-character resident ID
numbers (checksum-valid, ISO 7064 MOD 11-2), device ids and payment accounts are drawn at
random and never repeat unless the demo shares them on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from workbench.demo._places import (
    CARD_BINS,
    EMAIL_DOMAINS,
    GIVEN,
    MOBILE_PREFIXES,
    ROADS,
    SURNAMES,
    City,
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_METRES_PER_DEGREE = 111_320.0


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def luhn_complete(body: str) -> str:
    """``body`` plus the Luhn check digit bank card numbers end with."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the digit left of the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def id_check_digit(body17: str) -> str:
    """Check character of an 18-character Chinese resident ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


class IdentityFactory:
    """Draw unique identifier values and render them in raw export formats."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._used: set[tuple[str, str]] = set()

    def _unique(self, kind: str, make: Callable[[], str]) -> str:
        while True:
            value = make()
            key = (kind, value.casefold())
            if key not in self._used:
                self._used.add(key)
                return value

    def new(self, kind: str, city: City) -> str:
        """A fresh canonical value of ``kind`` (id documents carry ``city``'s region code)."""
        rng = self.rng
        if kind == "phone":
            return self._unique(kind, lambda: str(rng.choice(MOBILE_PREFIXES)) + _digits(rng, 8))
        if kind == "email":
            return self._unique(kind, self._email)
        if kind == "bank_card":
            length = 19 if rng.random() < 0.5 else 16
            return self._unique(
                kind, lambda: luhn_complete(str(rng.choice(CARD_BINS)) + _digits(rng, length - 7))
            )
        if kind == "id_document":
            return self._unique(kind, lambda: self._id_number(city.id_region))
        if kind == "device":
            return self._unique(kind, self._device)
        if kind == "payment_account":
            return self._unique(kind, lambda: "2088" + _digits(rng, 12))
        raise ValueError(f"no generator for identifier kind {kind!r}")

    def _email(self) -> str:
        rng = self.rng
        domain = str(rng.choice(EMAIL_DOMAINS))
        if domain in ("qq.com", "foxmail.com") and rng.random() < 0.7:
            return str(rng.integers(10_000_000, 3_000_000_000)) + "@" + domain
        surname = str(rng.choice(SURNAMES))
        given = str(rng.choice(GIVEN))
        style = rng.integers(0, 3)
        local = (
            f"{surname.capitalize()}{given.capitalize()}{rng.integers(1, 999)}"
            if style == 0
            else f"{given}.{surname}{rng.integers(60, 100)}"
            if style == 1
            else f"{surname}_{given}{rng.integers(1980, 2006)}"
        )
        return f"{local}@{domain}"

    def _id_number(self, region: str) -> str:
        rng = self.rng
        birth = np.datetime64("1962-01-01") + int(rng.integers(0, 15_000))
        body = region + str(birth).replace("-", "") + _digits(self.rng, 3)
        return body + id_check_digit(body)

    def _device(self) -> str:
        if self.rng.random() < 0.55:  # Android id: 16 hex digits
            return "".join(f"{b:02x}" for b in self.rng.integers(0, 256, 8))
        h = "".join(f"{b:02X}" for b in self.rng.integers(0, 256, 16))  # iOS vendor id
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def render(self, kind: str, value: str) -> str:
        """``value`` as one export or another writes it (case, spaces, dashes, prefix)."""
        pick = int(self.rng.integers(0, 4))
        if kind == "phone" and len(value) == 11:
            return (
                f"+86 {value[:3]} {value[3:7]} {value[7:]}",
                f"0086-{value}",
                value,
                f"{value[:3]}-{value[3:7]}-{value[7:]}",
            )[pick]
        if kind == "phone":  # 400 hotlines
            return (
                f"{value[:3]}-{value[3:6]}-{value[6:]}",
                value,
                f"{value[:3]} {value[3:6]} {value[6:]}",
                value,
            )[pick]
        if kind == "email":
            return (value, value.lower(), value.upper(), value)[pick]
        if kind == "bank_card":
            groups = [value[i : i + 4] for i in range(0, len(value), 4)]
            return (" ".join(groups), "-".join(groups), value, value)[pick]
        if kind == "device":
            return (value, value.lower(), value.upper(), value)[pick]
        return value


def offset(lat: float, lon: float, distance_m: float, bearing: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lon) on ``bearing`` (radians), to 6 decimals."""
    dlat = distance_m * math.cos(bearing) / _METRES_PER_DEGREE
    dlon = distance_m * math.sin(bearing) / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def jitter(rng: np.random.Generator, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
    """A point scattered around (lat, lon) with ``sigma_m`` metres spread on each axis."""
    dy, dx = rng.normal(0.0, sigma_m, 2)
    return offset(lat, lon, math.hypot(dx, dy), math.atan2(dx, dy))


def street_address(rng: np.random.Generator, city: City, district: str | None = None) -> str:
    """A plausible street address in ``city``: province, city, district, road, number."""
    district = district or str(rng.choice(city.districts))
    road = str(rng.choice(ROADS))
    number = int(rng.integers(1, 400))
    tail = (
        f"{rng.integers(1, 12)}栋{rng.integers(1, 7)}0{rng.integers(1, 9)}"
        if rng.random() < 0.4
        else ""
    )
    return f"{city.prefix_cn}{district}{road}{number}号{tail}"
