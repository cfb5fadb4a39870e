"""Command-line cross-references: ``xref`` (against earlier cases) and ``exchange export`` /
``exchange import`` (lists shared with partner platforms).

:func:`register` adds them to the ``workbench`` command group; each is a few lines over
:mod:`workbench.case._xref` and :mod:`workbench.export._exchange`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli._common import echo, friendly

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register"]

_SHARED_KEY = click.option(
    "--key-file",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The exchange's shared key: 32+ raw bytes, or hex digits.",
)


def _summary(frame: pd.DataFrame) -> list[str]:
    """One line per source: matches by kind, and the confirmed ones."""
    if frame.empty:
        return ["no matches"]
    lines = [f"{'source':<28} {'sellers':>8} {'identifiers':>12} {'networks':>9} {'sites':>6}"]
    for name, group in frame.groupby("source_name", sort=True):
        counts = group["match"].value_counts()
        confirmed = int((group["review_status"] == "confirmed").sum())
        line = (
            f"{str(name)[:28]:<28} {counts.get('seller', 0):>8} "
            f"{counts.get('identifier', 0):>12} {counts.get('network', 0):>9} "
            f"{counts.get('site', 0):>6}"
        )
        lines.append(line + (f"  ({confirmed} at confirmed sites)" if confirmed else ""))
    return lines


@click.command("xref")
@click.argument("case_path", metavar="CASE")
@click.option(
    "--against",
    "against",
    multiple=True,
    required=True,
    help="A folder of earlier cases, one earlier case, or a team case's URL; repeatable.",
)
@click.option("--explain", "explain", default=0, show_default=True, help="Print N explanations.")
@friendly
def xref(case_path: str, against: tuple[str, ...], explain: int) -> None:
    """Flag the sellers, identifiers, networks and sites of CASE seen in earlier cases."""
    from workbench.opening import cross_reference, open_case

    with open_case(case_path, create=False) as case:
        found = cross_reference(case, list(against))
    for line in _summary(found):
        echo(line)
    for text in found["explanation"].head(explain):
        echo(f"  - {text}")


@click.group("exchange")
def exchange() -> None:
    """Lists of confirmed counterfeiters exchanged with partner platforms (keyed hashes)."""


@exchange.command("export")
@click.argument("case_path", metavar="CASE")
@_SHARED_KEY
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The list to write (JSON).",
)
@click.option("--issuer", default=None, help="Name partners see (default: case organisation).")
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the organisation keys (default: $WORKBENCH_KEYS_DIR or the config folder).",
)
@friendly
def exchange_export(
    case_path: str, key_file: Path, out: Path, issuer: str | None, keys_dir: Path | None
) -> None:
    """Write CASE's confirmed counterfeiters' identifiers as a signed exchange list."""
    import json

    from workbench.export._exchange import export_exchange_list, read_shared_key
    from workbench.opening import open_case

    key = read_shared_key(key_file)
    with open_case(case_path, create=False) as case:
        path = export_exchange_list(case, out, shared_key=key, keys_dir=keys_dir, issuer=issuer)
    n = json.loads(path.read_text(encoding="utf-8"))["n_entries"]
    echo(f"exchange list written to {path} ({n} hashed identifiers)")


@exchange.command("import")
@click.argument("case_path", metavar="CASE")
@click.argument("list_path", metavar="LIST", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--partner-key",
    "partner_key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The partner's public key (PEM), obtained separately.",
)
@_SHARED_KEY
@click.option("--partner", default=None, help="Name the matches carry (default: the issuer).")
@friendly
def exchange_import(
    case_path: str, list_path: Path, partner_key: Path, key_file: Path, partner: str | None
) -> None:
    """Verify a partner's LIST and flag the accounts of CASE whose identifiers are on it."""
    from workbench.export._exchange import import_exchange_list, read_shared_key
    from workbench.opening import open_case

    key = read_shared_key(key_file)
    with open_case(case_path, create=False) as case:
        found = import_exchange_list(
            case, list_path, partner_key=partner_key, shared_key=key, partner=partner
        )
    echo(f"{len(found)} matches ({found['seller_id'].nunique()} accounts) with {list_path}")
    for text in found["explanation"].head(10):
        echo(f"  - {text}")


def register(cli: click.Group) -> None:
    """Add ``xref`` and ``exchange`` to the ``workbench`` command group."""
    for command in (xref, exchange):
        cli.add_command(command)
