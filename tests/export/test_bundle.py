"""Tip-sheet bundles from a real case: BagIt, signature, formats, profiles, overrides."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import bagit
import click
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from test_tipsheet_parts import validate_ftm

import workbench
from workbench.case._case import open_case
from workbench.cli._export import register
from workbench.errors import InputError
from workbench.export._bundle import export_tip_sheet, verify_bundle
from workbench.export._keys import init_keys
from workbench.intake._table import load_table

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")
RTL = "\u202eexe.gnp"  # shows as "png.exe" unless the override is made visible
LONG = "L" * 5000
FORMULA = '=HYPERLINK("http://evil.example/x","click")'
IMG = "<img src=x onerror=alert(1)>"
PERSONAL_KINDS = ("phone", "bank_card", "id_document", "payment_account", "email")


def _rename_sellers(case, seller_ids: list[str], names: list[str], folder: Path) -> None:
    """Give some of the site's accounts hostile names, through intake like any update."""
    sellers = case.table("sellers")
    rows = sellers[sellers["seller_id"].isin(seller_ids)].set_index("seller_id").loc[seller_ids]
    frame = pd.DataFrame(
        {
            "seller_id": seller_ids,
            "name": names,
            "platform": list(rows["platform"]),
            "registered_address": list(rows["registered_address"]),
        }
    )
    path = folder / "sellers-update.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    case.ingest([load_table(path, "sellers")])


def _pdf_text(path: Path) -> str:
    """The PDF's text in reading order, white space collapsed (table cells wrap lines)."""
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bundle")
    demo = workbench.generate_demo(
        root / "data", n_shipments=20_000, n_background_sellers=300, hostile_names=True
    )
    keys = init_keys(root / "keys")
    case = open_case(root / "putian.gpkg", actor="analyst-7")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    run = case.find_sites(300)
    s001 = [str(s) for s in case.sites(run).set_index("site_id").loc["S001", "sellers"]]
    _rename_sellers(case, s001[:4], [FORMULA, IMG, RTL, LONG], root)
    case.review("S001", status="confirmed", note="test buys E14, E15 matched", by="lead-3")
    case.set_setting("organisation", "Acme Brand Protection")
    case.set_setting("contact", "ip-team@acme.example")
    out = root / "out"
    bundles = {
        "police": export_tip_sheet(case, ["S001"], out=out, keys_dir=keys),
        "zh_zip": export_tip_sheet(
            case, ["S001"], lang="zh-CN", as_zip=True, out=out, keys_dir=keys
        ),
        "partner": export_tip_sheet(case, ["S001"], profile="partner", out=out, keys_dir=keys),
    }
    state = SimpleNamespace(root=root, case=case, keys=keys, run=run, out=out, bundles=bundles)
    yield state
    state.case.close()


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / bundle.name))


# -- the bag and its signature -------------------------------------------------------------
def test_bundle_is_a_valid_bag_with_every_file(world) -> None:
    bundle = world.bundles["police"]
    bag = bagit.Bag(str(bundle))
    bag.validate()  # raises BagValidationError naming any bad file
    assert bag.info["Source-Organization"] == "Acme Brand Protection"
    payload = {p.relative_to(bundle / "data").as_posix() for p in (bundle / "data").rglob("*")}
    for name in ("report.html", "report.pdf", "sites.geojson", "sites.kml", "case.gpkg",
                 "sellers.csv", "shipments.csv", "evidence.csv", "identifiers.csv",
                 "prosecution.csv", "entities.ftm.json", "audit.jsonl", "parameters.json",
                 "bundle.json"):  # fmt: skip
        assert name in payload, name
    assert (bundle / "organisation-key.pub.pem").read_bytes().startswith(b"-----BEGIN PUBLIC")
    assert not list(bundle.rglob("*.key")) and b"PRIVATE" not in b"".join(
        p.read_bytes() for p in bundle.rglob("*") if p.is_file() and p.suffix != ".gpkg"
    )


def test_verify_passes_on_a_fresh_bundle_folder_and_zip(world) -> None:
    for name in ("police", "zh_zip", "partner"):
        check = verify_bundle(world.bundles[name], key=world.keys / "signing-key.pub.pem")
        assert check.ok, str(check)
        assert "intact" in str(check) and check.n_files >= 13
    assert zipfile.is_zipfile(world.bundles["zh_zip"])


