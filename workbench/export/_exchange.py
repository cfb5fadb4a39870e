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
import hashlib
import hmac
import itertools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.case._fingerprint import load_ahead
from workbench.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.team._case import TeamCase

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
    = the list's ``hash``): HMAC-SHA-256 under each kind's key, computed in a numba kernel
    over the column's Arrow buffers (no Python object per value; checked against
    :func:`hmac.digest` in the tests), on two threads."""
    from workbench.case._fingerprint import string_buffers

    out = np.zeros((len(kind), 32), dtype=np.uint8)
    codes, names = pd.factorize(kind.astype(str).reset_index(drop=True))
    values = value_norm.astype(str).reset_index(drop=True)
    for code, name in enumerate(names):
        rows = np.flatnonzero(codes == code)
        offsets, data = string_buffers(values.take(rows))
        prefix = np.frombuffer((str(name) + "\x1f").encode("utf-8"), dtype=np.uint8)
        out[rows] = _hmac_rows(offsets, data, prefix, _kind_key(shared_key, str(name)))
    return out.view(np.uint64)


def _hmac_rows(offsets: np.ndarray, data: np.ndarray, prefix: np.ndarray, key: bytes) -> Any:
    """HMAC-SHA-256 under ``key`` of ``prefix`` + each string, as (n, 32) bytes; the rows
    split between two threads (the kernel releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from workbench.case import _fingerprint_jit as jit

    padded = np.frombuffer(key.ljust(64, b"\0"), dtype=np.uint8)  # a key of 32 bytes
    inner, outer = jit.SHA256_IV.copy(), jit.SHA256_IV.copy()
    jit.sha256_block(inner, padded ^ np.uint8(0x36))
    jit.sha256_block(outer, padded ^ np.uint8(0x5C))
    n = len(offsets) - 1
    out = np.zeros((n, 32), dtype=np.uint8)
    cuts = [0, n // 2, n] if n >= 10_000 else [0, n]
    with ThreadPoolExecutor(max_workers=len(cuts) - 1) as pool:
        for done in [
            pool.submit(jit.hmac_sha256, offsets, data, prefix, inner, outer, out, a, b)
            for a, b in itertools.pairwise(cuts)
        ]:
            done.result()
    return out


def _hash_words(hashes: pd.Series) -> np.ndarray:
    """The list's hashes (checked: 64 hex digits each) as an (n, 4) uint64 array, from the
    column's Arrow buffer (the hashes lie end to end in it: no Python string per hash)."""
    from workbench.case._fingerprint import string_buffers

    offsets, data = string_buffers(hashes)
    if offsets[-1] - offsets[0] != 64 * len(hashes):
        return _hex_to_words(hashes.tolist())
    text = data[offsets[0] : offsets[-1]].tobytes().decode("ascii")
    return np.frombuffer(bytes.fromhex(text), dtype=np.uint64).reshape(-1, 4)


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


def confirmed_counterfeiters(case: Case | TeamCase) -> pd.DataFrame:
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
    except (KeyError, NotFoundError):  # no clustering run: no reviewed site
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


def _matchable(case: Case | TeamCase) -> pd.DataFrame:
    """seller_id, network_id, kind, value_norm of the case's matchable identifiers, in the
    order of the case's accounts."""
    ids, sellers = _matchable_values(case)
    at = ids["seller"].to_numpy()
    return pd.DataFrame(
        {
            "seller_id": sellers["seller_id"].take(at).to_numpy(),
            "network_id": sellers["network_id"].take(at).to_numpy(),
            "kind": ids["kind"].to_numpy(),
            "value_norm": ids["value_norm"].to_numpy(),
        }
    )


def _matchable_values(
    case: Case | TeamCase, kinds: set[str] | None = None, *, ordered: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The case's matchable identifiers (of ``kinds`` only, if given): seller (its row in
    the sellers frame), kind, value_norm, in the order of the case's accounts (``ordered``;
    else as the index holds them); and the sellers (seller_id, network_id). From the
    case's stored index when that is current: nothing is read and normalised again."""
    from workbench.case._xref_index import own_index
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):  # built from its tables (a team store keeps no index)
        from workbench.team._xref import team_index

        index, _ = team_index(case, keep_values=True)
    else:
        index, _, _ = own_index(case._con, case.path)
    ids = index.identifiers[["seller", "kind", "value_norm"]]
    if kinds is not None:
        ids = ids[ids["kind"].isin(kinds).to_numpy()]
    if ordered:
        ids = ids.iloc[np.argsort(ids["seller"].to_numpy(), kind="stable")]
    return ids.reset_index(drop=True), index.sellers


