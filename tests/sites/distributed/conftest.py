"""A small Dask cluster on this machine, shared by the tests of one module.

Two worker processes of one thread each (what ``workbench sites --workers 2`` starts),
listening on localhost only, without a dashboard; closed when the module's tests are done.
The workers load the cached numba kernels once, when the cluster starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[object]:
    from workbench.sites._distributed import make_client

    client = make_client(workers=2)
    try:
        yield client
    finally:
        client.close()