@pytest.mark.parametrize("target", ["data/sellers.csv", "data/report.pdf", "bag-info.txt"])
def test_verify_names_the_file_after_a_one_byte_edit(world, tmp_path: Path, target: str) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    path = bundle / target
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    check = verify_bundle(bundle)
    assert not check.ok
    assert check.problems == [f"{target}: changed (its SHA-256 differs from "
                              f"{'manifest' if target.startswith('data') else 'tagmanifest'}"
                              "-sha256.txt)"]  # fmt: skip
    result = CliRunner().invoke(_cli(), ["verify", str(bundle)])
    assert result.exit_code == 1 and target in result.output and "NOT intact" in result.output


def test_verify_fails_on_a_wrong_key_and_on_a_swapped_key(world, tmp_path: Path) -> None:
    other = init_keys(tmp_path / "other")
    check = verify_bundle(world.bundles["police"], key=other / "signing-key.pub.pem")
    assert not check.ok and not check.signature_ok
    assert any("signature does not match" in p for p in check.problems)
    # a forger re-signs an edited manifest with his own key and ships his public key
    bundle = _copy(world.bundles["police"], tmp_path)
    (bundle / "organisation-key.pub.pem").write_bytes((other / "signing-key.pub.pem").read_bytes())
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert any(p.startswith("organisation-key.pub.pem") for p in check.problems)


def test_verify_names_added_and_removed_files_and_a_missing_signature(world, tmp_path) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    (bundle / "data" / "extra.txt").write_text("planted", encoding="utf-8")
    (bundle / "data" / "evidence.csv").unlink()
    (bundle / "tagmanifest-sha256.txt.sig").unlink()
    problems = "\n".join(verify_bundle(bundle).problems)
    assert "data/extra.txt: not in manifest-sha256.txt" in problems
    assert "data/evidence.csv: missing" in problems
    assert "tagmanifest-sha256.txt.sig: missing" in problems


def test_the_signature_checks_with_openssl_too(world) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    bundle = world.bundles["police"]
    result = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "organisation-key.pub.pem",
         "-rawin", "-in", "tagmanifest-sha256.txt", "-sigfile", "tagmanifest-sha256.txt.sig"],
        cwd=bundle, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and "Success" in result.stdout, result.stderr


# -- forgeries: what the recipient reads is what was signed ----------------------------------
def _forge_bag_info(bundle: Path) -> None:
    """Change who the bundle says it is from, as a forger would."""
    info = (bundle / "bag-info.txt").read_text(encoding="utf-8")
    info = re.sub(r"(?m)^External-Identifier: .*$", "External-Identifier: CW-FORGED", info)
    info = re.sub(r"(?m)^Contact-Email: .*$", "Contact-Email: forger@evil.example", info)
    (bundle / "bag-info.txt").write_text(info, encoding="utf-8")


def _retag(bundle: Path) -> None:
    """Recompute the tag manifest over the tag files it lists (no key needed for that)."""
    path = bundle / "tagmanifest-sha256.txt"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        _, name = line.split("  ", 1)
        digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}\n")
    path.write_text("".join(lines), encoding="utf-8")


def test_forged_bag_info_with_a_recomputed_tag_manifest_fails(world, tmp_path: Path) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    _forge_bag_info(bundle)
    _retag(bundle)
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert not check.ok and not check.signature_ok
    assert any(p.startswith("tagmanifest-sha256.txt: signature does not match")
               for p in check.problems), check.problems  # fmt: skip
    result = CliRunner().invoke(
        _cli(), ["verify", str(bundle), "--key", str(world.keys / "signing-key.pub.pem")]
    )
    assert result.exit_code == 1 and "NOT intact" in result.output


def test_forged_bag_info_with_the_tag_manifest_deleted_fails(world, tmp_path: Path) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    _forge_bag_info(bundle)
    (bundle / "tagmanifest-sha256.txt").unlink()
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert not check.ok
    assert "tagmanifest-sha256.txt: missing (bag-info.txt and the manifest are unsigned)" in (
        check.problems
    )


def test_a_file_beside_the_tag_files_is_refused(world, tmp_path: Path) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    (bundle / "README-FIRST.html").write_text("<h1>call this number</h1>", encoding="utf-8")
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert not check.ok
    assert "README-FIRST.html: not listed in any manifest (added after signing)" in check.problems


