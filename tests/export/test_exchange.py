"""Exchange lists: confirmed counterfeiters' identifiers as keyed hashes, signed, imported."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.case._case import open_case
from workbench.case._xref import cross_references
from workbench.errors import InputError
from workbench.export._exchange import (
    canonical_bytes,
    confirmed_counterfeiters,
    export_exchange_list,
    identifier_hashes,
    import_exchange_list,
    read_shared_key,
)
from workbench.export._keys import PUBLIC_KEY, init_keys, load_keys
from workbench.intake._table import load_table

KEY_A = bytes(range(32))  # the exchange's shared key
KEY_B = bytes(range(1, 33))  # another exchange's key
COURIER = "400-820-8820"


def _ingest(case, folder: Path, **frames: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for table, frame in frames.items():
        frame.to_csv(folder / f"{table}.csv", index=False)
        results.append(load_table(folder / f"{table}.csv", table))
    case.ingest(results)


@pytest.fixture
def brand_case(tmp_path: Path):
    """The exporting platform: A1 has a counterfeit test buy, A2 only a complaint (not
    confirmed), A3 a genuine test buy. A1 carries a bank card, a phone and the courier
    hotline (25 accounts: infrastructure, never exported)."""
    sellers = pd.DataFrame({"seller_id": ["A1", "A2", "A3"] + [f"C{i}" for i in range(24)]})
    sellers["platform"] = "tmall"
    rows = [
        ("A1", "bank_card", "6222 0212 3456 7890"),
        ("A1", "phone", "13800138000"),
        ("A2", "phone", "13900139000"),
        ("A3", "email", "shop3@163.com"),
        ("A1", "phone", COURIER),
    ] + [(f"C{i}", "phone", COURIER) for i in range(24)]
    evidence = pd.DataFrame(
        {
            "evidence_id": ["E1", "E2", "E3"],
            "seller_id": ["A1", "A2", "A3"],
            "brand": ["Nike", "Nike", "Adidas"],
            "kind": ["test_buy", "complaint", "test_buy"],
            "verdict": ["counterfeit", "counterfeit", "genuine"],
            "date": ["2026-05-01", "2026-05-02", "2026-05-03"],
        }
    )
    case = open_case(tmp_path / "brand.gpkg", actor="brand-analyst")
    _ingest(
        case, tmp_path / "brand-exports", sellers=sellers,
        identifiers=pd.DataFrame(rows, columns=["seller_id", "kind", "value"]), evidence=evidence,
    )  # fmt: skip
    case.link_sellers()
    yield case
    case.close()


@pytest.fixture
def partner_case(tmp_path: Path):
    """The importing platform: P1 holds A1's card (another spelling), P2 A1's phone in
    E.164, P3 A2's phone (A2 is not confirmed: no match), P4 the hotline."""
    rows = [
        ("P1", "bank_card", "6222-0212-3456-7890"),
        ("P2", "phone", "+86 138 0013 8000"),
        ("P3", "phone", "13900139000"),
        ("P4", "phone", COURIER),
    ]
    case = open_case(tmp_path / "partner.gpkg", actor="partner-analyst")
    _ingest(
        case, tmp_path / "partner-exports",
        sellers=pd.DataFrame({"seller_id": ["P1", "P2", "P3", "P4"], "platform": "jd"}),
        identifiers=pd.DataFrame(rows, columns=["seller_id", "kind", "value"]),
    )  # fmt: skip
    yield case
    case.close()


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return {"brand": init_keys(tmp_path / "keys-brand"), "other": init_keys(tmp_path / "keys-x")}


@pytest.fixture
def exported(brand_case, keys, tmp_path: Path) -> Path:
    return export_exchange_list(
        brand_case, tmp_path / "list.json", shared_key=KEY_A, keys_dir=keys["brand"],
        issuer="Brand IP team",
    )  # fmt: skip


