"""Tip-sheet bundles: the report and the data files for one police force, signed, in BagIt.

:func:`export_tip_sheet` reads the case through its API, writes every file into a hidden
temporary folder next to the destination, signs the manifest with the organisation's key,
records the export in the case's audit log and only then renames the folder (or zip) into
place: a crash leaves at most a ``.tipsheet-....partial-*`` folder, never a bundle that
looks complete. :func:`verify_bundle` checks a bundle and names every changed file.

A team case (:class:`workbench.team.TeamCase`) exports the same bundle from the team
store's rows, when the connected role holds ``workbench_export`` (refused before anything
is read or written otherwise); the export is recorded in the team case's audit chain as
that role. Its case settings are those a pushed case brought; ``organisation`` and
``contact`` given to the export name who reports in this bundle (and go into its entry).

>>> path = export_tip_sheet(case, ["S001"], lang="zh-CN", out="outbox")   # doctest: +SKIP
>>> print(verify_bundle(path))                                            # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.errors import InputError
from workbench.export._bagit import PUBLIC_KEY, SIGNATURE, BundleCheck, check_bag, write_bag
from workbench.export._continuity import site_relocations
from workbench.export._extract import (
    CaseExtract,
    actor_token,
    extract,
    is_team_case,
    pseudonymise,
)
from workbench.export._ftm import ftm_entities, write_ftm
from workbench.export._geo import SITE_FIELDS, jsonable, write_geojson, write_gpkg, write_kml
from workbench.export._i18n import Translator, translator
from workbench.export._keys import OrganisationKeys, load_keys
from workbench.export._naming import reference, safe_name
from workbench.export._prosecution import (
    ESTIMATE_FIELDS,
    PROSECUTION_COLUMNS,
    money,
    site_estimates,
)
from workbench.export._report import jurisdiction_names
from workbench.export._seen import cross_referenced, read_cross_references, seen_before
from workbench.export._tables import write_csv, write_xlsx
from workbench.export._thresholds import Thresholds, load_thresholds
from workbench.export._tipsheet import render_pdf, render_tip_sheet, tip_sheet_context
from workbench.progress import Progress, step

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.team._case import TeamCase

__all__ = ["PROFILES", "BundleCheck", "export_tip_sheet", "verify_bundle"]

PROFILES = ("police", "partner")
EXPORT_STEPS = 5  # the steps export_tip_sheet reports to a Progress
FORMAT = "counterfeit-workbench tip-sheet bundle 2"  # 2: the tag manifest is signed
SELLER_COLUMNS = (
    "seller_id", "name", "platform", "registered_address", "registered_at", "network_id",
    "at_site", "site_ids",
)  # fmt: skip
IDENTIFIER_COLUMNS = ("seller_id", "network_id", "kind", "value", "value_norm", "links_accounts")
SHIPMENT_COLUMNS = (
    "site_id", "shipment_id", "seller_id", "shipped_at", "lat", "lon", "coord_system",
    "precision", "origin_address", "items", "value_cny", "brand",
)  # fmt: skip
EVIDENCE_COLUMNS = ("evidence_id", "seller_id", "brand", "kind", "verdict", "date", "file_sha256")
CROSS_REFERENCE_COLUMNS = (
    "site_id", "seller_id", "network_id", "match", "kind", "value_norm", "source",
    "source_name", "source_path", "source_hash", "other_seller_ids", "n_other_sellers",
    "other_network_id", "other_site_ids", "review_status", "brand", "verdict", "verdict_date",
    "explanation", "run_at", "audit_seq",
)  # fmt: skip
_PARTNER_DROPS = {"name", "registered_address", "value_norm"}


def _columns(columns: tuple[str, ...], profile: str) -> list[str]:
    return [c for c in columns if profile != "partner" or c not in _PARTNER_DROPS]


def _contents(
    tr: Translator, pdf: bool, maps: list[str], xrefs: bool = False, moves: bool = False
) -> list[dict[str, str]]:
    names = [
        ("data/report.html", "report_html"),
        *([("data/report.pdf", "report_pdf")] if pdf else []),
        ("data/sites.geojson", "sites_geojson"),
        ("data/sites.kml", "sites_kml"),
        ("data/case.gpkg", "case_gpkg"),
        ("data/tables.xlsx", "tables_xlsx"),
        ("data/sellers.csv", "sellers_csv"),
        ("data/identifiers.csv", "identifiers_csv"),
        ("data/shipments.csv", "shipments_csv"),
        ("data/evidence.csv", "evidence_csv"),
        ("data/prosecution.csv", "prosecution_csv"),
        *([("data/cross_references.csv", "cross_references_csv")] if xrefs else []),
        *([("data/relocations.csv", "relocations_csv")] if moves else []),
        ("data/entities.ftm.json", "entities"),
        ("data/audit.jsonl", "audit"),
        ("data/parameters.json", "parameters"),
        ("data/bundle.json", "bundle_json"),
        *[(f"data/{m}", "maps") for m in maps],
        ("manifest-sha256.txt", "manifest"),
        ("tagmanifest-sha256.txt", "tagmanifest"),
        (SIGNATURE, "signature"),
        (PUBLIC_KEY, "public_key"),
    ]
    return [{"name": n, "what": tr(f"contents.{k}")} for n, k in names]


def _parameters(data: CaseExtract) -> dict[str, Any]:
    run_params = data.run["parameters"]
    if isinstance(run_params, str):
        run_params = json.loads(run_params)
    return {
        "run_id": data.run_id,
        "run_created_at": data.run.get("created_at"),
        **{f"sites.{k}": v for k, v in dict(run_params).items()},
        **{f"networks.{k}": v for k, v in data.networks.parameters.items()},
    }


def _kml_text(sites: pd.DataFrame, tr: Translator, reference: str) -> tuple[dict[str, str], dict]:
    names, descriptions = {}, {}
    zh = tr.lang.startswith("zh")
    for _, site in sites.iterrows():
        sid = str(site["site_id"])
        place = jurisdiction_names({str(k): v for k, v in site.items()})
        names[sid] = tr(
            "kml.name", site_id=sid, label=tr.value("label", site["label"]),
            score=f"{float(site['score']):.0f}",
        )  # fmt: skip
        descriptions[sid] = [
            (tr("kml.reference"), reference),
            (tr("kml.status"), tr.value("status", site["status"])),
            (tr("kml.score"), f"{float(site['score']):.1f} / 100"),
            (tr("kml.waybills"), f"{int(site['n_shipments']):,}"),
            (tr("kml.sellers"), f"{int(site['n_sellers']):,}"),
            (tr("kml.brands"), tr("list.sep").join(map(str, site["brands"]))),
            (tr("kml.jurisdiction"), place["zh"] if zh else place["en"]),
            (tr("kml.address"), str(site.get("address", ""))),
            (tr("kml.estimate"), money(float(site["estimate_value_cny"]), "CNY", tr)),
        ]
    return names, descriptions


def _gpkg_layers(
    data: CaseExtract, profile: str, sites: pd.DataFrame, prosecution: pd.DataFrame
) -> dict[str, tuple[pd.DataFrame, str, str | None]]:
    fields = [c for c in (*SITE_FIELDS, *ESTIMATE_FIELDS) if c in sites.columns] + ["address"]
    ships = data.shipments[[c for c in SHIPMENT_COLUMNS if c in data.shipments.columns]]
    member = data.networks.membership
    nets = set(data.sellers["network_id"].dropna())
    return {
        "sites": (pd.DataFrame(sites[fields]), "Sites of this tip sheet (medoid)", "POINT"),
        "site_areas": (pd.DataFrame(sites[["site_id", "hull"]]), "Site hulls", "POLYGON"),
        "shipments": (ships, "Waybills of the sites (WGS-84)", "POINT"),
        "sellers": (data.sellers[_columns(SELLER_COLUMNS, profile)], "Seller accounts", None),
        "identifiers": (
            data.identifiers[_columns(IDENTIFIER_COLUMNS, profile)],
            "Identifiers on the accounts" + (" (keyed tokens)" if profile == "partner" else ""),
            None,
        ),
        "networks": (member[member["network_id"].isin(nets)], "Network membership", None),
        "evidence": (data.evidence[list(EVIDENCE_COLUMNS)], "Evidence on the accounts", None),
        "reviews": (data.reviews, "Review history of the sites", None),
        "prosecution": (
            prosecution,
            "Business volume estimated from platform data against case-filing thresholds "
            "(an estimate, not a finding of fact)",
            None,
        ),
    }


def _write_payload(
    folder: Path,
    data: CaseExtract,
    *,
    tr: Translator,
    meta: dict[str, Any],
    keys: OrganisationKeys,
    pdf: bool,
    thresholds: Thresholds,
    xrefs: pd.DataFrame | None = None,
    moves: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> None:
    from workbench.export._static_map import site_figure

    step(progress, f"drawing the map of {len(data.sites)} site(s)")
    folder.mkdir(parents=True)
    (folder / "maps").mkdir()
    profile, reference = meta["profile"], meta["reference"]
    figures, maps = {}, []
    for i, (_, site) in enumerate(data.sites.iterrows(), 1):
        sid = str(site["site_id"])
        figures[sid] = site_figure(
            site.to_dict(), data.shipments[data.shipments["site_id"] == sid], tr
        )
        maps.append(f"maps/{i:02d}-{safe_name(sid)}.png")
        (folder / maps[-1]).write_bytes(figures[sid])
    settings = data.settings
    context = tip_sheet_context(
        list(data.sites["site_id"].astype(str)),
        sites=data.sites,
        shipments=data.shipments,
        sellers=data.sellers,
        networks=data.networks,
        evidence=data.evidence,
        parameters=_parameters(data),
        sources=data.sources,
        organisation=meta["organisation"],
        reviews=data.reviews,
        generated_at=meta["generated_at_dt"],
        lang=tr.lang,
        reference=reference,
        profile=profile,
        figures=figures,
        override=meta["override"],
        rights_holders=_rights_holders(settings),
        contents=_contents(tr, pdf, maps, xrefs is not None, moves is not None and len(moves) > 0),
        signed_by=keys.fingerprint,
        thresholds=thresholds,
        cross_references=xrefs,
        relocations=moves,
    )
    step(progress, "writing the report (HTML and PDF)" if pdf else "writing the report (HTML)")
    html = render_tip_sheet(context)
    assert html is not None
    (folder / "report.html").write_text(html, encoding="utf-8")
    if pdf:
        render_pdf(html, folder / "report.pdf")
    step(progress, "writing GeoJSON, KML, GeoPackage and tables")
    sites, prosecution = site_estimates(data.sites, data.shipments, data.evidence, thresholds.frame)
    write_geojson(
        sites, folder / "sites.geojson", extra={"reference": reference},
        fields=(*SITE_FIELDS, *ESTIMATE_FIELDS),
    )  # fmt: skip
    names, descriptions = _kml_text(sites, tr, reference)
    write_kml(sites, folder / "sites.kml", title=reference, names=names, descriptions=descriptions)
    write_gpkg(folder / "case.gpkg", _gpkg_layers(data, profile, sites, prosecution))
    tables = {  # exact CSV for machines, one workbook of text cells for people
        "sellers": (data.sellers, _columns(SELLER_COLUMNS, profile)),
        "identifiers": (data.identifiers, _columns(IDENTIFIER_COLUMNS, profile)),
        "shipments": (data.shipments, SHIPMENT_COLUMNS),
        "evidence": (data.evidence, EVIDENCE_COLUMNS),
        "prosecution": (prosecution, PROSECUTION_COLUMNS),
    }
    if xrefs is not None:  # a case cross-referenced: its matches, for analysts and people
        tables["cross_references"] = (
            _site_cross_references(data, xrefs),
            [c for c in CROSS_REFERENCE_COLUMNS if profile != "partner" or c != "source_path"],
        )
    if moves is not None and len(moves):  # a network moved into or out of a site
        readable = moves.drop(columns=["shared_list"], errors="ignore")  # its text is there
        tables["relocations"] = (readable, list(readable.columns))
    for name, (frame, columns) in tables.items():
        write_csv(frame, folder / f"{name}.csv", columns)
    write_xlsx(
        {name: frame for name, (frame, _) in tables.items()},
        folder / "tables.xlsx",
        {name: columns for name, (_, columns) in tables.items()},
    )
    entities = ftm_entities(data.sellers, data.identifiers, data.sites, profile=profile)
    write_ftm(entities, folder / "entities.ftm.json")
    with (folder / "audit.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for row in data.audit.to_dict(orient="records"):
            handle.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")
    _write_json(folder / "parameters.json", {"analysis": _parameters(data), "export": {
        k: meta[k] for k in ("lang", "profile", "override", "thresholds")}})  # fmt: skip
    _write_json(folder / "bundle.json", {k: v for k, v in meta.items() if k != "generated_at_dt"})


def _cross_references(
    case: Case | TeamCase, data: CaseExtract, profile: str, key: bytes
) -> pd.DataFrame | None:
    """The case's cross-references that concern the bundle's sites (their accounts, those
    accounts' networks, the sites); None when the case was never cross-referenced.

    Partner edition: identifier values as the same keyed tokens as ``identifiers.csv``, and
    no matches from other partners' lists (theirs to share, not ours)."""
    at_site = {str(s) for sellers in data.sites["sellers"] for s in sellers}
    sellers = data.sellers[data.sellers["seller_id"].astype(str).isin(at_site)]
    frame = _stored_cross_references(
        case, data.run_id, sellers=at_site, site_ids=data.sites["site_id"].astype(str),
        networks=sellers["network_id"].dropna().astype(str),
    )  # fmt: skip
    if frame is None:
        return None
    if profile == "partner":
        from workbench.export._extract import _tokens

        frame = frame[frame["source"] != "partner"].reset_index(drop=True)
        frame["value_norm"] = _tokens(frame["value_norm"], key).replace("", None)
        frame["source_path"] = None
    return frame


def _stored_cross_references(
    case: Case | TeamCase,
    run_id: str,
    *,
    sellers: Iterable[str],
    networks: Iterable[str],
    site_ids: Iterable[str],
) -> pd.DataFrame | None:
    """The stored cross-references of the run that concern these accounts, their networks
    and these sites (:func:`workbench.export._seen.read_cross_references`); None when the
    case was never cross-referenced."""
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):
        if not case.cross_referenced():
            return None
        return case.cross_reference_rows(
            run_id, sellers=sellers, networks=networks, site_ids=site_ids
        )
    if not cross_referenced(case):
        return None
    return read_cross_references(
        case, run_id=run_id, sellers=sellers, networks=networks, site_ids=site_ids
    )


