"""An investigation on its case, from a folder of exports to a verified tip-sheet bundle.

The job behind ``workbench run`` and ``workbench demo``; the template notebook takes the same
steps one cell at a time. Everything goes through the case (:func:`workbench.open_case`): the
exports are streamed into it, the seller networks and the clustering run are stored in it,
reviews are recorded in it and the signed bundle is read from it, so the command line, a
notebook and a scheduled script see the same investigation. ::

    result = run_investigation("exports", "out", mapping="exports/mapping.yaml")
    print(result.describe())      # the case, what was loaded, networks, sites, outputs
    print(result.next_steps())    # explore, review, tip sheet, verify

    demo = run_demo("demo-output", n_shipments=20_000)
    print(demo.describe())        # ... down to the signed bundle and its verification
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.case._case import FIND_SITES_STEPS, Case
from workbench.case._case import open_case as open_file_case
from workbench.errors import NotFoundError, WorkbenchError
from workbench.export._bundle import EXPORT_STEPS, BundleCheck, export_tip_sheet, verify_bundle
from workbench.export._geo import write_geojson
from workbench.export._keys import PUBLIC_KEY, init_keys, load_keys
from workbench.export._tables import write_csv
from workbench.intake._folder import Exports, find_exports
from workbench.intake._mapping import MappingLike
from workbench.opening import is_team_url, open_case
from workbench.progress import Progress, step

if TYPE_CHECKING:
    import geopandas as gpd

    from workbench.demo._generate import DemoData
    from workbench.networks._link import Networks
    from workbench.team import TeamCase

__all__ = [
    "CASE_NAME",
    "DEMO_ACTOR",
    "DEMO_STEPS",
    "RUN_STEPS",
    "DemoResult",
    "RunResult",
    "demo_review",
    "run_demo",
    "run_investigation",
]

CASE_NAME = "investigation.case"  # the case (one folder) inside an output folder by default
KEYS_FOLDER = "keys"  # the demo's own signing keys, inside its output folder
BUNDLES_FOLDER = "bundles"  # tip-sheet bundles, inside an output folder
OUTPUT_FILES = {
    "intake report": "intake-report.json",
    "quarantine": "quarantine.csv",
    "networks": "networks.csv",
    "sites": "sites.geojson",
    "map": "map.html",
}
RUN_STEPS = 3 + FIND_SITES_STEPS  # the steps run_investigation reports to a Progress
DEMO_STEPS = 1 + RUN_STEPS + 1 + EXPORT_STEPS + 1  # generate, run, review, export, verify
DEMO_ACTOR = "workbench-demo"
DEMO_NOTE = (  # short enough for the report to show it whole
    "DEMO REVIEW on synthetic data, not a real decision: recorded by the demo so that its "
    "tip sheet can be exported."
)
DEMO_SETTINGS = {
    "organisation": "Counterfeit Workbench demo (synthetic data, not a real referral)",
    "contact": "demo@example.org",
}
_WHO = ("organisation", "contact")  # case settings a tip sheet needs


@dataclass
class RunResult:
    """What :func:`run_investigation` stored and wrote.

    ``case`` is the case as named (what ``open_case`` and the commands take: a path, or a
    team case's URL without its password), ``run_id`` the clustering run, ``intake`` one
    report per file (rows read, stored, quarantined, repaired), ``networks`` the linking
    result, ``sites`` the run's ranked sites, ``outputs`` the files written into
    ``out_dir``; ``settings``: a team case's settings after the run (a case file's are read
    when the next steps are written).
    """

    case: Path | str
    out_dir: Path
    run_id: str
    exports: Exports
    intake: list[dict[str, Any]]
    networks: Networks
    sites: gpd.GeoDataFrame
    outputs: dict[str, Path]
    settings: dict[str, str] | None = None

    def describe(self) -> str:
        """A plain-text account of the run and where its outputs are."""
        read = sum(int(r["rows_read"]) for r in self.intake)
        quarantined = sum(int(r["rows_quarantined"]) for r in self.intake)
        lines = [
            f"Case: {self.case}",
            f"Loaded {read:,} rows ({quarantined:,} quarantined) from {len(self.intake)} "
            f"file(s) in {self.exports.folder}:",
            *(
                f"  {r['table']:<12} {Path(str(r['source'])).name}: {int(r['rows_read']):,} "
                f"read, {int(r['rows_stored']):,} stored, {int(r['rows_quarantined']):,} "
                f"quarantined, {int(r['rows_repaired']):,} repaired "
                f"({r.get('encoding') or r.get('format')})"
                for r in self.intake
            ),
        ]
        if self.exports.other:
            names = ", ".join(p.name for p in self.exports.other)
            lines.append(f"  not loaded (the name names no table): {names}")
        lines += [self._networks_line(), self._sites_line()]
        lines += [f"{name:>14}: {path}" for name, path in self.outputs.items()]
        return "\n".join(lines)

    def _networks_line(self) -> str:
        summary = self.networks.summary
        accounts = int(summary["n_sellers"].sum()) if len(summary) else 0
        line = (
            f"Networks: {len(summary)} linking {accounts:,} accounts; "
            f"{len(self.networks.infrastructure)} infrastructure identifier(s) ignored"
        )
        unknown = len(self.networks.unknown_sellers)
        return line + (f"; {unknown} identifier row(s) name unknown accounts" if unknown else "")

    def _sites_line(self) -> str:
        line = f"Candidate sites: {len(self.sites)} (run {self.run_id})"
        if not len(self.sites):
            return line
        top = self.sites.iloc[0]
        where = ", ".join(
            dict.fromkeys(str(top[k]) for k in ("place", "prefecture") if isinstance(top[k], str))
        )
        score = f"score {top['score']:.0f}, {top['label']}"
        return line + f"; top {top['site_id']} near {where} ({score})"

    def next_steps(self) -> str:
        """The commands that take the case on: explore, review, tip sheet, verify."""
        case, bundles = _quoted(self.case), _quoted(self.out_dir / BUNDLES_FOLDER)
        if not len(self.sites):
            return (
                "No candidate sites at this radius. Try a larger one:\n"
                f"  workbench sites {case} --radius-m 500"
            )
        site = shlex.quote(str(self.sites.iloc[0]["site_id"]))
        named = self.case if isinstance(self.case, str) else str(self.case.resolve())
        lines = [
            "Next steps (every decision is kept in the case, with who and when):",
            "  explore the map and review the sites in JupyterLab (template "
            f'"New counterfeit investigation", case_file = {named!r}):',
            "    workbench lab",
            "  or record a decision on the command line:",
            f"    workbench review {case} {site} --status confirmed "
            "--note 'which test buys and checks confirmed it'",
        ]
        if not _has_keys():
            lines += ["  create the organisation's signing keys (once):", "    workbench keys init"]
        settings = self.settings
        if settings is None:
            with open_case(self.case, create=False) as opened:
                settings = opened.settings()
        missing = [key for key in _WHO if not settings.get(key)]
        who = "".join(f" --{key} {shlex.quote(f'YOUR {key.upper()}')}" for key in missing)
        lines += [
            "  write the signed tip sheet (PDF, HTML and data files) of a confirmed site:",
            f"    workbench tipsheet {case} --site {site} --out {bundles}{who}",
            "  check a bundle before sending it (the path the tipsheet command prints):",
            f"    workbench verify {bundles}/tipsheet-REFERENCE",
        ]
        return "\n".join(lines)


def _without_password(url: str) -> str:
    """A team case's URL as printed: never with the password it may hold."""
    from workbench.team._store import parse_url

    return str(parse_url(url))


