"""Cross-referencing a case against earlier cases: planted shared identities, found exactly."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.case import cross_reference, cross_references
from workbench.case._case import open_case
from workbench.case._schema import SCHEMA_VERSION
from workbench.case._xref_index import Index, build_index, load_index
from workbench.case._xref_store import _store_index
from workbench.errors import InputError, NotFoundError
from workbench.intake._table import load_table
from workbench.networks._identifiers import DEFAULT_EMAIL_RULES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOTLINE = "400-820-8820"  # a courier hotline: on 25 accounts of the earlier case
COURIER_MAIL = "service@sf-express.com"  # on 25 accounts of the new case


def _ingest(case, folder: Path, *, link: bool = True, **frames: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for table, frame in frames.items():
        path = folder / f"{table}.csv"
        frame.to_csv(path, index=False)
        results.append(load_table(path, table))
    case.ingest(results, link=link)


def _sellers(ids: list[str], platform: str | None) -> pd.DataFrame:
    return pd.DataFrame({"seller_id": ids, "name": ids, "platform": platform})


def _workshop(sellers: list[str], prefix: str) -> pd.DataFrame:
    """600 waybills from three points within ~40 m in Putian: one site at any radius."""
    rng = np.random.default_rng(1)
    n = 600
    return pd.DataFrame(
        {
            "shipment_id": [f"{prefix}{i:05d}" for i in range(n)],
            "seller_id": rng.choice(sellers, n),
            "lat": 25.4394 + rng.choice([0.0, 0.0003, -0.0002], n),
            "lon": 119.0103 + rng.choice([0.0, 0.0002, 0.0004], n),
            "brand": "Nike",
            "shipped_at": "2026-03-02",
            "value_cny": 100.0,
        }
    )


@pytest.fixture(scope="module")
def earlier_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """putian-2025: a ring R1-R3 sharing a bank card (network N0001) at a workshop site
    reviewed as confirmed; R4 alone with a phone, R5 alone with a device, R6 alone with the
    courier's e-mail; a hotline on 25 accounts (infrastructure there)."""
    folder = tmp_path_factory.mktemp("earlier")
    sellers = pd.concat(
        [
            _sellers([f"R{i}" for i in range(10)], "taobao"),
            _sellers([f"H{i:03d}" for i in range(30)], "taobao"),
            _sellers([f"B{i}" for i in range(3)], None),  # no platform: never matched by id
        ],
        ignore_index=True,
    )
    rows = [(f"R{i}", "bank_card", "6222 0212 3456 7890") for i in (1, 2, 3)]
    rows += [("R4", "phone", "13800138000"), ("R5", "device", "AB-CD-EF-01")]
    rows += [("R6", "email", COURIER_MAIL), ("R9", "email", "ring9@163.com")]
    rows += [(f"H{i:03d}", "phone", HOTLINE) for i in range(25)]
    identifiers = pd.DataFrame(rows, columns=["seller_id", "kind", "value"])
    with open_case(folder / "putian-2025.case", actor="analyst-0") as case:
        _ingest(
            case,
            tmp_path_factory.mktemp("exports-2025"),
            sellers=sellers,
            identifiers=identifiers,
            shipments=_workshop(["R1", "R2", "R3", "R7"], "W"),  # R4-R6 ship nothing
        )
        case.link_sellers()
        case.find_sites(300)
        sites = case.sites()
        workshop = sites.loc[sites["sellers"].map(lambda v: "R1" in v), "site_id"].iloc[0]
        case.review(workshop, status="needs-work", note="first look")
        case.review(workshop, status="confirmed", note="test buy matched")  # latest wins
    return folder