def _site_cross_references(data: CaseExtract, xrefs: pd.DataFrame | None) -> pd.DataFrame:
    """One row per cross-reference and site it concerns (a ring's match can concern two
    sites), in the order of the sites: the rows of ``cross_references.csv``."""
    if xrefs is None or xrefs.empty:
        return pd.DataFrame(columns=list(CROSS_REFERENCE_COLUMNS))
    network_of = data.sellers.set_index("seller_id")["network_id"].dropna().astype(str)
    parts = []
    for _, site in data.sites.iterrows():
        sellers = [str(s) for s in site["sellers"]]
        found = seen_before(
            xrefs, site_id=str(site["site_id"]), sellers=sellers,
            networks=network_of.reindex(sellers).dropna(),
        )  # fmt: skip
        parts.append(found.assign(site_id=str(site["site_id"])))
    return pd.concat(parts, ignore_index=True)


def _write_json(path: Path, value: Any) -> None:
    text = json.dumps(jsonable(value), ensure_ascii=False, indent=1, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")


def _rights_holders(settings: Mapping[str, str]) -> dict[str, str]:
    """Brand -> rights holder from the case setting ``rights_holders`` (a JSON object)."""
    try:
        value = json.loads(settings.get("rights_holders", "{}") or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _organisation(settings: Mapping[str, str], *, team: bool = False) -> dict[str, str]:
    name, contact = settings.get("organisation", "").strip(), settings.get("contact", "").strip()
    if not name or not contact:
        missing = " and ".join(
            k for k, v in (("organisation", name), ("contact", contact)) if not v
        )
        how = (
            "export_tip_sheet(..., organisation='Acme Brand Protection', contact="
            "'ip-team@acme.example, +44 20 ...'), or push a case file whose settings name them"
            if team
            else "case.set_setting('organisation', 'Acme Brand Protection') and "
            "case.set_setting('contact', 'ip-team@acme.example, +44 20 ...')"
        )
        raise InputError(
            f"case setting {missing} is not set; a tip sheet names who reports and how to reach "
            f"them: {how} (or --organisation / --contact on the command line)"
        )
    return {"name": name, "contact": contact}


def _case_names(case: Case | TeamCase) -> tuple[str, str]:
    """What a bundle calls the case (a case file's name; a team case's name in its store:
    the server and the user stay out of a bundle for the police) and what its reference
    number is made from (the file's path; the team case's URL, without a password)."""
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):
        return case.name, str(case.target)
    return Path(case.path).name, str(case.path)


def _record(
    case: Case | TeamCase,
    parameters: dict[str, Any],
    inputs: list[dict[str, Any]],
) -> None:
    """The export's audit entry: a case file's as its actor, a team case's in the team
    store's chain as the connected role (who must hold ``workbench_export``)."""
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):
        case.record_export("export tip sheet", parameters, inputs)
    else:
        case.log("export tip sheet", parameters, inputs)


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")


