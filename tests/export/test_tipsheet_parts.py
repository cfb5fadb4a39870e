"""The pieces of a tip sheet: catalogue, display-safe text, safe CSV, KML, FtM, keys."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from workbench.errors import InputError, NotFoundError
from workbench.export._ftm import ftm_entities
from workbench.export._geo import write_geojson, write_gpkg, write_kml
from workbench.export._i18n import LANGS, catalogue, placeholders, translator
from workbench.export._keys import init_keys, load_keys, pseudonym
from workbench.export._report import jurisdiction_names, shared_identifiers, shown
from workbench.export._tables import exact_table, write_csv, write_xlsx

TEMPLATES = Path(__file__).resolve().parents[2] / "workbench" / "export" / "report_html"
HOSTILE = [
    '=HYPERLINK("http://evil.example/x","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # full-width equals sign
]


# -- catalogue ---------------------------------------------------------------------------
def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert set(en) == set(zh)
    for key in en:
        assert placeholders(en[key]) == placeholders(zh[key]), key


def test_every_text_the_template_asks_for_is_in_the_catalogue() -> None:
    source = "".join(p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.j2"))
    keys = set(re.findall(r"""tr\(\s*["']([a-z_.]+[a-z_])["']""", source))
    assert len(keys) > 50  # the template has no wording of its own
    assert keys <= set(catalogue("en")), keys - set(catalogue("en"))
    # no English prose left in the template outside tr(): a tag's text is an expression
    text = re.sub(r"\{[{%#].*?[}%#]\}", "", source, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    assert not re.search(r"[A-Za-z]{4,}", text.split("</style>")[-1]), text


def test_translator_fills_placeholders_and_translates_codes() -> None:
    zh = translator("zh-CN")
    assert zh("recipient", area="莆田市") == "莆田市公安局"
    assert zh.value("verdict", "counterfeit") == "假冒"
    assert zh.value("verdict", "never-seen") == "never-seen"  # data shown as it is
    with pytest.raises(InputError, match=r"lang='fr' is not available; choose one of en, zh-CN"):
        translator("fr")
    with pytest.raises(NotFoundError, match="no text 'nope' in the en catalogue"):
        translator("en")("nope")
    assert LANGS == ("en", "zh-CN")


# -- display-safe text -------------------------------------------------------------------
def test_shown_makes_bidi_overrides_visible_and_cuts_long_text() -> None:
    tr = translator("en")
    assert shown("\u202eexe.gnp", tr) == "[U+202E]exe.gnp"
    assert shown("a\x00b\x1bc", tr) == "abc"
    long = shown("A" * 5000, tr)
    assert long.startswith("A" * 160 + "…") and "5,000 characters" in long
    assert shown(float("nan"), tr) == "" and shown(None, tr) == ""


def test_jurisdiction_in_both_languages_and_the_police_area() -> None:
    site = {
        "country": "China", "country_zh": "中国", "province": "Fujian", "province_zh": "福建省",
        "prefecture": "Putian", "prefecture_zh": "莆田市", "district": "Licheng",
        "district_zh": "荔城区", "place": "Putian", "place_zh": "莆田",
    }  # fmt: skip
    place = jurisdiction_names(site)
    assert place["en"] == "Licheng, Putian, Fujian, China"
    assert place["zh"] == "中国福建省莆田市荔城区"
    assert (place["area_en"], place["area_zh"]) == ("Putian", "莆田市")
    # without prefecture columns (older cases) the nearest place stands in
    old = {k: v for k, v in site.items() if not k.startswith(("prefecture", "district"))}
    assert jurisdiction_names(old)["zh"] == "中国福建省莆田"


def test_shared_identifiers_group_spellings_and_accounts() -> None:
    links = pd.DataFrame(
        {
            "network_id": "N1",
            "seller_id": ["S1", "S2", "S2", "S3"],
            "kind": ["phone", "phone", "bank_card", "bank_card"],
            "value": ["138 0013 8000", "0086-13800138000", "6222 0212", "6222-0212"],
            "value_norm": ["+8613800138000", "+8613800138000", "62220212", "62220212"],
        }
    )
    shared = shared_identifiers(links).set_index("kind")
    assert shared.loc["phone", "accounts"] == ["S1", "S2"]
    assert shared.loc["phone", "spellings"] == ["0086-13800138000", "138 0013 8000"]


# -- spreadsheets and exact tables ---------------------------------------------------------
def test_csv_is_exact_utf8_for_machines(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": [*HOSTILE, "普通店铺", "Nike"],
            "value_cny": [-5.0] * len(HOSTILE) + [12.5, 0.0],
            "brands": [["=evil", "Nike"]] * (len(HOSTILE) + 2),
        }
    )
    path = write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == [*HOSTILE, "普通店铺", "Nike"]  # exactly as stored
    assert rows[0]["value_cny"] == "-5.0" and rows[-1]["brands"] == "=evil;Nike"


def test_xlsx_cells_are_text_as_written_and_numbers_stay_numbers(tmp_path: Path) -> None:
    import openpyxl

    frame = pd.DataFrame(
        {
            "name": [*HOSTILE, "bell\x07 and tab", "L" * 40_000],
            "value_cny": [-5.0] * len(HOSTILE) + [12.5, 0.0],
            "date": pd.to_datetime(["2026-05-01"] * (len(HOSTILE) + 2)),
        }
    )
    path = write_xlsx({"sellers": frame}, tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(path)["sellers"]
    names = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in names)  # never "f": a formula cannot run
    # as written (XML reads a carriage return as a line break: the CSV keeps it exact)
    assert [c.value for c in names[: len(HOSTILE)]] == [h.replace("\r", "\n") for h in HOSTILE]
    assert names[len(HOSTILE)].value == "bell\ufffd and tab"  # XML cannot hold a bell
    assert len(names[-1].value) == 32_767 and names[-1].value.endswith("[cut: see the CSV]")
    values = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert values[0].value == -5.0 and values[0].data_type == "n"  # a number, not text
    assert sheet["C2"].value == "2026-05-01"
    assert sheet.freeze_panes == "A2"


def test_exact_table_keeps_dates_readable() -> None:
    frame = pd.DataFrame(
        {"date": pd.to_datetime(["2026-05-01", "2026-05-02T10:30"], format="ISO8601")}
    )
    assert list(exact_table(frame)["date"]) == ["2026-05-01", "2026-05-02T10:30:00"]


# -- KML and GeoPackage ------------------------------------------------------------------
@pytest.fixture
def hostile_sites() -> pd.DataFrame:
    hull = shapely.Polygon([(119.0, 25.4), (119.01, 25.4), (119.01, 25.41), (119.0, 25.41)])
    return pd.DataFrame(
        {
            "site_id": ["S001", "S/../002"],
            "lat": [25.405, 23.1],
            "lon": [119.005, 113.2],
            "score": [97.7, 50.0],
            "brands": [["Nike", "<b>x</b>"], []],
            "score_parts": [{"evidence": 0.9}, {}],
            "hull": [hull, None],
        }
    )


def test_kml_escapes_names_and_descriptions_and_reads_back(
    tmp_path: Path, hostile_sites: pd.DataFrame
) -> None:
    evil = "<img src=x onerror=alert(1)>\x07"
    path = write_kml(
        hostile_sites,
        tmp_path / "sites.kml",
        title="CW-1",
        names={"S001": evil},
        descriptions={"S001": [("Seller", evil), ("Jurisdiction", "中国福建省莆田市")]},
    )
    tree = ET.parse(path)  # well-formed XML: the bell character was replaced
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = tree.getroot().findall(".//k:Placemark", ns)
    assert [m.findtext("k:name", namespaces=ns) for m in marks] == [
        "<img src=x onerror=alert(1)>\ufffd",
        "S/../002",
    ]
    balloon = marks[0].findtext("k:description", namespaces=ns)
    # Google Earth renders the balloon as HTML: the data must arrive HTML-escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in balloon and "<img" not in balloon
    assert "中国福建省莆田市" in balloon
    frame = pyogrio.read_dataframe(path)
    assert list(frame["Name"]) == ["<img src=x onerror=alert(1)>\ufffd", "S/../002"]
    assert frame.geometry.iloc[0].geom_type in {"GeometryCollection", "MultiPolygon", "Polygon"}
    assert frame.geometry.iloc[0].intersects(shapely.Point(119.005, 25.405))


def test_geopackage_layers_read_back_with_gdal(tmp_path: Path, hostile_sites: pd.DataFrame) -> None:
    ships = pd.DataFrame({"site_id": "S001", "lat": [25.405, 25.406], "lon": [119.0, 119.01]})
    path = write_gpkg(
        tmp_path / "case.gpkg",
        {
            "sites": (hostile_sites.drop(columns=["hull"]), "Sites", "POINT"),
            "site_areas": (hostile_sites[["site_id", "hull"]], "Hulls", "POLYGON"),
            "shipments": (ships, "Waybills", "POINT"),
            "sellers": (pd.DataFrame({"seller_id": ["S1"], "name": ["<b>"]}), "Sellers", None),
        },
    )
    layers = dict(pyogrio.list_layers(path).tolist())
    assert layers == {
        "sites": "Point",
        "site_areas": "Polygon",
        "shipments": "Point",
        "sellers": None,
    }
    sites = pyogrio.read_dataframe(path, layer="sites")
    assert list(sites["site_id"]) == ["S001", "S/../002"] and sites.crs.to_epsg() == 4326
    assert json.loads(sites["brands"].iloc[0]) == ["Nike", "<b>x</b>"]
    areas = pyogrio.read_dataframe(path, layer="site_areas")
    assert areas.geometry.iloc[0].area > 0 and areas.geometry.iloc[1] is None
    assert pyogrio.read_info(path, layer="shipments")["features"] == 2


# -- FollowTheMoney ----------------------------------------------------------------------
def validate_ftm(entities: list[dict]) -> dict[str, int]:
    """Validate entities with the followthemoney library; returns counts per schema."""
    from followthemoney import model
    from followthemoney.exc import InvalidData

    ids = {e["id"] for e in entities}
    counts: dict[str, int] = {}
    for entity in entities:
        schema = model.get(entity["schema"])
        assert schema is not None and not schema.abstract, entity["schema"]
        unknown = set(entity["properties"]) - set(schema.properties)
        assert not unknown, (entity["schema"], unknown)
        try:
            schema.validate(entity)  # raises InvalidData on a value its type rejects
        except InvalidData as error:
            pytest.fail(f"{entity['schema']} {entity['properties']}: {error.errors}")
        for required in schema.required:
            assert entity["properties"].get(required), (entity["schema"], required)
        proxy = model.get_proxy(entity, cleaned=False)
        for prop, values in entity["properties"].items():
            spec = schema.properties[prop]
            if spec.type.name == "entity":
                assert set(values) <= ids, (entity["schema"], prop)
            else:  # the library keeps every value as written: nothing was dropped as invalid
                cleaned = {spec.type.clean(v) for v in values}
                assert None not in cleaned, (entity["schema"], prop, values)
        assert proxy.id == entity["id"]
        counts[entity["schema"]] = counts.get(entity["schema"], 0) + 1
    return counts


@pytest.fixture
def accounts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sellers = pd.DataFrame(
        {
            "seller_id": ["S1", "S2"],
            "name": ["<img src=x onerror=alert(1)>", "莆田鞋业"],
            "platform": ["Taobao", "1688"],
            "registered_address": ["福建省莆田市荔城区1号", ""],
            "network_id": ["N1", "N1"],
        }
    )
    ids = pd.DataFrame(
        {
            "seller_id": ["S1", "S2", "S1", "S2", "S1", "S2", "S1"],
            "kind": ["phone", "phone", "bank_card", "bank_card", "id_document", "email", "device"],
            "value_norm": [
                "+8613800138000", "+8613800138000", "6222021234567890", "6222021234567890",
                "350304198905124971", "li.wei@example.com", "4EC4D812C3A6A94A",
            ],
        }
    )  # fmt: skip
    sites = pd.DataFrame(
        {
            "run_id": ["r1"], "site_id": ["S001"], "lat": [25.44], "lon": [119.01],
            "country": ["China"], "province": ["Fujian"], "place": ["Putian"],
            "address": ["福建省莆田市荔城区荔园工业区鞋材路8号"],
        }
    )  # fmt: skip
    return sellers, ids, sites


def test_ftm_entities_validate_and_share_people_and_accounts(accounts) -> None:
    sellers, ids, sites = accounts
    entities = ftm_entities(sellers, ids, sites, profile="police")
    counts = validate_ftm(entities)
    assert counts["Company"] == 2 and counts["UserAccount"] == 2
    assert counts["BankAccount"] == 1  # the shared card is one asset both shops own
    assert counts["Person"] == 1 and counts["Ownership"] == 3
    companies = [e for e in entities if e["schema"] == "Company"]
    assert all(c["properties"]["phone"] == ["+8613800138000"] for c in companies)
    site = next(e for e in entities if e["schema"] == "Address" and "latitude" in e["properties"])
    assert site["properties"]["country"] == ["cn"]


def test_ftm_partner_profile_has_tokens_only(accounts) -> None:
    sellers, ids, sites = accounts
    key = b"k" * 32
    tokens = ids.assign(value_norm=ids["value_norm"].map(lambda v: pseudonym(v, key)))
    entities = ftm_entities(sellers.assign(name=""), tokens, sites, profile="partner")
    counts = validate_ftm(entities)
    assert "Person" not in counts and "BankAccount" not in counts
    text = json.dumps(entities, ensure_ascii=False)
    for raw in ids["value_norm"]:
        assert raw not in text
    assert "<img" not in text


# -- keys --------------------------------------------------------------------------------
def test_keys_are_private_and_refuse_to_be_replaced_silently(tmp_path: Path) -> None:
    folder = init_keys(tmp_path / "keys")
    for name in ("signing-key.pem", "pseudonym.key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    keys = load_keys(folder)
    assert keys.fingerprint.startswith("SHA256:") and "PRIVATE" not in repr(keys)
    with pytest.raises(InputError, match=r"keys already exist in .*force=True"):
        init_keys(folder)
    os.chmod(folder / "pseudonym.key", 0o644)
    with pytest.raises(InputError, match="can be read by other users; run `chmod 600"):
        load_keys(folder)
    with pytest.raises(NotFoundError, match="run `workbench keys init`"):
        load_keys(tmp_path / "none")


def test_keys_exist_ok_keeps_complete_keys_and_refuses_a_partial_folder(tmp_path: Path) -> None:
    folder = init_keys(tmp_path / "keys", exist_ok=True)  # none yet: created
    before = load_keys(folder).fingerprint
    assert init_keys(folder, exist_ok=True) == folder
    assert load_keys(folder).fingerprint == before  # kept, not replaced
    (folder / "pseudonym.key").unlink()  # a folder with some keys only is not "existing keys"
    with pytest.raises(InputError, match=r"keys already exist in .*force=True"):
        init_keys(folder, exist_ok=True)


def test_pseudonyms_are_stable_per_key_and_differ_between_keys() -> None:
    a, b = b"a" * 32, b"b" * 32
    assert pseudonym("+8613800138000", a) == pseudonym("+8613800138000", a)
    assert pseudonym("+8613800138000", a) != pseudonym("+8613800138000", b)
    assert re.fullmatch(r"P-[A-Z2-7]{20}", pseudonym("x", a))


def _rings_follow_rfc7946(collection: dict) -> None:
    import shapely.geometry

    polygons = [
        shapely.geometry.shape(f["geometry"])
        for f in collection["features"]
        if f["geometry"] and f["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    ]
    assert polygons
    for shape in polygons:
        for polygon in getattr(shape, "geoms", [shape]):
            assert polygon.exterior.is_ccw, "RFC 7946: outer rings counter-clockwise"
            assert all(not ring.is_ccw for ring in polygon.interiors), "holes clockwise"


def test_geojson_follows_rfc7946(tmp_path: Path, hostile_sites: pd.DataFrame) -> None:
    clockwise = shapely.Polygon(
        [(119.0, 25.4), (119.0, 25.41), (119.01, 25.41), (119.01, 25.4)],
        holes=[[(119.002, 25.402), (119.004, 25.402), (119.004, 25.404), (119.002, 25.404)]],
    )
    assert not clockwise.exterior.is_ccw
    sites = hostile_sites.assign(hull=[clockwise, None])
    collection = json.loads(write_geojson(sites, tmp_path / "sites.geojson").read_text("utf-8"))
    assert "crs" not in collection  # RFC 7946 §4: no crs member, WGS-84 lon/lat only
    _rings_follow_rfc7946(collection)


def test_the_runs_sites_geojson_follows_rfc7946(tmp_path: Path) -> None:
    import workbench

    demo = workbench.generate_demo(tmp_path / "data", n_shipments=20_000)
    result = workbench.run_investigation(demo.folder, tmp_path / "out")
    collection = json.loads(result.outputs["sites"].read_text("utf-8"))
    assert "crs" not in collection
    _rings_follow_rfc7946(collection)  # the same writer as the bundle's: points and hulls
