"""Tip-sheet bundles from a team case: the case file's bundle from the store's rows, signed,
verifiable, recorded in the team case's audit chain as the connected role, and refused
before anything is written to a role without ``workbench_export``.

The people (tests/team/conftest.py): amira ingests, li reviews, wang views, zhao exports.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psycopg
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import TEMPLATE, Store, export_files

from workbench.cli._main import cli
from workbench.errors import InputError, TeamAccessError
from workbench.export._bundle import export_tip_sheet, verify_bundle
from workbench.export._keys import init_keys
from workbench.opening import open_case
from workbench.team import TeamCase, parse_url, push

ORG = {"organisation": "Acme Brand Protection", "contact": "ip-team@acme.example"}
CSVS = ("sellers", "identifiers", "shipments", "evidence", "prosecution")
# two sites: S001 confirmed by li, S002 exported on an override (its reason is audited)
SITES = ["S001", "S002"]
REASON = "the lead asked for both sites"


@pytest.fixture(scope="module")
def world(pg_server, demo_exports, tmp_path_factory: pytest.TempPathFactory):
    """The same exports in a case file and a team case, the same sites reviewed the same
    way, and each exported with the same keys, as the police and the partner bundle."""
    root = tmp_path_factory.mktemp("team-bundle")
    name = "team_bundles"
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    store = Store(pg_server, name)
    keys = init_keys(root / "keys")
    with open_case(root / "yiwu.gpkg", actor="amira") as local:
        local.ingest_files(export_files(demo_exports))
        local_run = local.find_sites(300)
        local.review("S001", status="confirmed", note="test buy 14 matched", by="li")
        for key, value in ORG.items():
            local.set_setting(key, value)
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports))
        team_run = team.find_sites(300)
    with open_case(store.url("li", "yiwu"), create=False) as team:
        team.review("S001", status="confirmed", note="test buy 14 matched")
    out = root / "out"
    bundles = {}
    for profile in ("police", "partner"):
        options = {"profile": profile, "allow_unconfirmed": REASON, "keys_dir": keys}
        with open_case(root / "yiwu.gpkg", actor="zhao", create=False) as local:
            bundles["local", profile] = export_tip_sheet(local, SITES, out=out / "local", **options)
        with open_case(store.url("zhao", "yiwu"), create=False) as team:
            bundles["team", profile] = export_tip_sheet(
                team, SITES, out=out / "team", **ORG, **options
            )
    yield SimpleNamespace(
        root=root, store=store, keys=keys, bundles=bundles, local_run=local_run, run=team_run
    )
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _files(bundle: Path) -> list[str]:
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the same bundle --------------------------------------------------------------------------
def test_the_team_case_found_the_sites_the_case_file_found(world) -> None:
    assert world.run == world.local_run  # the premise of every comparison below


@pytest.mark.parametrize("profile", ["police", "partner"])
def test_a_team_bundle_verifies_with_the_organisations_key(world, profile: str) -> None:
    bundle = world.bundles["team", profile]
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert check.ok, str(check)
    done = CliRunner().invoke(cli, ["verify", str(bundle)])
    assert done.exit_code == 0 and "intact" in done.output, done.output


@pytest.mark.parametrize("profile", ["police", "partner"])
def test_a_team_bundle_holds_the_case_files_files(world, profile: str) -> None:
    local, team = world.bundles["local", profile], world.bundles["team", profile]
    assert _files(team) == _files(local)
    assert {"data/report.pdf", "data/case.gpkg", "data/tables.xlsx"} <= set(_files(team))


@pytest.mark.parametrize("profile", ["police", "partner"])
@pytest.mark.parametrize("table", CSVS)
def test_every_csv_holds_the_same_rows(world, profile: str, table: str) -> None:
    local = _csv_rows(world.bundles["local", profile] / "data" / f"{table}.csv")
    team = _csv_rows(world.bundles["team", profile] / "data" / f"{table}.csv")
    assert len(local) > 1, table  # a header and rows: nothing compared empty
    assert team == local  # every row, in the same order, every value as written


@pytest.mark.parametrize("profile", ["police", "partner"])
def test_the_sites_areas_and_waybills_are_the_same_in_every_format(world, profile: str) -> None:
    local, team = (world.bundles[k, profile] / "data" for k in ("local", "team"))
    features = [json.loads((d / "sites.geojson").read_text("utf-8"))["features"] for d in (
        local, team)]  # fmt: skip
    for feature in (*features[0], *features[1]):
        feature["properties"].pop("reference", None)  # a site's: made from the export's time
    assert features[1] == features[0]
    assert [f["properties"]["site_id"] for f in features[1]] == ["S001", "S001", "S002", "S002"]
    kml = [pyogrio.read_dataframe(d / "sites.kml") for d in (local, team)]
    assert kml[1]["Name"].tolist() == kml[0]["Name"].tolist()
    for layer in ("sites", "site_areas", "shipments", "sellers", "identifiers", "networks",
                  "evidence", "prosecution"):  # fmt: skip
        mine = pyogrio.read_dataframe(local / "case.gpkg", layer=layer)
        theirs = pyogrio.read_dataframe(team / "case.gpkg", layer=layer)
        assert len(mine) > 0, layer
        pd.testing.assert_frame_equal(theirs, mine, obj=layer)
    reviews = [pyogrio.read_dataframe(d / "case.gpkg", layer="reviews") for d in (local, team)]
    same = ["run_id", "site_id", "status", "note", "by"]  # "at": when each was recorded
    pd.testing.assert_frame_equal(reviews[1][same], reviews[0][same])


def test_the_workbook_holds_the_csvs_rows(world) -> None:
    import openpyxl

    books = [openpyxl.load_workbook(world.bundles[k, "police"] / "data" / "tables.xlsx")
             for k in ("local", "team")]  # fmt: skip
    assert books[1].sheetnames == books[0].sheetnames == list(CSVS)
    for name in CSVS:
        rows = [[[c.value for c in r] for r in b[name].iter_rows()] for b in books]
        assert rows[1] == rows[0], name


def test_what_differs_is_when_where_and_the_chain(world) -> None:
    local, team = (world.bundles[k, "police"] / "data" for k in ("local", "team"))
    meta = [json.loads((d / "bundle.json").read_text("utf-8")) for d in (local, team)]
    differ = {k for k in meta[0] if meta[0][k] != meta[1][k]}
    assert differ == {"reference", "generated_at", "case"}
    assert meta[1]["case"] == "yiwu" and meta[0]["case"] == "yiwu.gpkg"
    assert meta[1]["override"] == meta[0]["override"] != None  # noqa: E711 - same reason, sites
    params = [json.loads((d / "parameters.json").read_text("utf-8")) for d in (local, team)]
    assert params[1]["export"] == params[0]["export"]
    differ = {k for k in params[0]["analysis"] if params[0]["analysis"][k] != params[1][
        "analysis"][k]}  # fmt: skip
    assert differ == {"run_created_at"}  # when each store made the run
    entries = [_json_lines(d / "audit.jsonl") for d in (local, team)]
    # the case file's settings were set in it (audited); the team case's came with the export
    actions = [[e["action"] for e in log if e["action"] != "set setting"] for log in entries]
    assert actions[1] == actions[0]
    assert "review" in actions[1] and "find sites" in actions[1]
    by_action = [[e for e in log if e["action"] in ("find sites", "review")] for log in entries]
    for mine, theirs in zip(*by_action, strict=True):
        differ = {k for k in mine if mine[k] != theirs[k]}
        assert differ <= {"seq", "at", "prev_hash", "hash", "parameters", "state"}
        assert theirs["actor"] == mine["actor"]  # amira found the sites, li reviewed


def test_the_html_report_names_the_same_sites_and_escapes_the_data(world) -> None:
    data = world.bundles["team", "police"] / "data"
    html = (data / "report.html").read_text("utf-8")
    assert "S001" in html and "S002" in html and REASON in html
    hostile = "<img src=x onerror=alert(1)>"  # a shop name of the demo's ring
    assert hostile in (data / "sellers.csv").read_text("utf-8-sig")  # the data, exact
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# -- audited as the connected role -----------------------------------------------------------
def test_the_export_is_in_the_team_cases_chain_as_the_exporter(world) -> None:
    bundle = world.bundles["team", "police"]
    with open_case(world.store.url("wang", "yiwu"), create=False) as team:
        log = team.audit()
        assert team.verify_audit().ok
    exports = log[log["action"] == "export tip sheet"]
    assert len(exports) == 2 and set(exports["actor"]) == {"zhao"}
    entry = exports.iloc[0]
    parameters = json.loads(entry["parameters"])
    assert parameters["bundle"] == bundle.name and parameters["site_ids"] == SITES
    assert parameters["override"]["reason"] == REASON
    # given with the export, not a case setting
    assert parameters["organisation"] == {"name": ORG["organisation"], "contact": ORG["contact"]}
    inputs = {i["path"]: i["sha256"] for i in json.loads(entry["inputs"])}
    manifest = dict(
        reversed(line.split(maxsplit=1))
        for line in (bundle / "manifest-sha256.txt").read_text("utf-8").splitlines()
    )
    assert inputs == manifest  # every payload file, as the manifest hashes it


@pytest.mark.parametrize("user", ["wang", "li", "amira"])
def test_a_role_without_workbench_export_is_refused_before_anything(world, user, tmp_path) -> None:
    out = tmp_path / "out"
    with open_case(world.store.url(user, "yiwu"), create=False) as team:
        before = len(team.audit())
        with pytest.raises(TeamAccessError, match=f"refused role '{user}'.*workbench_export"):
            export_tip_sheet(team, ["S001"], out=out, keys_dir=world.keys, **ORG)
        assert len(team.audit()) == before
    assert not out.exists()


def test_the_command_line_exports_a_team_case_and_refuses_a_viewer(world, tmp_path) -> None:
    runner = CliRunner()
    common = ["--site", "S001", "--no-pdf", "--keys-dir", str(world.keys), "--zip"]
    org = ["--organisation", ORG["organisation"], "--contact", ORG["contact"]]
    out_no, out_yes = str(tmp_path / "no"), str(tmp_path / "yes")
    refused = runner.invoke(
        cli, ["tipsheet", world.store.url("wang", "yiwu"), *common, *org, "--out", out_no]
    )
    assert refused.exit_code == 77, refused.output
    assert "refused role 'wang'" in refused.output and "workbench_export" in refused.output
    assert not (tmp_path / "no").exists()
    done = runner.invoke(
        cli, ["tipsheet", world.store.url("zhao", "yiwu"), *common, *org, "--out", out_yes]
    )
    assert done.exit_code == 0, done.output
    (bundle,) = (tmp_path / "yes").iterdir()
    assert zipfile.is_zipfile(bundle)
    check = runner.invoke(cli, ["verify", str(bundle)])
    assert check.exit_code == 0 and "intact" in check.output, check.output


def test_a_team_case_without_an_organisation_says_how_to_name_one(world, tmp_path) -> None:
    with (
        open_case(world.store.url("zhao", "yiwu"), create=False) as team,
        pytest.raises(InputError, match="--organisation / --contact"),
    ):
        export_tip_sheet(team, ["S001"], out=tmp_path / "out", keys_dir=world.keys)
    assert not (tmp_path / "out").exists()


def test_a_pushed_case_brings_its_settings(world, tmp_path) -> None:
    push(world.root / "yiwu.gpkg", parse_url(world.store.url("amira", "pushed")))
    with open_case(world.store.url("zhao", "pushed"), create=False) as team:
        assert isinstance(team, TeamCase)
        assert team.settings() == ORG
        bundle = export_tip_sheet(
            team, SITES, out=tmp_path, keys_dir=world.keys, allow_unconfirmed=REASON, pdf=False
        )
    meta = json.loads((bundle / "data" / "bundle.json").read_text("utf-8"))
    assert meta["organisation"] == {"name": ORG["organisation"], "contact": ORG["contact"]}
    local = _csv_rows(world.bundles["local", "police"] / "data" / "shipments.csv")
    assert _csv_rows(bundle / "data" / "shipments.csv") == local


# -- what a bundle reads --------------------------------------------------------------------
def test_a_sites_waybills_are_read_alone_and_match_the_case_file(world) -> None:
    with open_case(world.root / "yiwu.gpkg", create=False) as local:
        mine = pd.DataFrame(local.site_shipments("S002", run_id=world.run))
        total = local.n_waybills()
    with open_case(world.store.url("wang", "yiwu"), create=False) as team:
        read: list[int] = []
        arrow = team._arrow

        def counting(sql, *params):
            table = arrow(sql, *params)
            if "FROM waybills" in sql:
                read.append(table.num_rows)
            return table

        team._arrow = counting
        theirs = team.site_shipments("S002", run_id=world.run)
    assert len(theirs) == len(mine) > 0
    key = ["shipment_id"]
    columns = [c for c in mine.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(theirs)[columns].sort_values(key).reset_index(drop=True),
        mine[columns].sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    # one read of the waybills around the site's points: not the case's
    assert len(read) == 1 and len(mine) <= read[0] < total / 4


def test_a_team_case_reads_networks_and_settings_as_a_case_file(world) -> None:
    with open_case(world.root / "yiwu.gpkg", create=False) as local:
        mine = local.networks()
        sites = local.sites(world.run)
    with open_case(world.store.url("wang", "yiwu"), create=False) as team:
        theirs = team.networks()
        team_sites = team.site_layer(world.run)
        assert team.settings() == {}  # nothing set in this team case
        assert team.actor == "wang"
    pd.testing.assert_frame_equal(theirs.membership, mine.membership)
    pd.testing.assert_frame_equal(theirs.summary, mine.summary)
    assert theirs.parameters == mine.parameters
    assert list(team_sites.columns) == list(sites.columns)
    assert team_sites["hull"].equals(sites["hull"])
    assert team_sites["sellers"].tolist() == sites["sellers"].tolist()


# -- cross-references and relocations a pushed case brings -------------------------------------
_SPEC = importlib.util.spec_from_file_location(
    "seen_cases", Path(__file__).resolve().parents[1] / "export" / "seen_cases.py"
)
assert _SPEC is not None and _SPEC.loader is not None
seen_cases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(seen_cases)


def _both_bundles(store, path: Path, sites: list[str], out: Path, keys: Path, **options):
    """The police and the partner bundle of ``sites`` from the case file and from the team
    case it was pushed to (as zhao, from either)."""
    push(path, parse_url(store.url("amira", "pushed")))
    bundles = {}
    for profile in ("police", "partner"):
        with open_case(path, actor="zhao", create=False) as local:
            bundles["local", profile] = export_tip_sheet(
                local, sites, out=out / "local", keys_dir=keys, profile=profile, pdf=False,
                **options,
            )  # fmt: skip
        with open_case(store.url("zhao", "pushed"), create=False) as team:
            bundles["team", profile] = export_tip_sheet(
                team, sites, out=out / "team", keys_dir=keys, profile=profile, pdf=False,
                **options,
            )  # fmt: skip
    return bundles


def test_cross_references_are_the_case_files(store, tmp_path) -> None:
    world = seen_cases.build(tmp_path)
    world.case.close()
    sites = [world.workshop, world.clean]
    bundles = _both_bundles(store, world.case.path, sites, tmp_path / "out", world.keys)
    for profile in ("police", "partner"):
        local, team = (bundles[k, profile] / "data" for k in ("local", "team"))
        rows = _csv_rows(team / "cross_references.csv")
        assert rows == _csv_rows(local / "cross_references.csv")
        # the workshop's matches: earlier case and (police only) the partner's list
        column = {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}
        assert set(column["site_id"]) == {world.workshop}
        assert ("partner" in column["source"]) == (profile == "police")
        html = (team / "report.html").read_text("utf-8")
        assert seen_cases.HOSTILE not in html  # the hostile issuer's name, escaped


def test_a_missing_value_has_no_token() -> None:
    # a team case's string columns hold NaN where a case file's read gave None: both empty
    from workbench.export._extract import _tokens

    values = pd.Series(["6222021234567890", None, float("nan"), pd.NA], dtype=object)
    tokens = _tokens(values, bytes(32)).tolist()
    assert tokens[0].startswith("P-") and tokens[1:] == ["", "", ""]


def test_relocations_and_events_are_the_case_files(store, tmp_path) -> None:
    from workbench.demo._moves import generate_relocations

    demo = generate_relocations(tmp_path / "data", seed=3, n_moves=3, n_parallel=1, n_pauses=1,
                                n_steady=1, n_closed=1, n_new=1, weekly_shipments=15,
                                n_background_sellers=40)  # fmt: skip
    path = tmp_path / "moves.gpkg"
    with open_case(path, actor="amira") as case:
        case.ingest_files({t: getattr(demo, t) for t in ("sellers", "identifiers", "shipments")})
        case.find_sites(300)
        for row in pd.read_csv(demo.events, keep_default_na=False).to_dict("records"):
            if row["kind"] != "raid":
                sellers = row["seller_ids"].split(";")
                case.record_event(row["kind"], row["date"], seller_ids=sellers, note="down")
        moved = sorted({str(s) for s in case.relocations().relocations["to_site"]})
        for key, value in ORG.items():
            case.set_setting(key, value)
    assert moved  # the premise: a network moved into these sites
    keys = init_keys(tmp_path / "keys")
    bundles = _both_bundles(store, path, moved, tmp_path / "out", keys, allow_unconfirmed=REASON)
    with open_case(store.url("wang", "pushed"), create=False) as team:
        assert len(team.events()) > 0
    for profile in ("police", "partner"):
        local, team_data = (bundles[k, profile] / "data" for k in ("local", "team"))
        rows = _csv_rows(team_data / "relocations.csv")
        assert len(rows) > 1 and rows == _csv_rows(local / "relocations.csv")