def export_exchange_list(
    case: Case | TeamCase,
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


def _load_document(source: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
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


def _signed_as_written(text: bytes, signature: dict[str, Any]) -> bytes | None:
    """The canonical bytes of a list written as :func:`export_exchange_list` writes it
    (sorted keys, no white space), cut from the file itself: the file without its
    ``"signature"`` member. None when that member is not found exactly once as written so.

    Safe to verify instead of re-serialising the document: the member text begins with
    ``,"`` (it cannot sit inside a JSON string without breaking the file), and bytes that
    verify are exactly what the signer signed, its canonical form without any top-level
    signature, so the one occurrence is the document's own member and the rest of the
    file is the signed document, byte for byte."""
    member = ',"signature":' + json.dumps(
        signature, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    cut = member.encode("utf-8")
    if text.count(cut) != 1:
        return None
    return text.replace(cut, b"", 1).strip(b" \t\r\n")


def _check_signature(
    source: Path, document: dict[str, Any], partner_pem: bytes, text: bytes
) -> str:
    """The signer's fingerprint, once the signature verifies with the partner's key (over
    the file as written when it was written canonically, else over the document
    serialised canonically again)."""
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
    as_written = _signed_as_written(text, signature)
    if as_written is not None and verify_signature(key, as_written, raw):
        return expected
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
    """The entries as a frame, each field checked; the first bad entry is named. The
    hashes are checked in Arrow; the other fields hold a few distinct values (kinds,
    brands, verdicts, dates), each checked once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = document.get("entries")
    n = document.get("n_entries")
    if not isinstance(columns, dict) or not isinstance(n, int):
        raise InputError(f"exchange list {source}: 'entries' and 'n_entries' are missing")
    frame, whole = {}, set()
    for field in ENTRY_FIELDS:
        values = columns.get(field)
        if not isinstance(values, list) or len(values) != n:
            raise InputError(
                f"exchange list {source}: entries.{field} must be a list of {n} strings"
            )
        try:
            distinct = set(values) if field != "hash" else None
        except TypeError:  # a list or an object among them: named below
            distinct = None
        if distinct is None or not all(isinstance(v, str) for v in distinct):
            whole.add(field)
            try:
                frame[field] = pa.array(values, type=pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                bad = next(i for i, v in enumerate(values) if not isinstance(v, str))
                raise InputError(
                    f"exchange list {source}: malformed entry {bad}: {field} is not a string"
                ) from None
        else:
            frame[field] = pa.array(sorted(distinct), type=pa.string())  # to check: once each
    checks = {
        "hash": pc.match_substring_regex(frame["hash"], _HEX64),
        "kind": pc.greater(pc.utf8_length(frame["kind"]), 0),
        "date": pc.match_substring_regex(frame["date"], _DATE),
    }
    for field, ok in checks.items():
        good = ok.fill_null(False).to_numpy(zero_copy_only=False)
        if not good.all():
            wrong = np.flatnonzero(~good)
            if field in whole:  # checked entry by entry
                bad = int(wrong[0])
            else:  # checked value by value: the first entry holding a wrong one
                values = set(frame[field].take(pa.array(wrong)).to_pylist())
                bad = next(i for i, v in enumerate(columns[field]) if v in values)
            what = {"hash": "is not 64 lower-case hex digits", "kind": "is empty",
                    "date": "is not a YYYY-MM-DD date"}[field]  # fmt: skip
            raise InputError(f"exchange list {source}: malformed entry {bad}: {field} {what}")
    out = pd.DataFrame({"hash": frame["hash"].to_pandas()})
    for field in ENTRY_FIELDS:
        if field != "hash":
            out[field] = pd.Series(columns[field], dtype=object)
    return out[list(ENTRY_FIELDS)]


def read_exchange_list(
    path: str | os.PathLike[str], *, partner_key: str | os.PathLike[str] | bytes
) -> ExchangeList:
    """Read and verify a partner's list: format version, signature with ``partner_key``
    (PEM bytes or a PEM file), then every entry. Refused with the reason otherwise."""
    source = Path(path)
    if not isinstance(partner_key, bytes) and not Path(partner_key).is_file():
        raise NotFoundError(f"partner key {partner_key} does not exist (a PEM public key file)")
    pem = partner_key if isinstance(partner_key, bytes) else Path(partner_key).read_bytes()
    if not source.is_file():
        raise NotFoundError(f"exchange list {source} does not exist")
    if source.stat().st_size > _MAX_BYTES:
        raise InputError(f"exchange list {source} is larger than {_MAX_BYTES >> 20} MiB")
    text = source.read_bytes()
    document = _load_document(source, text)
    signer = _check_signature(source, document, pem, text)
    entries = _entries(source, document)
    return ExchangeList(
        issuer=str(document.get("issuer", "")),
        signed_by=signer,
        key_id=str(document.get("key_id", "")),
        created_at=str(document.get("created_at", "")),
        entries=entries,
        sha256=hashlib.sha256(text).hexdigest(),
    )


def import_exchange_list(
    case: Case | TeamCase,
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
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):  # a role that may not store the matches: told first
        from workbench.team._store import require_right

        require_right(
            case._con, "DELETE", "cross_references", step="importing an exchange list",
            role="workbench_ingest",
        )  # fmt: skip
    load_ahead()  # numba and the cached kernels, while the list is read and checked
    listed = read_exchange_list(path, partner_key=partner_key)
    if listed.key_id != key_id(shared_key):
        raise InputError(
            f"exchange list {path}: hashed with another shared key (key id {listed.key_id}, "
            f"yours {key_id(shared_key)}): nothing in it can match. Check which key the "
            "exchange uses"
        )
    name = partner or listed.issuer or "partner"
    kinds = {str(k) for k in listed.entries["kind"].unique()}
    mine, sellers = _matchable_values(case, kinds, ordered=False)
    frame = _flag(mine, sellers, listed, shared_key, name)
    frame = frame.assign(source_path=str(path), source_hash=listed.signed_by)
    stored: dict[str, Any] = {
        "source": "partner", "names": [name], "action": "import exchange list",
        "parameters": {"partner": name, "n_entries": len(listed.entries),
                       "n_matches": len(frame), "key_id": listed.key_id},
        "inputs": [{"file": str(path), "sha256": listed.sha256, "signed_by": listed.signed_by,
                    "issuer": listed.issuer, "created_at": listed.created_at}],
    }  # fmt: skip
    if isinstance(case, TeamCase):  # the team store's rows, as the connected role
        from workbench.team._xref import store_team_matches

        return store_team_matches(case, frame, **stored)
    return store_matches(case, frame, **stored)


def _flag(
    mine: pd.DataFrame, sellers: pd.DataFrame, listed: ExchangeList, shared_key: bytes, name: str
) -> pd.DataFrame:
    """Rows of the case's identifiers (``mine``: seller, kind, value_norm; the accounts in
    ``sellers``) whose keyed hash (and kind) is on the list."""
    from workbench.case._xref import KIND_LABELS

    entries = listed.entries
    theirs = _hash_words(entries["hash"])
    ours = identifier_hashes(mine["kind"], mine["value_norm"], shared_key)
    mine_rows, entry_rows = _pairs(ours[:, 0], theirs[:, 0])
    same = (ours[mine_rows] == theirs[entry_rows]).all(axis=1)
    kinds = mine["kind"].take(mine_rows).to_numpy(dtype=object)
    same &= kinds == entries["kind"].take(entry_rows).to_numpy(dtype=object)
    mine_rows, entry_rows = mine_rows[same], entry_rows[same]
    # in the order of the case's accounts (then of the index, then of the list)
    order = np.lexsort((entry_rows, mine_rows, mine["seller"].to_numpy()[mine_rows]))
    mine_rows, entry_rows = mine_rows[order], entry_rows[order]
    found = mine.iloc[mine_rows].reset_index(drop=True)
    at = found["seller"].to_numpy()
    found = pd.DataFrame(
        {
            "seller_id": sellers["seller_id"].take(at).to_numpy(),
            "network_id": sellers["network_id"].take(at).to_numpy(),
            "kind": found["kind"].to_numpy(dtype=object),
            "value_norm": found["value_norm"].to_numpy(dtype=object),
        }
    )
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
