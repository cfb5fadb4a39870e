"""Link 1M seller accounts through 3M identifiers (issue target: <= 5 s).

    python benchmarks/bench_networks.py [--sellers 1000000] [--repeat 3]

Synthetic but shaped like platform exports: every account has a phone (written in the
usual Chinese spellings), an e-mail and a device; rings of 3-40 accounts share phones,
bank cards and ID documents; three courier hotlines sit on thousands of unrelated accounts.
The timing covers normalisation, the infrastructure threshold, connected components and
the summary.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from workbench.networks._link import link_sellers


def synthetic(n_sellers: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:07d}" for i in range(n_sellers)])
    mobiles = 13_000_000_000 + rng.choice(6_999_999_999, n_sellers, replace=False)  # 13x-19x
    spelling = rng.integers(0, 3, n_sellers)
    phones = np.where(
        spelling == 0,
        "+86 " + mobiles.astype(str),
        np.where(spelling == 1, "0086-" + mobiles.astype(str), mobiles.astype(str)),
    )
    rows = [
        pd.DataFrame({"seller_id": ids, "kind": "phone", "value": phones}),
        pd.DataFrame(
            {
                "seller_id": ids,
                "kind": "email",
                "value": np.char.add(
                    np.char.add("shop", np.arange(n_sellers).astype(str)), "@163.com"
                ),
            }
        ),
        pd.DataFrame(
            {
                "seller_id": ids,
                "kind": "device",
                "value": [f"{x:016x}" for x in rng.integers(0, 2**62, n_sellers)],
            }
        ),
    ]
    # rings: 2% of accounts, in rings of 3..40, sharing one ring bank card and ID document
    ring_members = rng.choice(n_sellers, n_sellers // 50, replace=False)
    sizes = rng.integers(3, 41, len(ring_members) // 3)
    bounds = np.cumsum(sizes)
    bounds = bounds[bounds <= len(ring_members)]
    ring_of = np.searchsorted(bounds, np.arange(bounds[-1]), side="right")
    members = ids[ring_members[: bounds[-1]]]
    rows.append(
        pd.DataFrame(
            {
                "seller_id": members,
                "kind": "bank_card",
                "value": [f"6222 {r:012d}" for r in ring_of],
            }
        )
    )
    rows.append(
        pd.DataFrame(
            {
                "seller_id": members,
                "kind": "id_document",
                "value": [f"350302{r:012d}" for r in ring_of],
            }
        )
    )
    # courier hotlines on thousands of unrelated accounts (infrastructure)
    for hotline in ("400-820-8820", "400-111-1111", "95338"):
        on = ids[rng.choice(n_sellers, 5_000, replace=False)]
        rows.append(pd.DataFrame({"seller_id": on, "kind": "phone", "value": hotline}))
    identifiers = pd.concat(rows, ignore_index=True)
    return pd.DataFrame({"seller_id": ids}), identifiers, len(bounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sellers, identifiers, n_rings = synthetic(args.sellers)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        nets = link_sellers(sellers, identifiers)
        times.append(time.perf_counter() - start)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores; {len(sellers):,} sellers, "
        f"{len(identifiers):,} identifiers, {n_rings:,} planted rings; best of {args.repeat}"
    )
    print(
        f"linked in {min(times):.2f} s: {len(nets.summary):,} networks, "
        f"{len(nets.infrastructure)} infrastructure identifiers "
        f"(threshold {nets.parameters['max_accounts']} accounts, from the data)"
    )
    assert len(nets.summary) == n_rings, "every planted ring, and nothing else, is a network"


if __name__ == "__main__":
    main()