def _new_case(path: Path, *, shipments: bool = True):
    """putian-2026: X1 holds the ring's card written another way, X2 R4's phone in another
    spelling, X3 R5's device in lower case without dashes; X1-X4 carry the hotline (4
    accounts here, but infrastructure in the earlier case: no match); F0-F24 carry the
    courier's e-mail (infrastructure here: no match with R6); R7 is the same taobao
    account as before, R8 is on jd this time, B1 has no platform in either case."""
    case = open_case(path, actor="analyst-1")
    sellers = pd.concat(
        [
            _sellers(["X1", "X2", "X3", "X4", "R7"], "taobao"),
            _sellers(["R8"], "jd"),
            _sellers(["B1"], None),
            _sellers([f"F{i}" for i in range(25)], "taobao"),
        ],
        ignore_index=True,
    )
    rows = [
        ("X1", "bank_card", "6222021234567890"),
        ("X2", "phone", "+86 138 0013 8000"),
        ("X3", "device", "abcdef01"),
        ("X4", "email", "someone.else@163.com"),
    ]
    rows += [(f"X{i}", "phone", HOTLINE) for i in (1, 2, 3, 4)]
    rows += [(f"F{i}", "email", COURIER_MAIL) for i in range(25)]
    frames = {
        "sellers": sellers,
        "identifiers": pd.DataFrame(rows, columns=["seller_id", "kind", "value"]),
    }
    if shipments:
        frames["shipments"] = _workshop(["X1", "X2", "X3"], "N")
    _ingest(case, path.parent / f"exports-{path.stem}", **frames)
    case.link_sellers()
    if shipments:
        case.find_sites(300)
    return case


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def new_case(tmp_path: Path):
    case = _new_case(tmp_path / "putian-2026.gpkg")
    yield case
    case.close()


def test_planted_shared_identities_are_found_exactly(new_case, earlier_folder: Path) -> None:
    found = cross_reference(new_case, earlier_folder)
    ids = found[found["match"] == "identifier"]
    # precision and recall 1.0: the three planted identifiers (written differently), not
    # the hotline (infrastructure in the earlier case) nor the courier e-mail (here)
    assert set(zip(ids["seller_id"], ids["kind"], ids["value_norm"], strict=True)) == {
        ("X1", "bank_card", "6222021234567890"),
        ("X2", "phone", "+8613800138000"),
        ("X3", "device", "ABCDEF01"),
    }
    sellers = found[found["match"] == "seller"]
    assert sellers["seller_id"].tolist() == ["R7"]  # not R8 (other platform), not B1
    card = ids[ids["kind"] == "bank_card"].iloc[0]
    assert card["other_seller_ids"] == "R1;R2;R3" and card["n_other_sellers"] == 3
    assert card["other_network_id"] == "N0001" and card["review_status"] == "confirmed"
    assert card["source_name"] == "putian-2025" and card["source"] == "case"
    assert card["explanation"] == (
        f"this bank card was on 3 accounts of network N0001 in case putian-2025, site "
        f"{card['other_site_ids']} confirmed counterfeit"
    )
    phone = ids[ids["kind"] == "phone"].iloc[0]
    assert pd.isna(phone["other_network_id"]) and phone["other_seller_ids"] == "R4"
    assert phone["explanation"].startswith("this phone was on 1 account (in no network)")
    assert phone["explanation"].endswith("at no site of its latest run")  # R4 shipped nothing


def test_networks_and_sites_that_appeared_before(new_case, earlier_folder: Path) -> None:
    found = cross_reference(new_case, earlier_folder)
    nets = found[found["match"] == "network"]
    # X1-X4 are one network here (the hotline links 4 accounts in this case); its X1 holds
    # the card of the earlier ring N0001
    assert nets[["network_id", "other_network_id"]].values.tolist() == [["N0001", "N0001"]]
    assert nets["review_status"].tolist() == ["confirmed"]
    sites = found[found["match"] == "site"]
    # the new workshop lies where the earlier, confirmed one was
    assert len(sites) == 1 and sites["review_status"].iloc[0] == "confirmed"
    assert sites["explanation"].iloc[0].startswith("this site lies ")


def test_earlier_cases_are_read_only(new_case, earlier_folder: Path) -> None:
    before = _digests(earlier_folder)
    cross_reference(new_case, [earlier_folder / "putian-2025.case"])
    assert _digests(earlier_folder) == before


