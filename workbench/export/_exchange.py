"""Exchange lists: confirmed counterfeiters' identifiers shared with partner platforms as
keyed hashes, signed like the bundles (the format: ``docs/exchange-list.md``).

Members of an exchange share a secret key (32 bytes or more). Each identifier travels as
HMAC-SHA-256 under a key of its kind, so a partner without the shared key learns nothing
and a partner with it can only test values it already holds::

    kind_key = HMAC-SHA-256(shared_key, "counterfeit-workbench exchange v1 kind" 0x1F kind)
    hash     = hex(HMAC-SHA-256(kind_key, kind 0x1F value_norm))

``value_norm`` is the value as linking normalises it (phones in E.164, e-mails case-folded,
card and document numbers stripped), so two platforms that write a number differently
still meet. Only matchable identifiers go out (infrastructure such as a courier hotline
never does; see :mod:`workbench.case._xref_index`).

*Confirmed counterfeiters* are the sellers with a test buy (``evidence.kind`` =
``test_buy``) whose verdict is ``counterfeit`` (verdict ``counterfeit-test-buy``, the
evidence's brand and date), and every seller of a site of the latest clustering run whose
latest review is ``confirmed`` (verdict ``site-confirmed``, the site's leading brand, the
review's date). Complaints and takedowns alone do not make a seller confirmed.

>>> export_exchange_list(case, "list.json", shared_key=key)              # doctest: +SKIP
>>> import_exchange_list(case, "list.json", partner_key="partner.pem",
...                      shared_key=key)                                 # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from workbench.case._case import Case

__all__ = [
    "FORMAT",
    "VERSION",
    "ExchangeList",
    "canonical_bytes",
    "confirmed_counterfeiters",
    "export_exchange_list",
    "identifier_hashes",
    "import_exchange_list",
    "key_id",
    "read_exchange_list",
    "read_shared_key",
]

FORMAT = "counterfeit-workbench/exchange-list"
VERSION = 1
HASHING = "hmac-sha256/kind-key/v1"
MIN_KEY_BYTES = 32
ENTRY_FIELDS = ("kind", "hash", "brand", "verdict", "date")
_KIND_LABEL = b"counterfeit-workbench exchange v1 kind\x1f"
_KEY_ID_LABEL = b"counterfeit-workbench exchange v1 key-id"
_MAX_BYTES = 1 << 30  # a list is read whole: 1 GiB is ten million entries
_HEX64 = r"^[0-9a-f]{64}$"
_DATE = r"^(\d{4}-\d{2}-\d{2})?$"
VERDICT_WORDS = {
    "counterfeit-test-buy": "counterfeit test buy",
    "site-confirmed": "site confirmed counterfeit",
}


# -- keys ----------------------------------------------------------------------------------
def read_shared_key(path: str | os.PathLike[str]) -> bytes:
    """The exchange's shared key from a file: hex digits (white space ignored) or raw bytes,
    at least 32 bytes either way."""
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"shared key file {source} does not exist")
    data = source.read_bytes()
    text = b"".join(data.split())
    key = (
        bytes.fromhex(text.decode("ascii")) if re.fullmatch(rb"(?:[0-9a-fA-F]{2})+", text) else data
    )
    if len(key) < MIN_KEY_BYTES:
        raise InputError(
            f"shared key {source} holds {len(key)} bytes; at least {MIN_KEY_BYTES} are needed. "
            "Agree a new key with the exchange's members (64 hex digits, e.g. from "
            '`python -c "import secrets; print(secrets.token_hex(32))"`)'
        )
    return key


def key_id(shared_key: bytes) -> str:
    """A public name of the shared key (16 hex digits): lists hashed with another key
    are told apart without revealing either key."""
    return hmac.new(shared_key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _kind_key(shared_key: bytes, kind: str) -> bytes:
    return hmac.digest(shared_key, _KIND_LABEL + kind.encode("utf-8"), "sha256")


def identifier_hashes(kind: pd.Series, value_norm: pd.Series, shared_key: bytes) -> np.ndarray:
    """The 32-byte keyed hashes of identifiers as an (n, 4) uint64 array (hex of the bytes
    = the list's ``hash``). One HMAC per value, in C (OpenSSL), about 1 us each."""
    out = np.zeros((len(kind), 4), dtype=np.uint64)
    kinds = kind.astype(str).to_numpy()
    values = value_norm.astype(str).to_numpy()
    for name in pd.unique(kinds):
        rows = np.flatnonzero(kinds == name)
        prefix = name + "\x1f"
        messages = [(prefix + v).encode("utf-8") for v in values[rows]]
        digest = functools.partial(hmac.digest, _kind_key(shared_key, str(name)), digest="sha256")
        joined = b"".join(map(digest, messages))
        out[rows] = np.frombuffer(joined, dtype=np.uint64).reshape(-1, 4)
    return out


def _hex_to_words(hashes: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint64).reshape(-1, 4)


def _words_to_hex(words: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(words).tobytes().hex()
    return [raw[i : i + 64] for i in range(0, len(raw), 64)]


# -- the document --------------------------------------------------------------------------
def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """What is signed: the document without ``signature`` as JSON with sorted keys, no
    white space, UTF-8 (no floats ever appear in a list)."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def confirmed_counterfeiters(case: Case) -> pd.DataFrame:
    """seller_id, brand, verdict, date of every confirmed counterfeiter of the case (see the
    module docstring for what confirms a seller)."""
    evidence = pd.DataFrame(case.table("evidence"))
    buys = evidence[(evidence["verdict"] == "counterfeit") & (evidence["kind"] == "test_buy")]
    rows = [
        pd.DataFrame(
            {
                "seller_id": buys["seller_id"].astype(str),
                "brand": buys["brand"].fillna("").astype(str),
                "verdict": "counterfeit-test-buy",
                "date": pd.to_datetime(buys["date"]).dt.strftime("%Y-%m-%d").fillna(""),
            }
        )
    ]
    try:
        sites = case.sites()
    except KeyError:  # no clustering run: no reviewed site
        sites = None
    if sites is not None and len(sites):
        confirmed = sites[sites["status"] == "confirmed"]
        reviews = case.reviews(run_id=case.latest_run()).groupby("site_id").tail(1)
        when = dict(zip(reviews["site_id"], reviews["at"].astype(str).str[:10], strict=True))
        for _, site in confirmed.iterrows():  # a few confirmed sites: a loop over sites
            brand = str(site["brands"][0]) if len(site["brands"]) else ""
            rows.append(
                pd.DataFrame(
                    {
                        "seller_id": [str(s) for s in site["sellers"]],
                        "brand": brand,
                        "verdict": "site-confirmed",
                        "date": when.get(site["site_id"], ""),
                    }
                )
            )
    out = pd.concat(rows, ignore_index=True)
    return out.drop_duplicates(ignore_index=True).sort_values(
        ["seller_id", "verdict", "brand", "date"], ignore_index=True
    )


def _matchable(case: Case) -> pd.DataFrame:
    """seller_id, network_id, kind, value_norm of the case's matchable identifiers."""
    from workbench.case._xref_index import build_index

    index, _ = build_index(case._con, case.path, keep_values=True)
    ids, sellers = index.identifiers, index.sellers
    at = ids["seller"].to_numpy()
    return pd.DataFrame(
        {
            "seller_id": sellers["seller_id"].to_numpy()[at],
            "network_id": sellers["network_id"].to_numpy()[at],
            "kind": ids["kind"].to_numpy(),
            "value_norm": ids["value_norm"].to_numpy(),
        }
    )


def export_exchange_list(
    case: Case,
    path: str | os.PathLike[str],
    *,
    shared_key: bytes,
    keys_dir: str | os.PathLike[str] | None = None,
    issuer: str | None = None,
) -> Path:
    """Write the case's confirmed counterfeiters' identifiers as a signed exchange list.

    ``shared_key``: the exchange's key (:func:`read_shared_key`); ``keys_dir``: the
    organisation's keys (signing key); ``issuer``: the name partners see (default: the
    case's ``organisation`` setting). The export is recorded in the case's audit log.
    """
    from workbench.export._keys import load_keys

    if len(shared_key) < MIN_KEY_BYTES:
        raise InputError(f"shared_key: at least {MIN_KEY_BYTES} bytes, got {len(shared_key)}")
    keys = load_keys(keys_dir)
    who = issuer or case.settings().get("organisation") or ""
    if not who:
        raise InputError(
            "issuer: name the organisation partners will see (issuer=..., --issuer, or the "
            "case setting 'organisation')"
        )
    entries = _matchable(case).merge(confirmed_counterfeiters(case), on="seller_id")
    words = identifier_hashes(entries["kind"], entries["value_norm"], shared_key)
    entries = entries.assign(hash=_words_to_hex(words))[list(ENTRY_FIELDS)]
    entries = entries.drop_duplicates().sort_values(list(ENTRY_FIELDS), ignore_index=True)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "issuer": who,
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hashing": HASHING,
        "key_id": key_id(shared_key),
        "n_entries": len(entries),
        "entries": {f: entries[f].astype(str).tolist() for f in ENTRY_FIELDS},
    }
    signature = keys.sign(canonical_bytes(document))
    document["signature"] = {
        "algorithm": "ed25519",
        "key_fingerprint": keys.fingerprint,
        "value": base64.b64encode(signature).decode("ascii"),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    case.log(
        "export exchange list",
        {"path": str(target), "n_entries": len(entries), "key_id": document["key_id"]},
        [{"file": str(target), "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}],
    )
    return target


# -- reading and importing -----------------------------------------------------------------
@dataclass
class ExchangeList:
    """A verified list: its issuer, signer, key id and entries (one row each)."""

    issuer: str
    signed_by: str
    key_id: str
    created_at: str
    entries: pd.DataFrame
    sha256: str


def _load_document(source: Path) -> dict[str, Any]:
    if not source.is_file():
        raise NotFoundError(f"exchange list {source} does not exist")
    if source.stat().st_size > _MAX_BYTES:
        raise InputError(f"exchange list {source} is larger than {_MAX_BYTES >> 20} MiB")
    try:
        document = json.loads(source.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"exchange list {source} is not JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{source} is not an exchange list (its format is not {FORMAT!r})")
    if document.get("version") != VERSION or document.get("hashing") != HASHING:
        raise InputError(
            f"exchange list {source}: unknown format version {document.get('version')!r} "
            f"(hashing {document.get('hashing')!r}); this workbench reads version {VERSION} "
            f"({HASHING}). Upgrade counterfeit-workbench, or ask the partner for version 1"
        )
    return document


def _check_signature(source: Path, document: dict[str, Any], partner_pem: bytes) -> str:
    """The signer's fingerprint, once the signature verifies with the partner's key."""
    from workbench.export._keys import fingerprint, load_public_key, verify_signature

    key = load_public_key(partner_pem)
    expected = fingerprint(key)
    signature = document.get("signature")
    try:
        assert isinstance(signature, dict) and signature.get("algorithm") == "ed25519"
        raw = base64.b64decode(str(signature["value"]), validate=True)
        assert len(raw) == 64
    except (AssertionError, KeyError, ValueError) as error:
        raise InputError(
            f"exchange list {source}: no valid Ed25519 signature in it; refused"
        ) from error
    if verify_signature(key, canonical_bytes(document), raw):
        return expected
    named = str(signature.get("key_fingerprint", ""))
    if named and named != expected:
        raise InputError(
            f"exchange list {source}: wrong key: it was signed by {named}, the partner key "
            f"given is {expected}; refused. Get the partner's public key again (out of band)"
        )
    raise InputError(
        f"exchange list {source}: tampered content: the signature does not match the list "
        f"with the partner key {expected} (it was changed after signing); refused"
    )


def _entries(source: Path, document: dict[str, Any]) -> pd.DataFrame:
    """The entries as a frame, each field checked; the first bad entry is named."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = document.get("entries")
    n = document.get("n_entries")
    if not isinstance(columns, dict) or not isinstance(n, int):
        raise InputError(f"exchange list {source}: 'entries' and 'n_entries' are missing")
    arrays = {}
    for field in ENTRY_FIELDS:
        values = columns.get(field)
        if not isinstance(values, list) or len(values) != n:
            raise InputError(
                f"exchange list {source}: entries.{field} must be a list of {n} strings"
            )
        try:
            arrays[field] = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            bad = next(i for i, v in enumerate(values) if not isinstance(v, str))
            raise InputError(
                f"exchange list {source}: malformed entry {bad}: {field} is not a string"
            ) from None
    checks = {
        "hash": pc.match_substring_regex(arrays["hash"], _HEX64),
        "kind": pc.greater(pc.utf8_length(arrays["kind"]), 0),
        "date": pc.match_substring_regex(arrays["date"], _DATE),
    }
    for field, ok in checks.items():
        good = ok.fill_null(False).to_numpy(zero_copy_only=False)
        if not good.all():
            bad = int(np.flatnonzero(~good)[0])
            what = {"hash": "is not 64 lower-case hex digits", "kind": "is empty",
                    "date": "is not a YYYY-MM-DD date"}[field]  # fmt: skip
            raise InputError(f"exchange list {source}: malformed entry {bad}: {field} {what}")
    return pa.table(arrays).to_pandas()


def read_exchange_list(
    path: str | os.PathLike[str], *, partner_key: str | os.PathLike[str] | bytes
) -> ExchangeList:
    """Read and verify a partner's list: format version, signature with ``partner_key``
    (PEM bytes or a PEM file), then every entry. Refused with the reason otherwise."""
    source = Path(path)
    if not isinstance(partner_key, bytes) and not Path(partner_key).is_file():
        raise NotFoundError(f"partner key {partner_key} does not exist (a PEM public key file)")
    pem = partner_key if isinstance(partner_key, bytes) else Path(partner_key).read_bytes()
    document = _load_document(source)
    signer = _check_signature(source, document, pem)
    entries = _entries(source, document)
    return ExchangeList(
        issuer=str(document.get("issuer", "")),
        signed_by=signer,
        key_id=str(document.get("key_id", "")),
        created_at=str(document.get("created_at", "")),
        entries=entries,
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
    )


def import_exchange_list(
    case: Case,
    path: str | os.PathLike[str],
    *,
    partner_key: str | os.PathLike[str] | bytes,
    shared_key: bytes,
    partner: str | None = None,
) -> pd.DataFrame:
    """Verify a partner's list, flag the case's accounts whose identifiers are on it, and
    store the matches (``cross_references``, source ``partner``, replacing that partner's
    earlier import). Returns the matches stored.

    ``partner``: the name the matches carry (default: the list's issuer).
    """
    from workbench.case._xref import store_matches

    listed = read_exchange_list(path, partner_key=partner_key)
    if listed.key_id != key_id(shared_key):
        raise InputError(
            f"exchange list {path}: hashed with another shared key (key id {listed.key_id}, "
            f"yours {key_id(shared_key)}): nothing in it can match. Check which key the "
            "exchange uses"
        )
    name = partner or listed.issuer or "partner"
    mine = _matchable(case)
    kinds = set(listed.entries["kind"])
    mine = mine[mine["kind"].isin(kinds)].reset_index(drop=True)
    frame = _flag(mine, listed, shared_key, name)
    frame = frame.assign(source_path=str(path), source_hash=listed.signed_by)
    return store_matches(
        case, frame, source="partner", names=[name], action="import exchange list",
        parameters={"partner": name, "n_entries": len(listed.entries), "n_matches": len(frame),
                    "key_id": listed.key_id},
        inputs=[{"file": str(path), "sha256": listed.sha256, "signed_by": listed.signed_by,
                 "issuer": listed.issuer, "created_at": listed.created_at}],
    )  # fmt: skip


def _flag(mine: pd.DataFrame, listed: ExchangeList, shared_key: bytes, name: str) -> pd.DataFrame:
    """Rows of the case's identifiers whose keyed hash (and kind) is on the list."""
    from workbench.case._xref import KIND_LABELS

    entries = listed.entries
    theirs = (
        _hex_to_words(entries["hash"].tolist()) if len(entries) else np.zeros((0, 4), np.uint64)
    )
    ours = identifier_hashes(mine["kind"], mine["value_norm"], shared_key)
    mine_rows, entry_rows = _pairs(ours[:, 0], theirs[:, 0])
    same = (ours[mine_rows] == theirs[entry_rows]).all(axis=1)
    same &= mine["kind"].to_numpy()[mine_rows] == entries["kind"].to_numpy()[entry_rows]
    mine_rows, entry_rows = mine_rows[same], entry_rows[same]
    found = mine.iloc[mine_rows].reset_index(drop=True)
    listed_rows = entries.iloc[entry_rows].reset_index(drop=True)
    label = found["kind"].map(KIND_LABELS).fillna(found["kind"].str.replace("_", " "))
    frame = found.assign(
        brand=listed_rows["brand"],
        verdict=listed_rows["verdict"],
        verdict_date=listed_rows["date"],
        match="identifier",
        source_name=name,
    )
    words = listed_rows["verdict"].map(VERDICT_WORDS).fillna(listed_rows["verdict"])
    details = listed_rows["brand"] + ", " + words + ", " + listed_rows["date"]
    frame["explanation"] = (
        "this " + label + " is on " + name + "'s list of confirmed counterfeiters (" + details
        + ")"
    )  # fmt: skip
    return frame


def _pairs(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(our rows, their rows) whose first 64-bit words are equal (a hash join)."""
    codes, unique = pd.factorize(theirs)
    order = np.argsort(codes, kind="stable")
    count = np.bincount(codes, minlength=len(unique))
    start = np.cumsum(count) - count
    code = pd.Index(unique).get_indexer(ours)
    mine = np.flatnonzero(code >= 0)
    code = code[mine]
    n = count[code]
    mine = np.repeat(mine, n)
    offset = np.arange(len(mine)) - np.repeat(np.cumsum(n) - n, n)
    return mine, order[np.repeat(start[code], n) + offset]
