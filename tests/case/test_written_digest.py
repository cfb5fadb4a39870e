"""A site run's largest tables are hashed from the values written, not read back: the
digest must be exactly the one reading them back gives, or not be used at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.case import _state
from workbench.case._case import open_case
from workbench.case._io import insert_frame, python_values
from workbench.case._state import run_digests, written_run_digest
from workbench.demo._generate import generate_demo


def last_fid(con, table: str) -> int:
    row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return int(row[0]) if row else 0


def test_the_written_digest_is_the_one_read_back_for_awkward_values(tmp_path: Path) -> None:
    n = 45_001  # the first row, then batches of 20,000 and a last short one
    rng = np.random.default_rng(1)
    value = rng.normal(0, 1e6, n)
    value[:6] = [np.nan, -0.0, 0.0, 3.0, 1e300, -1e-300]
    frame = pd.DataFrame(
        {
            "run_id": "r1",
            "site_id": [f"S{i % 900:03d}" for i in range(n)],
            "week": ["2026-03-02", "день", "", "x" * 300] * (n // 4) + ["2026-03-09"] * (n % 4),
            "n_shipments": rng.integers(-(2**62), 2**62, n),
            "value_cny": value,
        }
    )
    with open_case(tmp_path / "c.gpkg") as case, case._write() as con:
        con.execute(
            "INSERT INTO site_activity (run_id, site_id, week, n_shipments) "
            "VALUES ('r0', 'S', 'w', 1)"
        )
        values = {c: python_values(frame[c]) for c in frame.columns}
        first = last_fid(con, "site_activity") + 1
        insert_frame(con, "site_activity", list(values), list(values.values()))
        written = written_run_digest(con, "site_activity", first, values)
        assert written == run_digests(con, "site_activity", ["r1"])["r1"]
        # a value whose stored form is not certain here: read back instead
        odd = {**values, "value_cny": [1, *values["value_cny"][1:]]}
        assert written_run_digest(con, "site_activity", first, odd) is None
        assert written_run_digest(con, "site_activity", first, {"run_id": []}) is None


def test_a_stored_run_records_what_reading_it_back_gives(tmp_path: Path, monkeypatch) -> None:
    demo = generate_demo(tmp_path / "demo", n_shipments=20_000, n_background_sellers=150)
    read_back: list[str] = []

    def spy(con, table, runs=None):
        found = run_digests(con, table, runs)
        read_back.extend(table for _ in found)
        return found

    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest_files({t: getattr(demo, t) for t in ("sellers", "identifiers", "shipments")})
        monkeypatch.setattr(_state, "run_digests", spy)
        run = case.find_sites(300)
        monkeypatch.undo()
        assert "sites" in read_back  # read back as before
        assert "site_points" not in read_back and "site_activity" not in read_back
        entry = json.loads(
            case._con.execute("SELECT state FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
        )
        for table in ("sites", "site_areas", "site_points", "site_activity"):
            assert entry[table][run] == run_digests(case._con, table, [run])[run]
        assert case.verify_audit().ok
        case.find_sites(150)  # a second run beside the first
        assert case.verify_audit().ok