def export_tip_sheet(
    case: Case | TeamCase,
    site_ids: Sequence[str],
    *,
    lang: str = "en",
    profile: str = "police",
    out: str | os.PathLike[str] = ".",
    run_id: str | None = None,
    allow_unconfirmed: str | None = None,
    as_zip: bool = False,
    pdf: bool = True,
    keys_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    thresholds: str | os.PathLike[str] | Thresholds | None = None,
    organisation: str | None = None,
    contact: str | None = None,
) -> Path:
    """Write a signed tip-sheet bundle for ``site_ids`` into ``out``; returns its path.

    Parameters
    ----------
    case : the open case (a case file, or a team case whose connected role holds
        ``workbench_export``); its settings ``organisation`` and ``contact`` must be set,
        unless given here.
    site_ids : sites of the run (default: the latest run) to report, each its own section.
    lang : ``"en"`` or ``"zh-CN"``: the language of the report, map and KML.
    profile : ``"police"`` (full identifiers) or ``"partner"`` (identifiers as keyed tokens,
        no shop names, no registered addresses, reviewers as tokens).
    allow_unconfirmed : the reason for exporting sites not confirmed by review; without it
        such sites are refused. The reason is printed in the report and audited.
    as_zip : write ``tipsheet-<reference>.zip`` instead of a folder.
    pdf : also render ``report.pdf`` (needs WeasyPrint).
    keys_dir : folder of the organisation keys (default: ``$WORKBENCH_KEYS_DIR`` or the
        user's config folder; create them with ``workbench keys init``).
    progress : told each of the ``EXPORT_STEPS`` steps as it starts.
    thresholds : the case-filing thresholds table (a CSV path, or one already loaded with
        :func:`workbench.export._thresholds.load_thresholds`); default: the table the
        package ships. Each site's business volume is estimated from its waybills and
        compared with the thresholds of its jurisdiction (report, ``prosecution.csv``).
    organisation, contact : who reports and how to reach them, for this bundle only,
        instead of the case settings (a team case's export role cannot set those); the
        export's audit entry records them.
    """
    tr = translator(lang)
    _may_export(case)  # a team case: the database's decision, before anything is read
    if profile not in PROFILES:
        raise InputError(f"profile={profile!r}; choose one of {', '.join(PROFILES)}")
    table = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
    keys = load_keys(keys_dir)
    given = {k: v for k, v in (("organisation", organisation), ("contact", contact)) if v}
    named = _organisation({**case.settings(), **given}, team=is_team_case(case))
    step(progress, "reading the sites, waybills and evidence from the case")
    data, pending = extract(case, site_ids, run_id=run_id, allow_unconfirmed=allow_unconfirmed)
    if profile == "partner":
        data = pseudonymise(data, keys.pseudonym_key)
    override = None
    if pending:
        by = case.actor if profile == "police" else actor_token(case.actor, keys.pseudonym_key)
        override = {"reason": str(allow_unconfirmed).strip(), "by": by, "sites": pending}
    xrefs = _cross_references(case, data, profile, keys.pseudonym_key)
    moves = site_relocations(case, data.run_id, data.sites["site_id"].astype(str), profile=profile)
    now = dt.datetime.now(dt.UTC)
    ids = [str(s) for s in data.sites["site_id"]]
    name, source = _case_names(case)
    meta = {
        "format": FORMAT,
        "reference": reference(now, source, data.run_id, *ids, lang, profile),
        "generated_at": now.isoformat(timespec="seconds"),
        "generated_at_dt": now,
        "organisation": named,
        "case": name,
        "run_id": data.run_id,
        "site_ids": ids,
        "lang": lang,
        "profile": profile,
        "override": override,
        "key_fingerprint": keys.fingerprint,
        "thresholds": {"table": table.name, "sha256": table.sha256},
    }
    return _publish(
        case, data, meta, Path(out), as_zip=as_zip,
        write=lambda data_dir: _write_payload(
            data_dir, data, tr=tr, meta=meta, keys=keys, pdf=pdf, thresholds=table,
            xrefs=xrefs, moves=moves, progress=progress,
        ),
        keys=keys, progress=progress, entry={"organisation": named} if given else {},
    )  # fmt: skip