def _resign(document: dict, keys_dir: Path, path: Path) -> Path:
    document["signature"]["value"] = base64.b64encode(
        load_keys(keys_dir).sign(canonical_bytes(document))
    ).decode("ascii")
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_only_confirmed_counterfeiters_go_out(brand_case, exported: Path) -> None:
    confirmed = confirmed_counterfeiters(brand_case)
    assert confirmed["seller_id"].tolist() == ["A1"]  # not A2 (complaint), not A3 (genuine)
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["format"] == "counterfeit-workbench/exchange-list"
    assert document["version"] == 1 and document["n_entries"] == 2  # card and phone, no hotline
    entries = pd.DataFrame(document["entries"])
    assert sorted(entries["kind"]) == ["bank_card", "phone"]
    assert set(entries["brand"]) == {"Nike"} and set(entries["date"]) == {"2026-05-01"}
    assert set(entries["verdict"]) == {"counterfeit-test-buy"}
    # the hash as docs/exchange-list.md defines it, computed here independently
    kind_key = hmac.new(
        KEY_A, b"counterfeit-workbench exchange v1 kind\x1fphone", hashlib.sha256
    ).digest()
    expected = hmac.new(kind_key, b"phone\x1f+8613800138000", hashlib.sha256).hexdigest()
    assert entries.loc[entries["kind"] == "phone", "hash"].tolist() == [expected]
    assert "13800138000" not in exported.read_text(encoding="utf-8")
    assert brand_case.audit()["action"].iloc[-1] == "export exchange list"


def test_import_flags_the_partner_accounts(partner_case, exported, keys) -> None:
    found = import_exchange_list(
        partner_case, exported, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_A
    )
    assert sorted(found["seller_id"]) == ["P1", "P2"]  # not P3 (A2 unconfirmed), not P4
    card = found[found["kind"] == "bank_card"].iloc[0]
    assert card["source"] == "partner" and card["source_name"] == "Brand IP team"
    assert card["source_hash"] == load_keys(keys["brand"]).fingerprint
    assert card["explanation"] == (
        "this bank card is on Brand IP team's list of confirmed counterfeiters "
        "(Nike, counterfeit test buy, 2026-05-01)"
    )
    again = import_exchange_list(
        partner_case, exported, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_A
    )
    assert len(cross_references(partner_case, source="partner")) == len(again) == 2
    assert partner_case.verify_audit().ok


def test_different_shared_keys_match_nothing(partner_case, exported, keys) -> None:
    kinds = pd.Series(["phone", "bank_card"])
    values = pd.Series(["+8613800138000", "6222021234567890"])
    a, b = identifier_hashes(kinds, values, KEY_A), identifier_hashes(kinds, values, KEY_B)
    assert not (a[:, None, :] == b[None, :, :]).all(axis=2).any()
    with pytest.raises(InputError, match=r"hashed with another shared key"):
        import_exchange_list(
            partner_case, exported, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_B
        )
    assert cross_references(partner_case).empty


def test_identifier_hashes_are_hmac_sha256_under_each_kinds_key() -> None:
    # every length from empty to three SHA-256 blocks (the padding's edge cases at 55/56
    # and 119/120 bytes with the kind in front), non-ASCII text, three kinds mixed, and
    # enough values (12,000 of a kind) that they are split between two threads
    rng = np.random.default_rng(7)
    values = ["", "é", "电话13800138000", *("x" * n for n in range(1, 200))]
    values += [f"+86{n}" for n in rng.integers(10**9, 10**11, 36_000)]
    kinds = pd.Series([("phone", "email", "bank_card")[i % 3] for i in range(len(values))])
    got = identifier_hashes(kinds, pd.Series(values), KEY_A)
    for i, (kind, value) in enumerate(zip(kinds, values, strict=True)):
        kind_key = hmac.new(
            KEY_A, b"counterfeit-workbench exchange v1 kind\x1f" + kind.encode(), hashlib.sha256
        ).digest()
        expected = hmac.new(kind_key, f"{kind}\x1f{value}".encode(), hashlib.sha256).digest()
        assert got[i].tobytes() == expected, (kind, value)


