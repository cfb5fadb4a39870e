"""FollowTheMoney entities for Aleph: accounts, the people and bank accounts behind them.

One JSON object per line, ``{"id", "schema", "properties"}``, as ``ftm`` and ``alephclient
write-entities`` read them. A seller account is a ``Company`` (the shop) with its
``UserAccount`` on the platform; phones and e-mails are properties of the shop; an ID
document on the account is a ``Person`` who owns the shop (``Ownership``); bank cards and
payment accounts are ``BankAccount`` assets the shop owns; devices and other identifiers are
``Identification`` records; each site is an ``Address`` with coordinates. Accounts that share
a phone, a person or a bank account meet in the same entity, which is how Aleph links them.

In the partner profile identifiers arrive as tokens: every one becomes an ``Identification``
(so tokens still match across bundles), and no ``Person`` or ``BankAccount`` is made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ftm_entities", "write_ftm"]

COUNTRY_CODES = {"China": "cn", "中国": "cn"}
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BANK_KINDS = {"bank_card": "bank card", "payment_account": "payment account"}
# longest value FollowTheMoney accepts per property type (names 384, addresses 250, ...)
_MAX_LENGTH = {"name": 384, "address": 250, "full": 250, "notes": 65_000}
_IDENTIFIER_PROPS = {"idNumber", "accountNumber", "number", "phone"}
_IDENTIFIER_MAX = 64
_STRING_MAX = 1_024


def _entity_id(*parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8"), usedforsecurity=False)
    return "cw-" + digest.hexdigest()


def _fit(name: str, value: str) -> str | None:
    """``value`` cut to what FtM accepts for the property; None for an overlong identifier."""
    if name in _IDENTIFIER_PROPS:
        return value if len(value) <= _IDENTIFIER_MAX else None
    limit = _MAX_LENGTH.get(name, _STRING_MAX)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _entity(schema: str, entity_id: str, **properties: Iterable[Any]) -> dict[str, Any]:
    props = {}
    for name, values in properties.items():
        fitted = (_fit(name, str(v)) for v in values if v is not None and str(v) != "")
        cleaned = sorted({v for v in fitted if v})
        if cleaned:
            props[name] = cleaned
    return {"id": entity_id, "schema": schema, "properties": props}


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _site_addresses(sites: pd.DataFrame) -> Iterator[dict[str, Any]]:
    for _, site in sites.iterrows():
        yield _entity(
            "Address",
            _entity_id("site", str(site["run_id"]), str(site["site_id"])),
            name=[f"Site {site['site_id']}"],
            full=[_text(site.get("address"))],
            latitude=[f"{float(site['lat']):.6f}"],
            longitude=[f"{float(site['lon']):.6f}"],
            country=[COUNTRY_CODES.get(_text(site.get("country")), "")],
            region=[_text(site.get("province"))],
            city=[_text(site.get("prefecture")) or _text(site.get("place"))],
        )


def _identifier_entities(
    company: str, rows: pd.DataFrame, partner: bool
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Properties of the shop and the entities its identifiers make."""
    props: dict[str, list[str]] = {"phone": [], "email": []}
    out: list[dict[str, Any]] = []
    for kind, value in zip(rows["kind"].astype(str), rows["value_norm"].astype(str), strict=True):
        if not value or len(value) > _IDENTIFIER_MAX:
            continue  # nothing, or not an identifier FtM can hold (kept in identifiers.csv)
        if not partner and kind == "phone" and _PHONE.match(value):
            props["phone"].append(value)
        elif not partner and kind == "email" and _EMAIL.match(value):
            props["email"].append(value)
        elif not partner and kind == "id_document":
            person = _entity_id("person", value)
            out.append(_entity("Person", person, name=[f"ID {value}"], idNumber=[value]))
            out.append(
                _entity(
                    "Ownership",
                    _entity_id("owns", person, company),
                    owner=[person],
                    asset=[company],
                    role=["holder of the ID document on the seller account"],
                )
            )
        elif not partner and kind in _BANK_KINDS:
            account = _entity_id("account", value)
            out.append(
                _entity(
                    "BankAccount",
                    account,
                    name=[f"{_BANK_KINDS[kind]} {value}"],
                    accountNumber=[value],
                    accountType=[_BANK_KINDS[kind]],
                )
            )
            out.append(
                _entity(
                    "Ownership",
                    _entity_id("owns", company, account),
                    owner=[company],
                    asset=[account],
                    role=[f"{_BANK_KINDS[kind]} on the seller account"],
                )
            )
        else:
            label = f"{kind} (pseudonymised)" if partner else kind
            out.append(
                _entity(
                    "Identification",
                    _entity_id("identification", company, kind, value),
                    holder=[company],
                    number=[value],
                    type=[label],
                )
            )
    return props, out


def ftm_entities(
    sellers: pd.DataFrame,
    identifiers: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    profile: str,
) -> list[dict[str, Any]]:
    """The entities of a bundle, deduplicated by id, in a stable order."""
    partner = profile == "partner"
    entities: dict[str, dict[str, Any]] = {}

    def add(entity: dict[str, Any]) -> None:
        entities.setdefault(entity["id"], entity)

    for entity in _site_addresses(sites):
        add(entity)
    by_seller = dict(tuple(identifiers.groupby("seller_id"))) if len(identifiers) else {}
    for _, seller in sellers.iterrows():
        seller_id = str(seller["seller_id"])
        company = _entity_id("seller", seller_id)
        rows = by_seller.get(seller_id, identifiers.iloc[:0])
        props, linked = _identifier_entities(company, rows, partner)
        address = _text(seller.get("registered_address"))
        address_id = _entity_id("address", address) if address else ""
        if address:
            add(_entity("Address", address_id, full=[address]))
        name = _text(seller.get("name")) if not partner else ""
        notes = [f"Seller account {seller_id} on {_text(seller.get('platform')) or 'a platform'}"]
        if len(name) > _MAX_LENGTH["name"]:
            notes.append(f"Full shop name ({len(name):,} characters): {name}")
        if _text(seller.get("network_id")):
            notes.append(f"Linked network {seller['network_id']}")
        add(
            _entity(
                "Company",
                company,
                name=[name or f"Seller account {seller_id}"],
                address=[address],
                addressEntity=[address_id],
                notes=notes,
                **props,
            )
        )
        add(
            _entity(
                "UserAccount",
                _entity_id("account", seller_id),
                username=[seller_id],
                service=[_text(seller.get("platform"))],
                owner=[company],
            )
        )
        for entity in linked:
            add(entity)
    return list(entities.values())


def write_ftm(entities: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write entities as line-delimited JSON (UTF-8)."""
    target = Path(path)
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        for entity in entities:
            handle.write(json.dumps(entity, ensure_ascii=False, sort_keys=True) + "\n")
    return target
