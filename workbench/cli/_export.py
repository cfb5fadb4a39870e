"""Command-line export commands: ``tipsheet``, ``keys init`` / ``keys show`` and ``verify``.

:func:`register` adds them to the ``workbench`` command group; each is a few lines over
:mod:`workbench.export._bundle` and :mod:`workbench.export._keys`. ``tipsheet`` takes a
case file or a team case's URL (its role needs ``workbench_export``; exit 77 otherwise).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench.cli._common import echo, friendly

__all__ = ["register"]

_KEYS_DIR = click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the organisation keys (default: $WORKBENCH_KEYS_DIR or the config folder).",
)


@click.command("tipsheet")
@click.argument("case_path", metavar="CASE")
@click.option("--site", "site_ids", multiple=True, required=True, help="Site id; repeatable.")
@click.option("--lang", type=click.Choice(["en", "zh-CN"]), default="en", show_default=True)
@click.option(
    "--profile",
    type=click.Choice(["police", "partner"]),
    default="police",
    show_default=True,
    help="police: full identifiers; partner: identifiers as keyed tokens, no names.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder the bundle is written into.",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write one .zip instead of a folder.")
@click.option("--run", "run_id", default=None, help="Clustering run (default: the latest).")
@click.option(
    "--allow-unconfirmed",
    metavar="REASON",
    default=None,
    help="Export sites not confirmed by review; the reason goes into the report and audit log.",
)
@click.option("--no-pdf", is_flag=True, help="Skip report.pdf (HTML only).")
@click.option(
    "--organisation",
    default=None,
    help="Set the case's reporting organisation (a team case: name it in this bundle).",
)
@click.option(
    "--contact",
    default=None,
    help="Set the case's contact for the police (a team case: name it in this bundle).",
)
@click.option(
    "--thresholds",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Case-filing thresholds table (CSV) to compare each site's estimated business "
    "volume with (default: the table the package ships).",
)
@_KEYS_DIR
@friendly
def tipsheet(
    case_path: str,
    site_ids: tuple[str, ...],
    lang: str,
    profile: str,
    out: Path,
    as_zip: bool,
    run_id: str | None,
    allow_unconfirmed: str | None,
    no_pdf: bool,
    organisation: str | None,
    contact: str | None,
    thresholds: Path | None,
    keys_dir: Path | None,
) -> None:
    """Export a signed tip-sheet bundle for the police (or a partner) from CASE (a case
    file, or a team case's URL as a role with workbench_export)."""
    from workbench.case._case import Case
    from workbench.export._bundle import EXPORT_STEPS, export_tip_sheet
    from workbench.export._thresholds import load_thresholds
    from workbench.opening import open_case
    from workbench.progress import Progress

    table = load_thresholds(thresholds)  # a bad table is refused before the case is opened
    named = {"organisation": organisation, "contact": contact}
    with (
        open_case(case_path, create=False) as case,
        Progress("Tip sheet", EXPORT_STEPS) as progress,
    ):
        if isinstance(case, Case):  # a case file keeps them (audited)
            for key, value in named.items():
                if value is not None and case.settings().get(key) != value:
                    case.set_setting(key, value)
            named = {}
        path = export_tip_sheet(
            case,
            list(site_ids),
            lang=lang,
            profile=profile,
            out=out,
            run_id=run_id,
            allow_unconfirmed=allow_unconfirmed,
            as_zip=as_zip,
            pdf=not no_pdf,
            keys_dir=keys_dir,
            progress=progress,
            thresholds=table,
            **named,
        )
    echo(f"tip sheet written to {path}")


@click.group("keys")
def keys() -> None:
    """The organisation's signing key and pseudonymisation secret."""


@keys.command("init")
@_KEYS_DIR
@click.option("--force", is_flag=True, help="Replace existing keys (old bundles keep old keys).")
@friendly
def keys_init(keys_dir: Path | None, force: bool) -> None:
    """Create the organisation's keys (once; copy the folder to other workstations)."""
    from workbench.export._keys import PUBLIC_KEY, init_keys, load_keys

    folder = init_keys(keys_dir, force=force)
    echo(f"keys written to {folder} (owner-only permissions)")
    echo(f"public key: {folder / PUBLIC_KEY}")
    echo(f"fingerprint: {load_keys(folder).fingerprint}")


@keys.command("show")
@_KEYS_DIR
@friendly
def keys_show(keys_dir: Path | None) -> None:
    """Print where the keys are and the signing key's fingerprint."""
    from workbench.export._keys import PUBLIC_KEY, load_keys

    loaded = load_keys(keys_dir)
    echo(f"folder: {loaded.directory}")
    echo(f"public key: {loaded.directory / PUBLIC_KEY}")
    echo(f"fingerprint: {loaded.fingerprint}")


@click.command("verify")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The sender's public key (PEM), obtained separately. Default: the bundle's own.",
)
@friendly
def verify(bundle: Path, key: Path | None) -> None:
    """Check BUNDLE (folder or zip): manifest, every file's SHA-256 and the signature."""
    from workbench.export._bundle import verify_bundle

    check = verify_bundle(bundle, key=key)
    echo(str(check))
    if not check.ok:
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add ``tipsheet``, ``keys`` and ``verify`` to the ``workbench`` command group."""
    for command in (tipsheet, keys, verify):
        cli.add_command(command)
