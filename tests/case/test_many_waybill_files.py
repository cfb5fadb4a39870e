"""Several waybill files in one ingest: a waybill that comes again in a later file replaces
the earlier file's row, as a later ingest replaces a stored one, and is counted once.

Three files cut from one demo export: B repeats 1,000 of A's waybills (moved 2 km), C
repeats 50 of B's (moved again) and 20 of A's that B repeated (so the third copy replaces
the second, never the first again), and brings 10 rows with a latitude out of range.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import workbench
from workbench.errors import InputError

N = 6_000


def write_files(root: Path) -> tuple[Path, dict[str, Path], pd.DataFrame]:
    """The demo's folder and three waybill files; the waybills the case must end with."""
    demo = workbench.generate_demo(root / "data", seed=11, n_shipments=N)
    rows = pd.read_csv(demo.shipments, dtype=str, keep_default_na=False)
    a = rows.iloc[:3_000].copy()
    b = rows.iloc[2_000:4_500].copy()
    b.iloc[:1_000, b.columns.get_loc("lat")] = (
        (b["lat"].iloc[:1_000].astype(float) + 0.018).round(6).astype(str)
    )
    again = pd.concat([b.iloc[1_000:1_050], b.iloc[:20]]).copy()  # 20 of them A's too
    again["lon"] = (again["lon"].astype(float) + 0.02).round(6).astype(str)
    bad = rows.iloc[4_500:4_510].copy()
    bad["shipment_id"] = "BAD" + bad["shipment_id"]
    bad["shipped_at"] = "not a day"
    c = pd.concat([rows.iloc[4_500:], again, bad])
    files = {}
    for name, part in (("a", a), ("b", b), ("c", c)):
        files[name] = root / f"{name}_shipments.csv"
        part.to_csv(files[name], index=False)
    final = pd.concat([a, b, c.iloc[: len(c) - len(bad)]])
    final = final.drop_duplicates("shipment_id", keep="last").set_index("shipment_id")
    return demo.folder, files, final


def stored(case: workbench.Case) -> pd.DataFrame:
    got = case.waybills(["shipment_id", "lat", "lon"]).set_index("shipment_id")
    return got.drop(columns=["ingest_seq"]).sort_index()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], pd.DataFrame]:
    return write_files(tmp_path_factory.mktemp("many-files"))


def test_a_later_file_replaces_an_earlier_files_waybill_once(
    made: tuple[Path, dict[str, Path], pd.DataFrame], tmp_path: Path
) -> None:
    folder, files, final = made
    with workbench.open_case(tmp_path / "many.case") as case:
        case.ingest_files({"sellers": folder / "sellers.csv"})
        reports = case.ingest_files({"shipments": [files["a"], files["b"], files["c"]]})
        got = stored(case)
        assert case.n_waybills() == len(final) == N
        assert case.verify_audit().ok
        quarantined = case.quarantine("shipments")
    assert [r["source"] for r in reports] == [str(files[k]) for k in "abc"]
    assert [(r["new"], r["replaced_or_already_present"]) for r in reports] == [
        (3_000, 0),
        (1_500, 1_000),
        (1_500, 70),
    ]
    assert reports[2]["quarantined"] == 10 and len(quarantined) == 10
    assert got.index.is_unique
    want = final[["lat", "lon"]].astype(float).sort_index()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


def test_one_file_or_a_list_of_one_store_the_same(
    made: tuple[Path, dict[str, Path], pd.DataFrame], tmp_path: Path
) -> None:
    _, files, _ = made
    with workbench.open_case(tmp_path / "one.case") as one:
        one.ingest_files({"shipments": files["a"]})
        with workbench.open_case(tmp_path / "list.case") as listed:
            listed.ingest_files({"shipments": [files["a"]]})
            pd.testing.assert_frame_equal(stored(one), stored(listed))


def test_an_empty_list_of_files_is_refused(tmp_path: Path) -> None:
    with (
        workbench.open_case(tmp_path / "none.case") as case,
        pytest.raises(InputError, match="shipments: no file given"),
    ):
        case.ingest_files({"shipments": []})
