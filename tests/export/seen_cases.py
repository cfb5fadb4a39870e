"""Two cases and a partner's list with planted matches, for the "seen before" views (the
tip sheet here; the explorer and the CLI load this file too).

putian-2025 (earlier): R1-R3 share a bank card (network N0001) and ship from a workshop in
Putian; R1 had a counterfeit test buy; the workshop site was reviewed as confirmed. Its
confirmed counterfeiters (R1: card and phone) go out on an exchange list whose issuer name is
hostile (markup and a formula).

putian-2026 (new): X1 holds R1's card written with spaces, X1-X3 share a device (one network)
and ship from the same workshop (a site overlapping the earlier one); X2 holds R1's phone in
E.164; Y1-Y3 ship from Shenzhen and match nothing (a site with no cross-reference).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from workbench.case._case import open_case
from workbench.case._xref import cross_reference
from workbench.export._exchange import export_exchange_list, import_exchange_list
from workbench.export._keys import PUBLIC_KEY, init_keys
from workbench.intake._table import load_table

SHARED_KEY = bytes(range(32))
HOSTILE = '=HYPERLINK("http://evil.example")<img src=x onerror=alert(1)>'
PUTIAN = (25.4394, 119.0103)
SHENZHEN = (22.5431, 114.0579)


def _ingest(case, folder: Path, **frames: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for table, frame in frames.items():
        frame.to_csv(folder / f"{table}.csv", index=False)
        results.append(load_table(folder / f"{table}.csv", table))
    case.ingest(results)


def _shipments(places: dict[tuple[float, float], list[str]], prefix: str) -> pd.DataFrame:
    """300 waybills per place from three points within ~40 m, by the given accounts."""
    rng = np.random.default_rng(3)
    parts = []
    for i, ((lat, lon), sellers) in enumerate(places.items()):
        n = 300
        parts.append(
            pd.DataFrame(
                {
                    "shipment_id": [f"{prefix}{i}-{k:04d}" for k in range(n)],
                    "seller_id": rng.choice(sellers, n),
                    "lat": lat + rng.choice([0.0, 0.0003, -0.0002], n),
                    "lon": lon + rng.choice([0.0, 0.0002, 0.0004], n),
                    "brand": "Nike",
                    "shipped_at": "2026-03-02",
                    "value_cny": 100.0,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _site_of(case, seller: str) -> str:
    sites = case.sites()
    return str(sites.loc[sites["sellers"].map(lambda v: seller in v), "site_id"].iloc[0])


def build(root: Path) -> SimpleNamespace:
    """The world above under ``root``; the new case is left open (close it)."""
    keys = init_keys(root / "keys")
    archive = root / "archive"
    with open_case(archive / "putian-2025.gpkg", actor="analyst-0") as earlier:
        _ingest(
            earlier,
            root / "exports-2025",
            sellers=pd.DataFrame({"seller_id": ["R1", "R2", "R3"], "platform": "taobao"}),
            identifiers=pd.DataFrame(
                [(r, "bank_card", "6222021234567890") for r in ("R1", "R2", "R3")]
                + [("R1", "phone", "13800138000")],
                columns=["seller_id", "kind", "value"],
            ),
            evidence=pd.DataFrame(
                {
                    "evidence_id": ["E1"],
                    "seller_id": ["R1"],
                    "brand": ["Nike"],
                    "kind": ["test_buy"],
                    "verdict": ["counterfeit"],
                    "date": ["2025-05-01"],
                }
            ),
            shipments=_shipments({PUTIAN: ["R1", "R2", "R3"]}, "W"),
        )
        earlier.link_sellers()
        earlier.find_sites(300)
        earlier.review(_site_of(earlier, "R1"), status="confirmed", note="test buy E1")
        listed = export_exchange_list(
            earlier, root / "list.json", shared_key=SHARED_KEY, keys_dir=keys, issuer=HOSTILE
        )
    case = open_case(root / "putian-2026.gpkg", actor="analyst-1")
    sellers = ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    _ingest(
        case,
        root / "exports-2026",
        sellers=pd.DataFrame({"seller_id": sellers, "name": sellers, "platform": "taobao"}),
        identifiers=pd.DataFrame(
            [("X1", "bank_card", "6222 0212 3456 7890"), ("X2", "phone", "+86 138 0013 8000")]
            + [(x, "device", "DEV-WORKSHOP-1") for x in ("X1", "X2", "X3")]
            + [(y, "device", "DEV-SZ-9") for y in ("Y1", "Y2", "Y3")],
            columns=["seller_id", "kind", "value"],
        ),
        shipments=_shipments({PUTIAN: ["X1", "X2", "X3"], SHENZHEN: ["Y1", "Y2", "Y3"]}, "N"),
    )
    case.link_sellers()
    run = case.find_sites(300)
    workshop, clean = _site_of(case, "X1"), _site_of(case, "Y1")
    cross_reference(case, archive)
    import_exchange_list(
        case, listed, partner_key=keys / PUBLIC_KEY, shared_key=SHARED_KEY, partner=HOSTILE
    )
    case.review(workshop, status="confirmed", note="test buys matched")
    case.review(clean, status="confirmed", note="second workshop")
    case.set_setting("organisation", "Acme Brand Protection")
    case.set_setting("contact", "ip-team@acme.example")
    return SimpleNamespace(
        root=root, keys=keys, case=case, run=run, workshop=workshop, clean=clean,
        archive=archive,
    )  # fmt: skip
