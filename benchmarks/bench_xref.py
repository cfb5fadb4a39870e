"""Cross-reference a case of 1M sellers / 3M identifiers against 20 earlier cases of the
same size (issue 21 target: <= 10 s), and import an exchange list of 1M hashed
identifiers into it (target: <= 5 s); fresh processes, the CLI and the Python API.

    python benchmarks/bench_xref.py [--sellers 1000000] [--cases 20] [--folder DIR]

The 21 cases are real cases (``open_case`` opens them, ``workbench audit --verify`` checks
them) whose sellers, identifiers and networks are written directly, with the audit entries
an ingest and a linking would write (the CSV intake of 63M rows would take most of an
hour). Every case: each account a phone, an e-mail and a device; rings of 5 accounts (2%)
sharing a bank card (its networks); three courier hotlines on 2,000 accounts each
(infrastructure: never a match). Planted in each earlier case ``c``: 1,000 accounts of the
new case (same id and platform), 2,000 of its phones (written in another spelling) and
100 of its rings' cards (written with dashes). Every case holds its own index, as a case
does once it linked its sellers (``--cold`` leaves it out of the earlier cases: rebuilt in
memory; ``--unindexed`` out of the new case: it is read and normalised, then stored by the
first cross-reference, as for a case whose identifiers changed after its linking). The
new case is copied before each measurement, so each starts from the same state. With
``--folder`` the cases are kept and reused.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.case import audit as audit_log
from workbench.case._case import open_case
from workbench.case._xref import store_index

PLATFORMS = np.array(["taobao", "jd", "pdd"])
HOTLINES = ("400-820-8820", "400-111-1111", "95338")
RING = 5
SHARED_SELLERS, SHARED_PHONES, SHARED_RINGS = 1_000, 2_000, 100


def _tables(c: int, n: int, new: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sellers, identifiers and network membership of case ``c`` (``new``: the new case)."""
    rng = np.random.default_rng(c)
    i = np.arange(n)
    ids = np.char.add(f"S{c:02d}-", np.char.zfill(i.astype(str), 7)).astype(object)
    plat = PLATFORMS[i % 3]
    phone = (13_000_000_000 + c * n + i).astype(str).astype(object)
    phone_text = ("+86 " + pd.Series(phone)).to_numpy() if c == new else phone
    n_ring = n // 50 // RING * RING
    ring = i[:n_ring] // RING
    card = np.char.add(f"6222{c:02d}", np.char.zfill(ring.astype(str), 10)).astype(object)
    if c != new:  # plant what this earlier case shares with the new case
        block = slice(n - SHARED_SELLERS, n)
        ids[block] = [
            f"S{new:02d}-{j:07d}" for j in range(c * SHARED_SELLERS, (c + 1) * SHARED_SELLERS)
        ]
        plat[block] = PLATFORMS[np.arange(c * SHARED_SELLERS, (c + 1) * SHARED_SELLERS) % 3]
        start = 50_000 + c * SHARED_PHONES
        phone[:SHARED_PHONES] = (
            13_000_000_000 + new * n + start + np.arange(SHARED_PHONES)
        ).astype(str)
        first = c * SHARED_RINGS
        shared = ring < SHARED_RINGS
        card[shared] = [f"6222-{new:02d}-{r + first:010d}" for r in ring[shared]]
    sellers = pd.DataFrame({"seller_id": ids, "platform": plat})
    email = np.char.add(ids.astype(str), "@163.com").astype(object)
    device = [f"{x:016x}" for x in rng.integers(0, 2**62, n)]
    parts = [
        pd.DataFrame({"seller_id": ids, "kind": "phone", "value": phone_text}),
        pd.DataFrame({"seller_id": ids, "kind": "email", "value": email}),
        pd.DataFrame({"seller_id": ids, "kind": "device", "value": device}),
        pd.DataFrame({"seller_id": ids[:n_ring], "kind": "bank_card", "value": card}),
    ]
    for hotline in HOTLINES:
        on = ids[rng.choice(n, min(2_000, n // 10), replace=False)]
        parts.append(pd.DataFrame({"seller_id": on, "kind": "phone", "value": hotline}))
    identifiers = pd.concat(parts, ignore_index=True)
    networks = pd.DataFrame({"seller_id": ids, "network_id": None, "network_size": 1}).astype(
        {"network_id": object}
    )
    networks.loc[: n_ring - 1, "network_id"] = [f"N{r + 1:05d}" for r in ring]
    networks.loc[: n_ring - 1, "network_size"] = RING
    return sellers, identifiers, networks


def make_case(path: Path, c: int, n: int, new: int, *, index: bool) -> None:
    """A real case holding case ``c``'s tables, with the audit entries of an ingest and a
    linking (and its own index, as linking stores it, unless ``index`` is false). The rows
    go in through a scratch file written by ADBC, as an ingest's do."""
    import pyarrow as pa

    from workbench.case._io import stage

    sellers, identifiers, networks = _tables(c, n, new)
    arrow = {
        name: pa.table({k: pa.array(v.astype(object), from_pandas=True) for k, v in f.items()})
        for name, f in (("sellers", sellers), ("identifiers", identifiers), ("networks", networks))
    }
    with tempfile.TemporaryDirectory(prefix="bench-xref-") as tmp, open_case(path) as case:
        stage(f"{tmp}/rows.sqlite", arrow)
        case._con.execute("ATTACH DATABASE ? AS bench", (f"{tmp}/rows.sqlite",))
        with case._write() as con:
            seq = audit_log.next_seq(con)
            con.execute(
                "INSERT INTO sellers (seller_id, platform, ingest_seq) "
                "SELECT seller_id, platform, ? FROM bench.sellers ORDER BY rowid",
                (seq,),
            )
            con.execute(
                "INSERT INTO identifiers (seller_id, kind, value, ingest_seq) "
                "SELECT seller_id, kind, value, ? FROM bench.identifiers ORDER BY rowid",
                (seq,),
            )
            audit_log.append(
                con, actor="bench", action="ingest",
                parameters={"tables": {"sellers": {"new": len(sellers)},
                                       "identifiers": {"new": len(identifiers)}}},
                wrote=["sellers", "identifiers"],
                segments={"sellers": [seq], "identifiers": [seq]},
            )  # fmt: skip
            con.execute(
                "INSERT INTO networks (network_id, seller_id, network_size) "
                "SELECT network_id, seller_id, network_size FROM bench.networks ORDER BY rowid"
            )
            audit_log.append(
                con, actor="bench", action="link sellers",
                parameters={"max_accounts": 50, "max_accounts_from": "given", "allow_list": [],
                            "include_weak": False, "region": "CN"},
                wrote=["networks", "network_links"],
            )  # fmt: skip
        case._con.execute("DETACH DATABASE bench")
        if index:
            store_index(case)


_WRAP = (
    "import resource, subprocess, sys; out = subprocess.run(sys.argv[1:], capture_output=True, "
    "text=True, check=True).stdout; print(out, end=''); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _run(command: list[str]) -> tuple[float, float, str]:
    """Wall time, peak resident memory (MiB, the largest process of the command and its
    children) and output of a fresh process."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _WRAP, *command], capture_output=True, text=True, check=True
    ).stdout
    wall = time.perf_counter() - start
    *lines, peak = out.splitlines()
    return wall, int(peak) / 1024, "\n".join(lines)


_API = """
import sys, time
start = time.perf_counter()
from workbench import open_case, cross_reference
with open_case(sys.argv[1], create=False) as case:
    found = cross_reference(case, sys.argv[2])
print(f"{time.perf_counter() - start:.2f}", len(found), found["match"].value_counts().to_dict())
"""
_IMPORT = """
import sys, time
start = time.perf_counter()
from workbench import open_case
from workbench.export._exchange import import_exchange_list
with open_case(sys.argv[1], create=False) as case:
    found = import_exchange_list(case, sys.argv[2], partner_key=sys.argv[3],
                                 shared_key=bytes(range(32)))
print(f"{time.perf_counter() - start:.2f}", len(found))
"""


def _fresh_copy(made: Path, path: Path) -> Path:
    """A copy of the new case as it was made (its waybill folder and anchor with it)."""
    import shutil

    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copy(made, path)
    shutil.copy(
        made.with_name(made.name + ".audit-head.json"),
        path.with_name(path.name + ".audit-head.json"),
    )
    shutil.rmtree(path.with_suffix(".waybills"), ignore_errors=True)
    shutil.copytree(made.with_suffix(".waybills"), path.with_suffix(".waybills"))
    return path


def make_list(folder: Path, n_entries: int, new_case: Path, n: int) -> tuple[Path, Path]:
    """A signed exchange list of ``n_entries`` hashes, 10,000 of them the new case's phones."""
    from workbench.export._exchange import (
        ENTRY_FIELDS,
        FORMAT,
        HASHING,
        VERSION,
        _words_to_hex,
        canonical_bytes,
        identifier_hashes,
        key_id,
    )  # fmt: skip
    from workbench.export._keys import PUBLIC_KEY, init_keys, load_keys

    keys = load_keys(init_keys(folder / "partner-keys", exist_ok=True))
    known = (13_000_000_000 + 20 * n + np.arange(10_000)).astype(str)
    values = np.concatenate(
        [np.char.add("+86", known), np.char.add("+861", np.arange(n_entries - 10_000).astype(str))]
    )
    kinds = pd.Series(["phone"] * n_entries)
    words = identifier_hashes(kinds, pd.Series(values), bytes(range(32)))
    entries = {
        "kind": kinds.tolist(),
        "hash": _words_to_hex(words),
        "brand": ["Nike"] * n_entries,
        "verdict": ["counterfeit-test-buy"] * n_entries,
        "date": ["2026-05-01"] * n_entries,
    }
    document: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "issuer": "Partner",
        "created_at": "2026-06-01T00:00:00Z",
        "hashing": HASHING,
        "key_id": key_id(bytes(range(32))),
        "n_entries": n_entries,
        "entries": {f: entries[f] for f in ENTRY_FIELDS},
    }
    signature = base64.b64encode(keys.sign(canonical_bytes(document))).decode()
    document["signature"] = {
        "algorithm": "ed25519", "key_fingerprint": keys.fingerprint, "value": signature,
    }  # fmt: skip
    path = folder / "partner-list.json"
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    return path, keys.directory / PUBLIC_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--cold", action="store_true", help="Earlier cases without an index.")
    parser.add_argument("--unindexed", action="store_true", help="The new case without one.")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-xref-"))
    earlier, made_new = folder / "earlier", folder / "putian-new-made.gpkg"
    earlier.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for c in range(args.cases):
        path = earlier / f"case-{c:02d}.case"
        if not (path / "case.gpkg").exists():
            make_case(path, c, args.sellers, 20, index=not args.cold)
    if not made_new.exists():
        make_case(made_new, 20, args.sellers, 20, index=not args.unindexed)
    made = time.perf_counter() - start
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores; {args.cases + 1} cases of "
        f"{args.sellers:,} sellers (made or found in {made:.0f} s)"
    )
    with sqlite3.connect(made_new) as con:
        n_ids = con.execute("SELECT count(*) FROM identifiers").fetchone()[0]
        own = con.execute("SELECT count(*) FROM xref_index").fetchone()[0]
    indexed = "without" if args.cold else "with"
    print(
        f"# new case: {n_ids:,} identifiers, {'with' if own else 'without'} its index; "
        f"earlier cases {indexed} theirs; load {os.getloadavg()[0]:.2f}"
    )
    new = _fresh_copy(made_new, folder / "putian-new.gpkg")
    wall, peak, out = _run([sys.executable, "-c", _API, str(new), str(earlier)])
    found = " ".join(out.split()[1:])
    print(f"API  cross_reference: {wall:.2f} s wall, peak {peak:.0f} MiB; {found}")
    new = _fresh_copy(made_new, folder / "putian-new.gpkg")
    wall, peak, out = _run(
        [sys.executable, "-m", "workbench", "-q", "xref", str(new), "--against", str(earlier)]
    )
    print(f"CLI  workbench xref:  {wall:.2f} s wall, peak {peak:.0f} MiB")
    print("\n".join("     " + line for line in out.splitlines()[:3]))
    listed, pem = make_list(folder, args.entries, new, args.sellers)
    new = _fresh_copy(made_new, folder / "putian-new.gpkg")
    wall, peak, out = _run([sys.executable, "-c", _IMPORT, str(new), str(listed), str(pem)])
    print(
        f"API  import_exchange_list ({args.entries:,} entries): {wall:.2f} s wall, "
        f"peak {peak:.0f} MiB; {out.split()[1]} matches"
    )


if __name__ == "__main__":
    main()