def test_a_payload_file_replaced_by_a_link_leaving_the_bag_is_refused(
    world, tmp_path: Path
) -> None:
    bundle = _copy(world.bundles["police"], tmp_path)
    outside = tmp_path / "outside.csv"
    outside.write_bytes((bundle / "data" / "sellers.csv").read_bytes())  # same bytes, even
    (bundle / "data" / "sellers.csv").unlink()
    (bundle / "data" / "sellers.csv").symlink_to(outside)
    check = verify_bundle(bundle, key=world.keys / "signing-key.pub.pem")
    assert not check.ok
    assert "data/sellers.csv: a symbolic link (refused: a bag holds only files)" in check.problems


def test_a_zip_with_two_entries_of_one_name_is_refused(world, tmp_path: Path) -> None:
    source = world.bundles["zh_zip"]
    forged = tmp_path / source.name
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(forged, "w") as new:
        for item in old.infolist():
            new.writestr(item, old.read(item))
        top = old.namelist()[0].split("/", 1)[0]
        # `unzip -n` extracts the first entry of a name, Python's zipfile reads the last
        with pytest.warns(UserWarning, match="Duplicate name"):
            new.writestr(f"{top}/data/report.html", "<h1>forged</h1>")
    check = verify_bundle(forged, key=world.keys / "signing-key.pub.pem")
    assert not check.ok
    assert "data/report.html: appears twice in the zip (refused)" in check.problems


def test_without_a_key_verify_says_loudly_that_origin_was_not_checked(world) -> None:
    check = verify_bundle(world.bundles["police"])
    assert check.ok
    assert "ORIGIN NOT CHECKED" in str(check)
    result = CliRunner().invoke(_cli(), ["verify", str(world.bundles["police"])])
    assert result.exit_code == 0 and "ORIGIN NOT CHECKED" in result.output
    keyed = CliRunner().invoke(
        _cli(),
        ["verify", str(world.bundles["police"]), "--key", str(world.keys / "signing-key.pub.pem")],
    )
    assert keyed.exit_code == 0 and "ORIGIN NOT CHECKED" not in keyed.output


@pytest.mark.slow
def test_verifying_a_zip_bomb_entry_stays_within_bounded_memory(
    world, tmp_path: Path, in_child
) -> None:
    source = world.bundles["zh_zip"]
    bomb = tmp_path / source.name
    gib = 1 << 30
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename.endswith("data/report.html"):  # inflates to 1 GiB
                with new.open(item.filename, "w", force_zip64=True) as out:
                    block = b"\0" * (1 << 20)
                    for _ in range(gib >> 20):
                        out.write(block)
            else:
                new.writestr(item, old.read(item))
    code = (
        "import sys\n"
        "from workbench.export import verify_bundle\n"
        "check = verify_bundle(sys.argv[1])\n"
        "print(check.ok)\n"
        "print('\\n'.join(check.problems))\n"
    )
    out, peak_mib = in_child(code, str(bomb))
    assert out[0] == "False" and "data/report.html: changed" in "\n".join(out[1:])
    assert int(peak_mib) < 400, f"verifying took {peak_mib} MiB"


# -- the report ------------------------------------------------------------------------
def test_hostile_names_render_as_text_in_html_and_pdf(world) -> None:
    data = world.bundles["police"] / "data"
    html = (data / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "[U+202E]exe.gnp" in html and "\u202e" not in html
    assert "5,000 characters" in html and LONG not in html
    assert 'src="http' not in html and "<script" not in html
    text = _pdf_text(data / "report.pdf")
    assert IMG in text  # the literal text, as a detective reads it
    assert "[U+202E]exe.gnp" in text
    assert "Acme Brand Protection" in text and "ip-team@acme.example" in text
    for line in ("GeoNames", "Natural Earth"):
        assert line in text
    assert "Public Security Bureau of Putian" in text and "25.44" in text


def test_the_pdf_is_archival_pdf_a_3b_with_every_font_embedded(world) -> None:
    pdf = world.bundles["police"] / "data" / "report.pdf"
    meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, meta[-2000:]
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]  # under the header and its rule
    assert rows and all(row.split()[-5] == "yes" for row in rows), fonts  # the "emb" column