def test_rerunning_replaces_the_matches_and_audits_the_inputs(
    new_case, earlier_folder: Path
) -> None:
    first = cross_reference(new_case, earlier_folder)
    second = cross_reference(new_case, earlier_folder)
    assert len(cross_references(new_case)) == len(first) == len(second)
    pd.testing.assert_frame_equal(second, cross_references(new_case))  # returned = stored
    log = new_case.audit()
    entries = log[log["action"] == "cross-reference"]
    assert len(entries) == 2
    import json

    inputs = json.loads(entries["inputs"].iloc[-1])
    with sqlite3.connect(earlier_folder / "putian-2025.case" / "case.gpkg") as con:
        head = con.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
    assert [i["audit_head"] for i in inputs] == [head]
    assert (second["source_hash"] == head).all()
    assert new_case.verify_audit().ok


def test_a_stored_index_gives_the_same_matches(tmp_path: Path, earlier_folder: Path) -> None:
    import json

    copy = tmp_path / "cases" / "putian-2025.case"
    shutil.copytree(earlier_folder / "putian-2025.case", copy)
    with open_case(copy, actor="analyst-0") as earlier:
        # linked again with e-mail rules given: no index is stored, the one stored when
        # it was first linked is stale (its networks were written since)
        earlier.link_sellers(email_rules=DEFAULT_EMAIL_RULES)
    with _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case:
        rebuilt = cross_reference(case, copy)
        # the earlier case cross-referenced itself once (so it stores its own index)
        with open_case(copy, actor="analyst-0") as earlier:
            cross_reference(earlier, [case.path])
        stored = cross_reference(case, copy)
        inputs = [json.loads(t) for t in case.audit()["inputs"].iloc[-2:]]
    assert [i[0]["index"] for i in inputs] == ["rebuilt", "stored"]
    columns = ["match", "seller_id", "kind", "value_norm", "other_seller_ids", "explanation"]
    pd.testing.assert_frame_equal(rebuilt[columns], stored[columns])


def _frames_equal(a: Index, b: Index) -> None:
    for part in ("identifiers", "sellers"):
        left, right = getattr(a, part), getattr(b, part)
        assert list(left.columns) == list(right.columns)
        for column in left.columns:  # values, not dtypes (Arrow strings or objects)
            assert _values(left[column]) == _values(right[column]), column


def _values(column: pd.Series) -> list:
    return column.astype(object).where(column.notna(), None).tolist()


def test_linking_stores_the_index_a_rebuild_gives(tmp_path: Path) -> None:
    with _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case:
        log = case.audit()
        linked = log[log["action"] == "link sellers"].iloc[-1]
        assert "xref_index" in linked["state"]  # stored in the linking's own entry
        stored = load_index(case._con, values=True)
        rebuilt, options = build_index(case._con, case.path, keep_values=True)
        assert stored is not None and stored.options == options
        _frames_equal(stored, rebuilt)
        # X1's card, X2's phone, X3's device, X4's e-mail and the hotline on X1-X4 (4
        # accounts here); not the courier e-mail on F0-F24 (25 accounts: infrastructure)
        assert len(stored.identifiers) == 8 and set(stored.identifiers["kind"]) == {
            "bank_card", "phone", "device", "email",
        }  # fmt: skip
        assert case.verify_audit().ok


def test_a_current_stored_index_is_used_for_the_case_itself(
    tmp_path: Path, earlier_folder: Path
) -> None:
    with _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case:
        before = len(case.audit())
        stored = cross_reference(case, earlier_folder)
        entry = case.audit().iloc[-1]
        assert len(case.audit()) == before + 1 and '"index":"stored"' in entry["parameters"]
        assert "xref_index" not in entry["state"]  # current: not written again
        # linked again with e-mail rules given: no index stored, the stored one is stale
        case.link_sellers(email_rules=DEFAULT_EMAIL_RULES)
        rebuilt = cross_reference(case, earlier_folder)
        assert '"index":"rebuilt"' in case.audit()["parameters"].iloc[-1]
    columns = ["match", "seller_id", "kind", "value_norm", "other_seller_ids", "explanation"]
    pd.testing.assert_frame_equal(stored[columns], rebuilt[columns])


