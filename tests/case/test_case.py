"""The case file: round trips, runs, reviews, audit chain, GeoPackage layers, migration."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import workbench
from workbench.case._case import open_case
from workbench.case._schema import SCHEMA_VERSION
from workbench.errors import CaseVersionError, InputError, NotFoundError
from workbench.intake._table import load_table
from workbench.networks._link import link_sellers
from workbench.sites._finder import SiteFinder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


@pytest.fixture(scope="module")
def demo_intake(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("demo") / "data"
    demo = workbench.generate_demo(
        folder, n_shipments=8_000, n_background_sellers=200, defects=True, hostile_names=True
    )
    return {t: load_table(getattr(demo, t), t) for t in TABLES}


@pytest.fixture
def case(tmp_path: Path, demo_intake):
    case = open_case(tmp_path / "putian.gpkg", actor="analyst-1")
    case.ingest(demo_intake.values())
    yield case
    case.close()


def _analysed(case):
    nets = link_sellers(case.table("sellers"), case.table("identifiers"))
    case.save_networks(nets)
    finder = SiteFinder(radius_m=300).fit(
        case.table("shipments"), networks=nets.membership, evidence=case.table("evidence")
    )
    return nets, finder, case.save_sites(finder)


@pytest.mark.parametrize("table", TABLES)
def test_every_table_round_trips(case, demo_intake, table: str) -> None:
    stored = case.table(table)
    original = demo_intake[table].frame
    columns = list(original.columns)
    if table == "shipments":  # waybills are stored in spatial order (GeoParquet row groups)
        stored = stored.sort_values("shipment_id")
        original = original.sort_values("shipment_id")
    pd.testing.assert_frame_equal(
        stored[columns].reset_index(drop=True),
        original.reset_index(drop=True),
        check_dtype=False,
    )
    assert (stored["ingest_seq"] == 2).all()  # seq 1 created the case, seq 2 ingested


def test_point_layers_are_geodataframes_in_wgs84(case) -> None:
    ships = case.table("shipments")
    assert ships.crs.to_epsg() == 4326
    assert ships.geometry.x.iloc[0] == pytest.approx(ships["lon"].iloc[0])


def test_quarantine_keeps_the_demo_defects(case, demo_intake) -> None:
    quarantine = case.table("quarantine")
    # the six planted export defects of the shipments file, each with file and line
    assert sorted(quarantine["reason"]) == sorted(demo_intake["shipments"].quarantine["reason"])
    assert set(quarantine["table"]) == {"shipments"}
    assert quarantine["row_number"].min() > 1


def test_ingesting_the_same_file_again_adds_nothing(case, demo_intake) -> None:
    before = len(case.table("shipments"))
    counts = case.ingest([demo_intake["shipments"], demo_intake["identifiers"]])
    assert len(case.table("shipments")) == before
    assert counts["shipments"]["new"] == 0
    assert counts["identifiers"]["replaced_or_already_present"] == len(
        demo_intake["identifiers"].frame
    )


def test_sites_and_networks_round_trip(case) -> None:
    nets, finder, run_id = _analysed(case)
    sites = case.sites()
    assert run_id == finder.run_id_ and (sites["run_id"] == run_id).all()
    expected = finder.sites_
    assert sites["site_id"].tolist() == expected["site_id"].tolist()
    assert sites["score"].tolist() == expected["score"].tolist()
    assert sites["sellers"].iloc[0] == expected["sellers"].iloc[0]
    assert sites["score_parts"].iloc[0] == expected["score_parts"].iloc[0]
    assert sites["hull"].iloc[0].equals_exact(expected["hull"].iloc[0], 1e-12)
    assert (sites["status"] == "unreviewed").all()
    stored = case.table("networks").dropna(subset=["network_id"])
    assert len(stored) == nets.membership["network_id"].notna().sum()


def test_a_rerun_with_other_parameters_keeps_the_first_run(case) -> None:
    _, _, first = _analysed(case)
    finder = SiteFinder(radius_m=150).fit(case.table("shipments"))
    second = case.save_sites(finder)
    assert second != first
    runs = case.runs()
    assert runs["run_id"].tolist() == [first, second]
    assert runs["parameters"].iloc[1]["radius_m"] == 150
    assert case.latest_run() == second
    assert len(case.sites(first)) > 0  # the earlier run stays addressable
    # the same parameters on the same data are the same run, not a duplicate
    assert case.save_sites(SiteFinder(radius_m=150).fit(case.table("shipments"))) == second
    assert len(case.runs()) == 2


def test_review_history_is_kept_and_latest_status_shown(case) -> None:
    _analysed(case)
    case.review("S001", status="needs-work", note="check the loading bay")
    case.review("S001", status="confirmed", note="test buy 14 matched", by="lead-7")
    history = case.reviews("S001")
    assert history["status"].tolist() == ["needs-work", "confirmed"]
    assert history["by"].tolist() == ["analyst-1", "lead-7"]
    sites = case.sites().set_index("site_id")
    assert sites.loc["S001", "status"] == "confirmed"
    assert sites.loc["S002", "status"] == "unreviewed"


def test_bad_reviews_are_refused(case) -> None:
    _analysed(case)
    with pytest.raises(InputError, match=r"status='done'; expected one of confirmed"):
        case.review("S001", status="done")
    with pytest.raises(NotFoundError, match=r"site_id='S999' is not in run"):
        case.review("S999", status="rejected")


def test_review_before_any_run_says_what_to_do(case) -> None:
    with pytest.raises(NotFoundError, match="has no clustering run yet; find sites first"):
        case.review("S001", status="confirmed")


def test_audit_log_records_every_change(case) -> None:
    _analysed(case)
    case.review("S001", status="confirmed")
    log = case.audit()
    assert log["action"].tolist() == [
        "create case",
        "ingest",
        "link sellers",  # the ingest brought sellers: linked again at once
        "link sellers",
        "find sites",
        "review",
    ]
    assert set(log["actor"]) == {"analyst-1"}
    assert '"sha256":' in log.loc[1, "inputs"]  # input files are hashed
    assert '"radius_m":300' in log.loc[4, "parameters"]  # clustering parameters
    assert (log["prev_hash"].iloc[1:].to_numpy() == log["hash"].iloc[:-1].to_numpy()).all()
    assert case.verify_audit().ok


def test_audit_verify_finds_a_single_edited_byte(case) -> None:
    _analysed(case)
    # flip one bit of one character of entry 3's parameters, behind the workbench's back
    with sqlite3.connect(case.path) as con:
        params = con.execute("SELECT parameters FROM audit WHERE seq = 3").fetchone()[0]
        edited = params[:-2] + chr(ord(params[-2]) ^ 1) + params[-1]
        assert len(edited) == len(params) and edited != params
        con.execute("UPDATE audit SET parameters = ? WHERE seq = 3", (edited,))
    check = case.verify_audit()
    assert not check.ok and check.first_broken == 3
    assert "entry 3" in str(check) and "does not match its hash" in str(check)


def test_audit_verify_finds_a_removed_entry(case) -> None:
    _analysed(case)
    with sqlite3.connect(case.path) as con:
        con.execute("DELETE FROM audit WHERE seq = 2")
    check = case.verify_audit()
    assert not check.ok and check.first_broken == 2
    assert "missing" in check.reason


def test_gdal_lists_the_layers_with_their_geometry_types(case) -> None:
    _analysed(case)
    case.close()
    layers = dict(pyogrio.list_layers(case.path))
    assert layers["locations"] == "Point"
    assert layers["sites"] == "Point" and layers["site_areas"] == "Polygon"
    assert layers["audit"] is None and layers["waybill_parts"] is None  # attribute tables too
    assert "shipments" not in layers  # the waybills are GeoParquet files beside the case
    for layer in ("locations", "sites", "site_areas"):  # the standard R-tree spatial index
        info = pyogrio.read_info(case.path, layer=layer)
        assert info["crs"] == "EPSG:4326" and info["capabilities"]["fast_spatial_filter"]
    areas = pyogrio.read_dataframe(case.path, layer="site_areas")
    assert areas.geometry.geom_type.eq("Polygon").all()
    # a spatial filter through the index finds the sites inside a box
    sites = pyogrio.read_dataframe(case.path, layer="sites")
    first = sites.geometry.iloc[0]
    box = (first.x - 0.01, first.y - 0.01, first.x + 0.01, first.y + 0.01)
    near = pyogrio.read_dataframe(case.path, layer="sites", bbox=box)
    assert sites["site_id"].iloc[0] in set(near["site_id"]) and len(near) < len(sites)
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo:  # Debian's gdal-bin, installed by .ci/run
        out = subprocess.run(
            [ogrinfo, "-ro", "-so", str(case.path)], capture_output=True, text=True, check=True
        ).stdout
        assert "locations (Point)" in out and "site_areas (Polygon)" in out


def test_the_waybills_are_geoparquet_with_a_bbox_covering(case) -> None:
    import json as json_

    import geopandas as gpd
    import pyarrow.parquet as pq

    (part,) = case.path.with_suffix(".waybills").glob("part-*.parquet")
    meta = json_.loads(pq.read_schema(part).metadata[b"geo"])
    assert meta["version"] == "1.1.0" and meta["primary_column"] == "geometry"
    column = meta["columns"]["geometry"]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["Point"]
    assert column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    frame = gpd.read_parquet(part)  # any GeoParquet reader opens it
    assert frame.crs.to_string() == "OGC:CRS84" and len(frame) == len(case.table("shipments"))
    assert (frame.geometry.x == frame["lon"]).all() and (frame.geometry.y == frame["lat"]).all()
    # row groups follow a space-filling curve: each covers a small part of the whole
    source = pq.ParquetFile(part)
    assert source.num_row_groups >= 1


def test_an_older_case_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    shutil.copy(FIXTURES / "case_v1.gpkg", path)
    with open_case(path, actor="analyst-2") as case:
        assert case.schema_version == SCHEMA_VERSION
        ships = case.table("shipments")
        # data written by schema 1 survives; the new precision column is filled in
        assert ships["shipment_id"].tolist() == ["W1"] and ships["precision"].tolist() == ["exact"]
        assert case.table("sellers")["name"].tolist() == ["莆田鞋业"]
        assert case.audit()["action"].tolist() == ["create case", "ingest", "migrate case"]
        assert case.verify_audit().ok


def test_a_newer_case_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.gpkg"
    open_case(path).close()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE workbench_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CaseVersionError, match=r"uses schema 99; this workbench reads up to"):
        open_case(path)


def test_missing_case_without_create(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no case at"):
        open_case(tmp_path / "nope.gpkg", create=False)


def test_unknown_table(case) -> None:
    with pytest.raises(NotFoundError, match="no table 'buyers' in a case"):
        case.table("buyers")


def test_a_point_table_without_geometry_is_a_plain_frame(case) -> None:
    import geopandas as gpd

    with_points = case.table("locations")
    plain = case.table("locations", geometry=False)
    assert isinstance(with_points, gpd.GeoDataFrame) and len(with_points) > 0
    assert not isinstance(plain, gpd.GeoDataFrame) and "geometry" not in plain.columns
    pd.testing.assert_frame_equal(plain, pd.DataFrame(with_points.drop(columns="geometry")))


def test_big_table_reads_in_a_child_match_the_in_process_reader(case, monkeypatch) -> None:
    from workbench.case._io import read_arrow

    sql = "SELECT seller_id, kind, value FROM identifiers ORDER BY fid"
    assert read_arrow(str(case.path), sql) is not None  # the child reader works here
    in_process = case.table("locations")  # below the child threshold
    monkeypatch.setattr("workbench.case._case._CHILD_READ_ROWS", 0)
    through_child = case.table("locations")
    pd.testing.assert_frame_equal(
        pd.DataFrame(through_child.drop(columns="geometry")),
        pd.DataFrame(in_process.drop(columns="geometry")),
        check_dtype=False,
    )


def test_ingest_sweeps_scratch_left_by_killed_ingests(
    case, demo_intake, tmp_path, monkeypatch
) -> None:
    import os
    import tempfile
    import time

    from workbench.case._staging import SCRATCH_MARK, new_scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # scratch folders as an ingest makes them, left behind when it was killed
    stale, fresh = new_scratch(), new_scratch()
    # fresh may belong to an ingest running right now; the others were not made by us:
    # a user's notes with a look-alike name, and a link to a marked folder elsewhere
    notes = tmp_path / "workbench-my-notes"
    other = tmp_path / "someone-else"
    elsewhere = tmp_path / "elsewhere"
    for folder in (notes, other, elsewhere):
        folder.mkdir()
        (folder / "stage.sqlite").write_bytes(b"x")
    (elsewhere / stale.joinpath(SCRATCH_MARK).name).write_bytes(
        stale.joinpath(SCRATCH_MARK).read_bytes()
    )
    link = tmp_path / (stale.name + "-link")
    link.symlink_to(elsewhere)
    old = time.time() - 2 * 86_400
    for path in (stale, notes, other, elsewhere):
        os.utime(path, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    case.ingest([demo_intake["sellers"]])
    assert not stale.exists(), "a stale scratch folder of a killed ingest is removed"
    assert fresh.exists() and notes.exists() and other.exists()
    assert link.is_symlink() and (elsewhere / "stage.sqlite").exists()


def test_a_file_that_is_not_sqlite_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.gpkg"
    path.write_text("shipment_id,seller_id\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.gpkg is not a case file \(not SQLite"):
        open_case(path)
    assert path.read_text(encoding="utf-8") == "shipment_id,seller_id\n"  # left untouched


def test_a_foreign_geopackage_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "qgis-project.gpkg"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE roads (fid INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(InputError, match=r"has tables but is not a workbench case"):
        open_case(path)
    with sqlite3.connect(path) as con:  # nothing was added to it
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"roads"}


def test_link_sellers_on_a_case_stores_and_explains(case) -> None:
    from workbench.networks import explain_link, link_sellers

    nets = case.link_sellers()  # reads the case's tables, stores the result
    top = nets.summary.iloc[0]
    assert {"area", "brands", "n_counterfeit", "first_seen"} <= set(nets.summary.columns)
    members = nets.membership.loc[
        nets.membership["network_id"] == top["network_id"], "seller_id"
    ].tolist()
    stored = case.networks()
    assert stored.network_of(members[0]) == top["network_id"]
    chain = explain_link(case.networks(), members[0], members[-1])
    assert chain.startswith(members[0]) and chain.endswith(members[-1])
    assert case.audit()["action"].iloc[-1] == "link sellers"
    # the algorithms take frames: a case is pointed to its own methods
    with pytest.raises(InputError, match=r"case\.link_sellers"):
        link_sellers(case)
    with pytest.raises(InputError, match=r"case\.networks\(\)"):
        explain_link(case, members[0], members[-1])


def test_networks_before_linking_say_what_to_do(tmp_path: Path, demo_intake) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest(demo_intake.values(), link=False)
        with pytest.raises(NotFoundError, match="has no networks yet; link sellers first"):
            case.networks()


def test_settings_are_stored_and_audited(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg", actor="ana") as case:
        assert case.settings() == {}
        case.set_setting("organisation", "Brand Protection Unit")
        case.set_setting("contact", "ana@example.org")
        case.set_setting("organisation", "IP Team")
        assert case.settings() == {"contact": "ana@example.org", "organisation": "IP Team"}
        assert (case.audit()["action"] == "set setting").sum() == 3
        with pytest.raises(InputError, match="setting key"):
            case.set_setting("bad key;", "x")
    with open_case(tmp_path / "c.gpkg") as case:
        assert case.settings()["organisation"] == "IP Team"


def test_a_zero_byte_file_is_not_taken_for_a_case(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from workbench.cli._main import cli

    path = tmp_path / "empty.gpkg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.gpkg is empty \(0 bytes\): not a case file"):
        open_case(path, create=False)
    result = CliRunner().invoke(cli, ["audit", str(path), "--verify"])
    assert result.exit_code == 1 and "is empty (0 bytes)" in result.output
    assert "Traceback" not in result.output
    assert path.stat().st_size == 0  # left as it was, not made into a new case


def test_a_full_disk_is_one_clear_error_and_the_case_is_unchanged(
    demo_intake, tmp_path: Path
) -> None:
    from workbench.errors import CaseError

    with open_case(tmp_path / "full.gpkg") as case:
        pages = case._con.execute("PRAGMA page_count").fetchone()[0]
        case._con.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up
        with pytest.raises(CaseError, match=r"no space left .* nothing was written"):
            case.ingest([demo_intake["sellers"], demo_intake["shipments"]])
        assert not case._con.in_transaction
        case._con.execute("PRAGMA max_page_count = 1073741823")
        assert len(case.audit()) == 1 and case.table("shipments").empty
        assert case.table("sellers").empty
        case.ingest([demo_intake["sellers"]])  # and it goes on working once there is room
        assert case.verify_audit().ok
    # no part was left behind: the parts folder holds nothing a later step would list
    assert not list((tmp_path / "full.waybills").glob("part-*.parquet"))


def test_a_full_disk_while_writing_waybills_is_one_clear_error(
    demo_intake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import pyarrow.parquet as pq

    from workbench.errors import CaseError

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with open_case(tmp_path / "full.gpkg") as case:
        monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
        with pytest.raises(CaseError, match=r"no space left .* nothing was written"):
            case.ingest([demo_intake["shipments"]])
        monkeypatch.undo()
        assert len(case.audit()) == 1 and case.table("shipments").empty
        assert case.verify_audit().ok


def test_a_read_only_case_is_one_clear_error(case) -> None:
    import sqlite3

    from workbench.errors import CaseError

    case._con.close()
    # what SQLite says when the file or its folder cannot be written
    case._con = sqlite3.connect(f"file:{case.path}?mode=ro", uri=True, isolation_level=None)
    with pytest.raises(CaseError, match=r"read-only"):
        case.set_setting("organisation", "Acme")


def test_re_ingesting_a_file_keeps_its_quarantine_rows_once(case, demo_intake) -> None:
    before = case.quarantine()
    assert len(before) > 0  # the demo's planted defects
    case.ingest([demo_intake["shipments"]])
    case.ingest([demo_intake["shipments"]])
    after = case.quarantine()
    assert len(after) == len(before)
    assert sorted(after["row_number"]) == sorted(before["row_number"])