def test_zh_cn_pdf_text_extracts_as_chinese(world, tmp_path: Path) -> None:
    with zipfile.ZipFile(world.bundles["zh_zip"]) as archive:
        top = world.bundles["zh_zip"].stem
        (tmp_path / "report.pdf").write_bytes(archive.read(f"{top}/data/report.pdf"))
        kml = archive.read(f"{top}/data/sites.kml").decode("utf-8")
    text = _pdf_text(tmp_path / "report.pdf")
    for phrase in ("假冒商品生产窝点线索报告", "福建省", "公安局", "可疑理由", "试买", "发现方式"):
        assert phrase in text, phrase
    assert "福建" in kml and "生产窝点" in kml


def test_report_cites_review_run_sources_and_evidence(world) -> None:
    html = (world.bundles["police"] / "data" / "report.html").read_text(encoding="utf-8")
    assert "test buys E14, E15 matched" in html and "lead-3" in html
    # which pass found the site: the demo's rings are dense and carry verdicts
    assert "Found by both passes" in html
    assert world.run in html and "radius_m" in html
    assert "shipments.csv" in html and "counterfeit" in html
    evidence = pd.read_csv(world.bundles["police"] / "data" / "evidence.csv", encoding="utf-8-sig")
    assert evidence["file_sha256"].iloc[0] in html


# -- the case for prosecution -------------------------------------------------------------
def test_the_estimate_agrees_across_report_csv_geojson_and_geopackage(world) -> None:
    data = world.bundles["police"] / "data"
    ships = pd.read_csv(data / "shipments.csv")
    evidence = pd.read_csv(data / "evidence.csv")
    rows = pd.read_csv(data / "prosecution.csv", keep_default_na=False)
    # the declared value of the site's waybills, summed here from shipments.csv
    total = round(float(ships.loc[ships["site_id"] == "S001", "value_cny"].sum()), 2)
    assert set(rows["site_id"]) == {"S001"} and len(rows) == 4  # the four Chinese standards
    assert rows["value_cny"].astype(float).eq(total).all()
    assert rows["n_shipments"].astype(int).eq(int((ships["site_id"] == "S001").sum())).all()
    # the backed part, from the rule: a counterfeit test buy of the account for that brand
    tests = evidence[(evidence["kind"] == "test_buy") & (evidence["verdict"] == "counterfeit")]
    pairs = set(zip(tests["seller_id"], tests["brand"].str.casefold(), strict=True))
    backed = [(s, str(b).casefold()) in pairs for s, b in zip(ships["seller_id"], ships["brand"],
                                                              strict=True)]  # fmt: skip
    assert rows["value_backed_cny"].astype(float).iloc[0] == pytest.approx(
        ships.loc[backed, "value_cny"].sum(), abs=0.01
    )
    assert set(rows["state"]) <= {"above", "equal", "below", "not_estimable"}
    assert rows["basis"].str.contains("not a finding of fact").all()
    geo = json.loads((data / "sites.geojson").read_text(encoding="utf-8"))
    props = geo["features"][0]["properties"]
    assert props["estimate_value_cny"] == pytest.approx(total)
    assert props["estimate_standards_compared"] == 2  # business volume and sales amount
    layer = pyogrio.read_dataframe(data / "case.gpkg", layer="prosecution")
    assert len(layer) == 4 and layer["value_cny"].iloc[0] == pytest.approx(total)
    params = json.loads((data / "parameters.json").read_text(encoding="utf-8"))
    assert params["export"]["thresholds"]["table"] == "prosecution_thresholds.csv"
    html = (data / "report.html").read_text(encoding="utf-8")
    figure = f"{total:,.2f}".removesuffix(".00")
    assert f"Platform data suggest an estimated business volume of CNY {figure}" in html


def test_the_case_filing_section_lays_out_in_both_pdfs(world, tmp_path: Path) -> None:
    text = _pdf_text(world.bundles["police"] / "data" / "report.pdf")
    assert "Case-filing thresholds: an estimate from platform data" in text
    assert "Platform data suggest an estimated business volume of CNY" in text
    assert "the amount the police can prove may differ." in text
    with zipfile.ZipFile(world.bundles["zh_zip"]) as archive:
        top = world.bundles["zh_zip"].stem
        (tmp_path / "report.pdf").write_bytes(archive.read(f"{top}/data/report.pdf"))
    zh = _pdf_text(tmp_path / "report.pdf").replace(" ", "")
    for phrase in ("立案追诉标准：基于平台数据的估算", "平台数据显示，估算经营数额为人民币",
                   "并非事实认定", "假冒注册商标罪"):  # fmt: skip
        assert phrase in zh, phrase