def test_a_tampered_list_is_refused(partner_case, exported, keys, tmp_path) -> None:
    document = json.loads(exported.read_text(encoding="utf-8"))
    document["entries"]["brand"][0] = "Adidas"
    (tmp_path / "tampered.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError, match=r"tampered content: the signature does not match"):
        import_exchange_list(
            partner_case, tmp_path / "tampered.json", partner_key=keys["brand"] / PUBLIC_KEY,
            shared_key=KEY_A,
        )  # fmt: skip
    assert cross_references(partner_case).empty


def test_a_list_as_exported_is_verified_over_its_own_bytes(
    partner_case, exported, keys, monkeypatch
) -> None:
    from workbench.export import _exchange

    def not_again(document):  # the file as written is what was signed: no re-serialising
        raise AssertionError("canonical_bytes should not be needed for a list as exported")

    monkeypatch.setattr(_exchange, "canonical_bytes", not_again)
    found = import_exchange_list(
        partner_case, exported, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_A
    )
    assert sorted(found["seller_id"]) == ["P1", "P2"]


def _member(text: str) -> str:
    """The list's ``,"signature":{...}`` member as written (its object holds no braces)."""
    start = text.index(',"signature":')
    return text[start : text.index("}", start) + 1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace('"Nike"', '"Nika"', 1),  # an edited byte
        # the signature member copied into the entries: found twice, so the file is not
        # taken as written; the document with that member is not what was signed
        lambda text: text.replace('},"format"', _member(text) + '},"format"', 1),
    ],
)
def test_a_list_tampered_in_its_bytes_is_refused(
    partner_case, exported, keys, tmp_path, damage
) -> None:
    text = exported.read_text(encoding="utf-8")
    changed = damage(text)
    assert changed != text and json.loads(changed)["signature"]  # still a readable list
    (tmp_path / "tampered.json").write_text(changed, encoding="utf-8")
    with pytest.raises(InputError, match=r"tampered content: the signature does not match"):
        import_exchange_list(
            partner_case, tmp_path / "tampered.json", partner_key=keys["brand"] / PUBLIC_KEY,
            shared_key=KEY_A,
        )  # fmt: skip
    assert cross_references(partner_case).empty


def test_a_list_checked_with_the_wrong_key_is_refused(partner_case, exported, keys) -> None:
    with pytest.raises(InputError, match=r"wrong key: it was signed by SHA256:"):
        import_exchange_list(
            partner_case, exported, partner_key=keys["other"] / PUBLIC_KEY, shared_key=KEY_A
        )


def test_an_unknown_version_is_refused(partner_case, exported, keys, tmp_path) -> None:
    document = json.loads(exported.read_text(encoding="utf-8"))
    document["version"] = 2
    path = _resign(document, keys["brand"], tmp_path / "v2.json")
    with pytest.raises(InputError, match=r"unknown format version 2"):
        import_exchange_list(
            partner_case, path, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_A
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hash", "xyz", r"malformed entry 1: hash is not 64 lower-case hex digits"),
        ("date", "1 May", r"malformed entry 1: date is not a YYYY-MM-DD date"),
        ("kind", "", r"malformed entry 1: kind is empty"),
        ("brand", 7, r"malformed entry 1: brand is not a string"),
    ],
)
def test_malformed_entries_are_named(
    partner_case, exported, keys, tmp_path, field, value, message
) -> None:
    # signed after the damage (a partner's bug, not tampering): the entry check names it
    document = json.loads(exported.read_text(encoding="utf-8"))
    document["entries"][field][1] = value
    path = _resign(document, keys["brand"], tmp_path / "bad.json")
    with pytest.raises(InputError, match=message):
        import_exchange_list(
            partner_case, path, partner_key=keys["brand"] / PUBLIC_KEY, shared_key=KEY_A
        )


def test_shared_key_files(tmp_path: Path) -> None:
    (tmp_path / "hex.key").write_text(KEY_A.hex() + "\n", encoding="ascii")
    (tmp_path / "raw.key").write_bytes(bytes(np.arange(40, dtype=np.uint8)))
    (tmp_path / "short.key").write_text("00ff" * 8, encoding="ascii")  # 16 bytes
    assert read_shared_key(tmp_path / "hex.key") == KEY_A
    assert len(read_shared_key(tmp_path / "raw.key")) == 40
    with pytest.raises(InputError, match=r"short.key holds 16 bytes; at least 32"):
        read_shared_key(tmp_path / "short.key")


def test_a_site_confirmed_on_review_confirms_its_sellers(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ships = pd.DataFrame(
        {
            "shipment_id": [f"W{i}" for i in range(600)],
            "seller_id": rng.choice(["S1", "S2"], 600),
            "lat": 25.4394 + rng.choice([0.0, 0.0003], 600),
            "lon": 119.0103,
            "brand": "Nike",
            "shipped_at": "2026-03-02",
        }
    )
    with open_case(tmp_path / "c.gpkg") as case:
        _ingest(
            case, tmp_path / "ex", sellers=pd.DataFrame({"seller_id": ["S1", "S2"]}),
            shipments=ships,
        )  # fmt: skip
        case.find_sites(300)
        site = case.sites()["site_id"].iloc[0]
        case.review(site, status="confirmed", note="raid")
        confirmed = confirmed_counterfeiters(case)
    assert confirmed["seller_id"].tolist() == ["S1", "S2"]
    assert set(confirmed["verdict"]) == {"site-confirmed"} and set(confirmed["brand"]) == {"Nike"}