def test_a_stale_stored_index_is_not_used(tmp_path: Path, earlier_folder: Path) -> None:
    with _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case:
        assert load_index(case._con) is not None
        # R4's phone arrives on X4 by an ingest told not to link: the stored index no
        # longer holds the case's identifiers (until the next linking or cross-reference)
        more = pd.DataFrame(
            [("X4", "phone", "138-0013-8000")], columns=["seller_id", "kind", "value"]
        )
        _ingest(case, tmp_path / "more", identifiers=more, link=False)
        assert load_index(case._con) is None
        found = cross_reference(case, earlier_folder)
        assert '"index":"rebuilt"' in case.audit()["parameters"].iloc[-1]
        assert load_index(case._con) is not None  # stored with the matches
    phones = found[(found["match"] == "identifier") & (found["kind"] == "phone")]
    assert sorted(phones["seller_id"]) == ["X2", "X4"]


def test_the_case_itself_in_the_folder_is_skipped(tmp_path: Path, earlier_folder: Path) -> None:
    with (
        _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case,
        pytest.raises(InputError, match="no earlier case besides"),
    ):
        cross_reference(case, tmp_path)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: d / "missing", NotFoundError, r"against: .*missing does not exist"),
        (lambda d: d / "empty", InputError, r"against: .*empty holds no cases"),
        (lambda d: d / "notes.txt", InputError, r"against: .*notes.txt is not a case"),
        (lambda d: d / "junk.gpkg", InputError, r"junk.gpkg is not a case file \(not SQLite"),
        (lambda d: d / "other.gpkg", InputError, r"other.gpkg is not a workbench case"),
    ],
)
def test_bad_earlier_cases_name_the_path(new_case, tmp_path, make, error, message) -> None:
    bad = tmp_path / "bad"
    (bad / "empty").mkdir(parents=True)
    (bad / "notes.txt").write_text("not a case", encoding="utf-8")
    (bad / "junk.gpkg").write_bytes(b"definitely not sqlite" * 100)
    with sqlite3.connect(bad / "other.gpkg") as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(error, match=message):
        cross_reference(new_case, make(bad))


def test_a_case_without_matches_stores_none(new_case, tmp_path: Path) -> None:
    with open_case(tmp_path / "elsewhere.gpkg") as other:
        _ingest(other, tmp_path / "ex", sellers=_sellers(["Z1"], "taobao"))
    assert cross_reference(new_case, [tmp_path / "elsewhere.gpkg"]).empty


def test_an_older_case_migrates_to_an_empty_cross_reference_table(tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    shutil.copy(FIXTURES / "case_v1.gpkg", path)
    with open_case(path, actor="analyst-2") as case:
        assert case.schema_version == SCHEMA_VERSION >= 7
        assert cross_references(case).empty
        assert list(cross_references(case).columns)[:3] == ["match", "kind", "value_norm"]
        assert case.verify_audit().ok


def test_public_names() -> None:
    from workbench import opening

    # workbench.cross_reference takes team cases too (earlier ones by URL): the case
    # file's function between case files
    assert workbench.cross_reference is opening.cross_reference
    assert workbench.cross_references is cross_references


def test_the_sorted_join_finds_every_equal_pair() -> None:
    from workbench.case._fingerprint_jit import join_sorted

    rng = np.random.default_rng(3)
    for _ in range(50):  # small values: long runs of equal fingerprints on both sides
        a = np.sort(rng.integers(0, 40, rng.integers(0, 300)).astype(np.uint64))
        b = np.sort(rng.integers(0, 40, rng.integers(0, 300)).astype(np.uint64))
        left, right = join_sorted(a, b)
        expected = {(i, j) for i in range(len(a)) for j in range(len(b)) if a[i] == b[j]}
        assert set(zip(left.tolist(), right.tolist(), strict=True)) == expected
        assert len(left) == len(expected)  # each pair once


def test_an_index_stored_unsorted_is_sorted_when_read(tmp_path: Path) -> None:
    # what the first version of the index stored: identifiers in the order of the table
    with _new_case(tmp_path / "putian-2026.gpkg", shipments=False) as case:
        index = load_index(case._con, values=True)
        assert index is not None
        shuffled = index.identifiers.iloc[::-1].reset_index(drop=True)
        with case._write() as con:
            _store_index(con, Index(shuffled, index.sellers, {}, index.options))
        again = load_index(case._con, values=True)
    assert again is not None
    h1 = again.identifiers["h1"].to_numpy()
    assert (h1[1:] >= h1[:-1]).all()
    assert set(again.identifiers["value_norm"]) == set(index.identifiers["value_norm"])