def test_a_bad_thresholds_table_stops_the_export_before_anything_is_written(
    world, tmp_path: Path
) -> None:
    table = tmp_path / "mine.csv"
    table.write_text(
        "country,jurisdiction,offence_en,offence_zh,measure,amount,currency,source,source_date\n"
        "China,,x,,business_volume,5万,CNY,rule,\n",
        encoding="utf-8",
    )
    before = len(world.case.audit())
    with pytest.raises(InputError, match=r"mine\.csv, line 2, column amount: '5万'"):
        export_tip_sheet(
            world.case, ["S001"], out=tmp_path / "out", keys_dir=world.keys, thresholds=table
        )
    assert not (tmp_path / "out").exists() and len(world.case.audit()) == before


def test_cli_tipsheet_takes_the_users_thresholds(world, tmp_path: Path) -> None:
    table = tmp_path / "fujian.csv"
    table.write_text(
        "country,jurisdiction,offence_en,offence_zh,measure,amount,currency,source,source_date\n"
        "China,Fujian,a Fujian rule,福建规定,business_volume,1,CNY,Fujian notice,2024-01-01\n"
        "China,Guangdong,a Guangdong rule,,business_volume,1,CNY,Guangdong notice,\n",
        encoding="utf-8",
    )
    world.case.close()  # the command opens the case itself
    try:
        result = CliRunner().invoke(
            _cli(),
            ["tipsheet", str(world.case.path), "--site", "S001", "--no-pdf", "--thresholds",
             str(table), "--out", str(tmp_path / "out"), "--keys-dir", str(world.keys)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        path = Path(result.output.strip().removeprefix("tip sheet written to "))
        rows = pd.read_csv(path / "data" / "prosecution.csv")
        assert list(rows["offence_en"]) == ["a Fujian rule"]  # the site is in Putian, Fujian
        assert list(rows["state"]) == ["above"]
        html = (path / "data" / "report.html").read_text(encoding="utf-8")
        assert "case-filing standard for a Fujian rule by CNY" in html
        assert "Thresholds table: fujian.csv" in html
    finally:
        world.case = open_case(world.case.path, actor="analyst-7")


# -- the data files ----------------------------------------------------------------------
def test_csv_files_hold_the_exact_data_for_machines(world) -> None:
    path = world.bundles["police"] / "data" / "sellers.csv"
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")  # plain UTF-8 for databases
    names = set(pd.read_csv(path, dtype=str, keep_default_na=False)["name"])
    assert FORMULA in names and "'" + FORMULA not in names  # exact, no apostrophe added
    assert LONG in names and RTL in names
    phones = pd.read_csv(world.bundles["police"] / "data" / "identifiers.csv", dtype=str)
    e164 = phones.loc[phones["kind"] == "phone", "value_norm"].dropna()
    assert len(e164) and e164.str.startswith("+").all()  # "+86...", not "'+86..."


def test_the_spreadsheet_shows_every_cell_as_text_never_a_formula(world) -> None:
    import openpyxl

    path = world.bundles["police"] / "data" / "tables.xlsx"
    book = openpyxl.load_workbook(path)  # not read-only: formulas would show as such
    assert book.sheetnames == ["sellers", "identifiers", "shipments", "evidence", "prosecution"]
    sheet = book["sellers"]
    header = [c.value for c in sheet[1]]
    names = [row[header.index("name")] for row in sheet.iter_rows(min_row=2)]
    assert {c.data_type for c in names} == {"s"}  # text, never "f" (formula)
    assert FORMULA in {c.value for c in names} and RTL in {c.value for c in names}
    phones = book["identifiers"]
    kinds = [c.value for c in phones[1]]
    values = [r[kinds.index("value_norm")] for r in phones.iter_rows(min_row=2)
              if r[kinds.index("kind")].value == "phone"]  # fmt: skip
    assert values and all(c.data_type == "s" and c.value.startswith("+") for c in values)
    report = (world.bundles["police"] / "data" / "report.html").read_text("utf-8")
    assert "tables.xlsx" in report and "exact data" in report  # the README says which is which


def test_kml_and_geopackage_read_back_with_gdal(world) -> None:
    data = world.bundles["police"] / "data"
    kml = pyogrio.read_dataframe(data / "sites.kml")
    assert len(kml) == 1 and kml["Name"].iloc[0].startswith("Site S001")
    description = kml["description" if "description" in kml.columns else "Description"]
    assert "Putian" in description.iloc[0] and "Reference" in description.iloc[0]
    layers = dict(pyogrio.list_layers(data / "case.gpkg").tolist())
    assert layers["sites"] == "Point" and layers["site_areas"] == "Polygon"
    assert layers["shipments"] == "Point" and layers["sellers"] is None
    ships = pyogrio.read_dataframe(data / "case.gpkg", layer="shipments")
    csv_rows = pd.read_csv(data / "shipments.csv", encoding="utf-8-sig")
    assert len(ships) == len(csv_rows) > 0 and set(ships["site_id"]) == {"S001"}
    sites = pyogrio.read_dataframe(data / "case.gpkg", layer="sites")
    assert sites["status"].iloc[0] == "confirmed"
    geo = json.loads((data / "sites.geojson").read_text(encoding="utf-8"))
    kinds = [f["properties"]["feature"] for f in geo["features"]]
    assert kinds == ["site", "area"]


def test_ftm_entities_validate_with_followthemoney(world) -> None:
    for name in ("police", "partner"):
        path = world.bundles[name] / "data" / "entities.ftm.json"
        entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        counts = validate_ftm(entities)
        assert counts["Company"] >= 40 and counts["Address"] >= 1
        if name == "police":
            assert counts["Person"] >= 1 and counts["BankAccount"] >= 1


def test_audit_extract_and_export_entry(world) -> None:
    lines = (world.bundles["police"] / "data" / "audit.jsonl").read_text(encoding="utf-8")
    actions = [json.loads(line)["action"] for line in lines.splitlines()]
    assert {"ingest", "find sites", "review", "set setting"} <= set(actions)
    log = world.case.audit()
    exports = log[log["action"] == "export tip sheet"]
    assert len(exports) >= 3 and world.case.verify_audit().ok
    params = json.loads(exports.iloc[0]["parameters"])
    manifest = (world.bundles["police"] / "manifest-sha256.txt").read_bytes()
    import hashlib

    assert params["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert params["site_ids"] == ["S001"] and params["override"] is None


# -- profiles ----------------------------------------------------------------------------
def _personal_values(world) -> set[str]:
    ids = pd.read_csv(
        world.bundles["police"] / "data" / "identifiers.csv", encoding="utf-8-sig", dtype=str
    )
    picked = ids[ids["kind"].isin(PERSONAL_KINDS)]
    values = set(picked["value"].str.lstrip("'")) | set(picked["value_norm"].str.lstrip("'"))
    return {v for v in values if isinstance(v, str) and len(v) >= 6}


def test_partner_profile_contains_no_raw_phone_card_or_id(world, tmp_path: Path) -> None:
    values = _personal_values(world)
    assert len(values) > 50
    bundle = world.bundles["partner"]
    blobs = {
        p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()
    }
    blobs["report.pdf as text"] = _pdf_text(bundle / "data" / "report.pdf").encode("utf-8")
    for name, blob in blobs.items():
        text = blob.decode("utf-8", "replace")
        leaked = [v for v in values if v in text]
        assert not leaked, (name, leaked[:3])
    html = blobs["data/report.html"].decode("utf-8")
    assert "lead-3" not in html and "&lt;img src=x" not in html  # reviewer and shop names gone
    with (bundle / "data" / "sellers.csv").open(encoding="utf-8-sig") as handle:
        assert "name" not in next(csv.reader(handle))


def test_partner_tokens_match_across_bundles_of_one_organisation(world) -> None:
    again = export_tip_sheet(
        world.case, ["S001"], profile="partner", lang="zh-CN", pdf=False,
        out=world.out, keys_dir=world.keys,
    )  # fmt: skip
    first, second = (
        pd.read_csv(b / "data" / "identifiers.csv", encoding="utf-8-sig", dtype=str)
        for b in (world.bundles["partner"], again)
    )
    assert list(first["value"]) == list(second["value"])
    assert first["value"].str.match(r"^P-[A-Z2-7]{20}$").all()
    # the same identifier on two accounts carries the same token
    police = pd.read_csv(
        world.bundles["police"] / "data" / "identifiers.csv", encoding="utf-8-sig", dtype=str
    )
    pairs = set(zip(police["value_norm"], first["value"], strict=True))
    assert len({norm for norm, _ in pairs}) == len({token for _, token in pairs})


# -- review gate and atomic writing ------------------------------------------------------
def test_an_unconfirmed_site_needs_an_override_that_is_recorded(world) -> None:
    with pytest.raises(InputError, match=r"site\(s\) S002 \(unreviewed\) not confirmed"):
        export_tip_sheet(world.case, ["S002"], out=world.out, keys_dir=world.keys)
    path = export_tip_sheet(
        world.case, ["S002"], out=world.out, keys_dir=world.keys, pdf=False,
        allow_unconfirmed="goods leave the warehouse on Friday",
    )  # fmt: skip
    html = (path / "data" / "report.html").read_text(encoding="utf-8")
    assert "Not confirmed by review" in html and "goods leave the warehouse on Friday" in html
    meta = json.loads((path / "data" / "bundle.json").read_text(encoding="utf-8"))
    assert meta["override"]["sites"] == {"S002": "unreviewed"}
    entry = world.case.audit().iloc[-1]
    assert entry["action"] == "export tip sheet"
    assert json.loads(entry["parameters"])["override"]["reason"].startswith("goods leave")


def test_a_crash_leaves_no_bundle_and_no_audit_entry(world, tmp_path: Path, monkeypatch) -> None:
    import workbench.export._bundle as bundle_module

    def crash(*args, **kwargs):
        raise RuntimeError("power cut while writing the PDF")

    monkeypatch.setattr(bundle_module, "render_pdf", crash)
    before = len(world.case.audit())
    with pytest.raises(RuntimeError, match="power cut"):
        export_tip_sheet(world.case, ["S001"], out=tmp_path / "out", keys_dir=world.keys)
    assert list((tmp_path / "out").iterdir()) == []
    assert len(world.case.audit()) == before


def test_export_refuses_unknown_sites_profiles_and_missing_keys(world, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"site\(s\) S999 not in run"):
        export_tip_sheet(world.case, ["S999"], out=tmp_path, keys_dir=world.keys)
    with pytest.raises(InputError, match="profile='press'; choose one of police, partner"):
        export_tip_sheet(world.case, ["S001"], profile="press", keys_dir=world.keys)
    with pytest.raises(KeyError, match="run `workbench keys init`"):
        export_tip_sheet(world.case, ["S001"], out=tmp_path, keys_dir=tmp_path / "no-keys")


# -- command line ------------------------------------------------------------------------
def _cli() -> click.Group:
    group = click.Group("workbench")
    register(group)
    return group


def test_cli_keys_tipsheet_and_verify(world, tmp_path: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "keys"
    result = runner.invoke(_cli(), ["keys", "init", "--keys-dir", str(keys)])
    assert result.exit_code == 0 and "fingerprint: SHA256:" in result.output
    again = runner.invoke(_cli(), ["keys", "init", "--keys-dir", str(keys)])
    assert again.exit_code == 1 and "keys already exist" in again.output
    assert "Traceback" not in again.output
    world.case.close()  # the command opens the case itself
    try:
        result = runner.invoke(
            _cli(),
            ["tipsheet", str(world.case.path), "--site", "S001", "--lang", "zh-CN",
             "--profile", "police", "--out", str(tmp_path / "out"), "--zip", "--no-pdf",
             "--keys-dir", str(keys)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        path = Path(result.output.strip().removeprefix("tip sheet written to "))
        assert path.suffix == ".zip" and path.exists()
        result = runner.invoke(
            _cli(), ["verify", str(path), "--key", str(keys / "signing-key.pub.pem")]
        )
        assert result.exit_code == 0 and "intact" in result.output
        bad = runner.invoke(_cli(), ["tipsheet", str(world.case.path), "--site", "S003",
                                     "--keys-dir", str(keys), "--out", str(tmp_path)])  # fmt: skip
        assert bad.exit_code == 1 and "S003 (unreviewed) not confirmed" in bad.output
    finally:
        world.case = open_case(world.case.path, actor="analyst-7")


def test_zip_members_live_under_one_folder(world) -> None:
    with zipfile.ZipFile(world.bundles["zh_zip"]) as archive:
        names = archive.namelist()
        top = {n.split("/", 1)[0] for n in names}
        assert top == {world.bundles["zh_zip"].stem}
        manifest = archive.read(f"{world.bundles['zh_zip'].stem}/manifest-sha256.txt")
    assert b"data/report.pdf" in manifest
    assert io.BytesIO(manifest).read().count(b"\n") >= 13