def _may_export(case: Case | TeamCase) -> None:
    """A team case's role must hold ``workbench_export`` (a case file: whoever opens it)."""
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):
        case.require_export()


def _publish(
    case: Case | TeamCase,
    data: CaseExtract,
    meta: dict[str, Any],
    destination: Path,
    *,
    as_zip: bool,
    write: Callable[[Path], None],
    keys: OrganisationKeys,
    progress: Progress | None = None,
    entry: Mapping[str, Any] | None = None,
) -> Path:
    """Write, sign, audit, then rename into place: never a half bundle under the real name.
    ``entry``: more for the export's audit entry (who reports, when given to the export)."""
    destination.mkdir(parents=True, exist_ok=True)
    name = f"tipsheet-{meta['reference']}"
    target = destination / (f"{name}.zip" if as_zip else name)
    if target.exists():
        raise InputError(f"{target} already exists; bundles are never overwritten")
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=destination))
    try:
        bag = scratch / name
        bag.mkdir()
        write(bag / "data")
        step(progress, "hashing, signing and recording the bundle in the audit log")
        manifest_hash = write_bag(
            bag, _bag_info(meta, data), sign=keys.sign, public_pem=keys.public_pem
        )
        payload = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
        if as_zip:
            _zip_folder(bag, scratch / f"{name}.zip")
        override = meta["override"]
        _record(  # before the rename: a bundle that exists is always in the audit log
            case,
            {
                **{k: meta[k] for k in ("reference", "run_id", "site_ids", "lang", "profile")},
                "thresholds": meta.get("thresholds"),
                "bundle": target.name,
                "override": {k: override[k] for k in ("reason", "sites")} if override else None,
                "manifest_sha256": manifest_hash,
                "key_fingerprint": keys.fingerprint,
                **(entry or {}),
            },
            [{"path": p.relative_to(bag).as_posix(), "sha256": _file_sha256(p)} for p in payload],
        )
        os.replace(scratch / target.name, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _bag_info(meta: Mapping[str, Any], data: CaseExtract) -> dict[str, str]:
    org = meta["organisation"]
    return {
        "Source-Organization": org["name"],
        "Contact-Email": org["contact"],
        "External-Identifier": meta["reference"],
        "External-Description": f"Tip sheet for site(s) {', '.join(meta['site_ids'])} "
        f"(run {data.run_id}), profile {meta['profile']}, language {meta['lang']}",
        "Bag-Group-Identifier": meta["case"],
        "Organization-Key-Fingerprint": meta["key_fingerprint"],
    }


def verify_bundle(
    path: str | os.PathLike[str], *, key: str | os.PathLike[str] | bytes | None = None
) -> BundleCheck:
    """Check a bundle folder or zip: manifest, every file's SHA-256 and the signature.

    ``key`` is the sender's public key (PEM file or bytes) obtained separately; without it
    the key inside the bundle is used, which proves integrity but not who signed.
    """
    target = Path(path)
    if not target.exists():
        raise InputError(f"{target}: no such bundle")
    pem = key if isinstance(key, bytes) or key is None else Path(key).read_bytes()
    return check_bag(target, pem)