def _quoted(path: Path | str) -> str:
    return shlex.quote(str(path))


def _has_keys() -> bool:
    """True when the default keys folder holds usable keys."""
    try:
        load_keys()
    except WorkbenchError:
        return False
    return True


def _write_outputs(
    case: Case | TeamCase,
    out_dir: Path,
    intake: list[dict[str, Any]],
    networks: Networks,
    sites: gpd.GeoDataFrame,
) -> dict[str, Path]:
    """The run's files for a first look: intake report, quarantine, networks, sites, map."""
    from workbench.maps._page import site_map  # a view: drawn only when a run writes its map

    outputs = {name: out_dir / file for name, file in OUTPUT_FILES.items()}
    outputs["intake report"].write_text(
        json.dumps(intake, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    write_csv(case.quarantine(), outputs["quarantine"])
    membership = networks.membership.merge(
        networks.summary[["network_id", "kinds"]], on="network_id", how="left"
    )
    write_csv(membership, outputs["networks"])
    write_geojson(sites, outputs["sites"])
    site_map(
        case.waybills(),
        sites,
        sellers=case.table("sellers"),
        networks=networks.membership,
        locations=case.table("locations"),
    ).to_html(outputs["map"])
    return outputs


def run_investigation(
    data_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    case: str | os.PathLike[str] | None = None,
    mapping: MappingLike = None,
    radius_m: float = 300.0,
    max_accounts: int | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
    **site_params: Any,
) -> RunResult:
    """Ingest a folder of exports into a case, link sellers, find sites and draw the map.

    Parameters
    ----------
    data_dir : the folder of export files (which file is which table:
        :func:`workbench.find_exports`).
    out : the folder for the map, the site and network files and the intake report.
    case : the case to store everything in (created if missing; default ``out/investigation.case``),
        or a team case's URL (``postgresql://USER@HOST/DB?case=NAME``: the analyst's role).
        Running again on the same case adds nothing twice: keyed rows are replaced, an
        identical clustering run is reused.
    mapping : a mapping file (YAML or JSON) or dict naming the source column of each field.
    radius_m, site_params : the clustering parameters (:class:`workbench.SiteFinder`).
    max_accounts : identifiers on more accounts are infrastructure (default: from the data).
    actor : who runs it, for the audit log (default: the OS user).
    progress : told each of the ``RUN_STEPS`` steps as it starts.
    """
    exports = find_exports(data_dir)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    target: Path | str = (
        out_dir / CASE_NAME if case is None else str(case) if is_team_url(case) else Path(case)
    )
    with open_case(target, actor=actor) as opened:
        step(progress, f"reading {len(exports.files)} export file(s) into the case")
        intake = opened.ingest_files(exports.files, mapping=mapping, link=False)
        step(progress, "linking sellers through shared identifiers")  # with the summary
        networks = opened.link_sellers(max_accounts=max_accounts)
        run_id = opened.find_sites(
            radius_m, max_accounts=max_accounts, progress=progress, **site_params
        )
        sites = opened.sites(run_id)
        step(progress, "writing the map, sites and networks")
        outputs = _write_outputs(opened, out_dir, intake, networks, sites)
        if isinstance(target, Path):
            return RunResult(target, out_dir, run_id, exports, intake, networks, sites, outputs)
        # a team case is named without the password its URL may hold: its settings now
        shown, settings = _without_password(target), opened.settings()
        return RunResult(
            shown, out_dir, run_id, exports, intake, networks, sites, outputs, settings
        )


def demo_review(case: Case, site_id: str, *, run_id: str | None = None) -> dict[str, Any]:
    """Record the demo's review of ``site_id``: confirmed by ``DEMO_ACTOR``, with a note that
    says it is a demo decision on synthetic data. Also names the demo as the reporting
    organisation of the case when none is set. Returns the review as recorded."""
    settings = case.settings()
    for key, value in DEMO_SETTINGS.items():
        if not settings.get(key):
            case.set_setting(key, value)
    return case.review(site_id, status="confirmed", note=DEMO_NOTE, by=DEMO_ACTOR, run_id=run_id)


@dataclass
class DemoResult:
    """What :func:`run_demo` made: the data, the run, the demo review, the verified bundle."""

    data: DemoData
    run: RunResult
    review: dict[str, Any]
    keys: Path
    keys_created: bool
    bundle: Path
    check: BundleCheck

    def describe(self) -> str:
        """A plain-text account of the demo, ending with the bundle and its verification."""
        truth = json.loads(self.data.truth.read_text(encoding="utf-8"))
        review = self.review
        public_key = self.keys / PUBLIC_KEY
        return "\n".join(
            [
                f"Demo data: {self.data.folder} (synthetic; {self.data.truth.name} lists the "
                f"{len(truth['sites'])} planted workshops)",
                self.run.describe(),
                f"Demo review: {review['site_id']} {review['status']} by {review['by']} "
                "(labelled in the case as a demo decision, not a real one)",
                f"Keys: {self.keys}",
                "  (demo signing keys, "
                + ("made now" if self.keys_created else "made by an earlier demo")
                + "; an organisation makes its own once: workbench keys init)",
                f"Tip sheet bundle: {self.bundle}",
                f"        report: {self.bundle / 'data' / 'report.pdf'}",
                f"Verified: {self.check}",
                "Check it again, as the recipient will with your public key:",
                f"  workbench verify {_quoted(self.bundle)} --key {_quoted(public_key)}",
            ]
        )


def run_demo(
    outdir: str | os.PathLike[str],
    *,
    seed: int = 7,
    n_shipments: int = 60_000,
    top: int = 1,
    progress: Progress | None = None,
) -> DemoResult:
    """The whole path on the demo: generate, ingest, link, find sites, review, export, verify.

    Writes the demo exports to ``outdir/data``, the case to ``outdir/investigation.case``,
    the map and site files to ``outdir``, demo signing keys to ``outdir/keys`` (when there
    are none) and the signed bundle of the ``top`` sites (with PDF) to ``outdir/bundles``;
    the top site gets a review labelled as the demo's. ``progress`` is told each of the
    ``DEMO_STEPS`` steps.
    """
    from workbench.demo._generate import generate_demo

    root = Path(outdir)
    step(progress, "generating the demo exports")
    data = generate_demo(root / "data", seed=seed, n_shipments=n_shipments, defects=True)
    keys_created = not (root / KEYS_FOLDER / PUBLIC_KEY).exists()
    keys = init_keys(root / KEYS_FOLDER, exist_ok=True)
    run = run_investigation(data.folder, root, case=root / CASE_NAME, progress=progress)
    site_ids = [str(s) for s in run.sites["site_id"].head(max(top, 1))]
    if not site_ids:
        raise NotFoundError(f"the demo found no candidate sites in {run.case}; nothing to export")
    with open_file_case(root / CASE_NAME, create=False) as case:
        step(progress, "recording the demo review of the top site")
        review = demo_review(case, site_ids[0], run_id=run.run_id)
        bundle = export_tip_sheet(
            case,
            site_ids,
            out=root / BUNDLES_FOLDER,
            run_id=run.run_id,
            allow_unconfirmed="demo on synthetic data: only the top site was reviewed"
            if len(site_ids) > 1
            else None,
            keys_dir=keys,
            progress=progress,
        )
    step(progress, "verifying the bundle")
    check = verify_bundle(bundle, key=keys / PUBLIC_KEY)
    return DemoResult(data, run, review, keys, keys_created, bundle, check)
