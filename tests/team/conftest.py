"""A throwaway PostgreSQL + PostGIS for the team-store tests, and the people who use it.

One cluster per test session (:func:`workbench.team.start_server`, on 127.0.0.1 only);
each test gets a new database made from a migrated template, so tests do not see each
other's cases. The login roles are the team of issue 19: one analyst ingests, reviewers
review, a viewer reads, the lead's export role records exports.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.team._server import Server, find_binaries, start_server

TEMPLATE = "team_template"
PASSWORD = "team-test-pw"
# login role -> the group role it is granted
PEOPLE = {
    "amira": "workbench_ingest",
    "li": "workbench_review",
    "chen": "workbench_review",
    "wang": "workbench_viewer",
    "zhao": "workbench_export",
}
REVIEWERS = [f"reviewer{i}" for i in range(8)]  # the concurrent reviewers
_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    if find_binaries() is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl): apt-get install postgresql")
    server = start_server()
    try:
        import psycopg

        from workbench.team._schema import migrate

        with psycopg.connect(server.url(db="postgres"), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE workbench")
        with psycopg.connect(server.url(db=TEMPLATE)) as con:
            migrate(con)
        with psycopg.connect(server.url(), autocommit=True) as con:
            for person, role in [*PEOPLE.items(), *((r, "workbench_review") for r in REVIEWERS)]:
                con.execute(f"CREATE ROLE {person} LOGIN PASSWORD '{PASSWORD}' IN ROLE {role}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def reviewers() -> list[str]:
    """The eight login roles of the concurrent reviewers (workbench_review)."""
    return list(REVIEWERS)


@dataclass
class Store:
    """A migrated team store (one database) on the session's server."""

    server: Server
    db: str

    def url(self, user: str | None = None, case: str | None = None) -> str:
        """The URL as ``user`` (default: the owner), with ``?case=`` when given."""
        url = (
            self.server.url(db=self.db)
            if user is None
            else self.server.url(user, PASSWORD, self.db)
        )
        return url + (f"?case={case}" if case else "")


@pytest.fixture
def store(pg_server: Server) -> Iterator[Store]:
    import psycopg

    name = f"team_{next(_numbers)}"
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield Store(pg_server, name)
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pristine_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case file after ingest, find sites and one review (by "lead"): 4 audit entries."""
    import workbench
    from workbench.case._case import open_case
    from workbench.intake._table import load_table

    root = tmp_path_factory.mktemp("team-case")
    demo = workbench.generate_demo(root / "data", n_shipments=3_000, n_background_sellers=50)
    tables = ("sellers", "identifiers", "shipments", "evidence", "locations")
    with open_case(root / "case.gpkg", actor="analyst") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in tables])
        case.find_sites(300)
        case.review("S001", status="confirmed", note="test buy", by="lead")
    return root / "case.gpkg"


@pytest.fixture
def case_file(pristine_case: Path, tmp_path: Path) -> Path:
    """A copy of the pristine case (file, anchor and waybills) to push."""
    folder = pristine_case.parent
    for name in ("case.gpkg", "case.gpkg.audit-head.json"):
        shutil.copy(folder / name, tmp_path / name)
    shutil.copytree(folder / "case.waybills", tmp_path / "case.waybills")
    return tmp_path / "case.gpkg"


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory: pytest.TempPathFactory):
    """The small demo's five export files, with a few faulty waybills (quarantined), three
    that intake repairs and shop names that attack SQL, HTML and JavaScript (quotes,
    semicolons, tags): what both a case file and a team case ingest."""
    import workbench

    root = tmp_path_factory.mktemp("team-exports")
    return workbench.generate_demo(
        root / "data",
        n_shipments=3_000,
        n_background_sellers=50,
        defects=True,
        hostile_names=True,
    )


def export_files(demo) -> dict[str, Path]:
    """{table: file} of a demo's exports, as ``ingest_files`` takes them."""
    return {
        t: getattr(demo, t)
        for t in ("sellers", "identifiers", "shipments", "evidence", "locations")
    }
