"""The ``workbench`` command line: each command is a few lines over the public API."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from workbench.errors import WorkbenchError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(func: F) -> F:
    """Turn workbench errors into a one-line message and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (WorkbenchError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="counterfeit-workbench")
def cli() -> None:
    """Counterfeit Workbench: from marketplace exports to tip sheets for the police."""


@cli.command()
@click.argument("outdir", default="demo-output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True, help="Seed of the demo generator.")
@click.option(
    "--shipments",
    "n_shipments",
    default=60_000,
    show_default=True,
    help="Number of waybills in the demo investigation.",
)
@click.option("--top", default=1, show_default=True, help="Tip sheets for the top N sites.")
@_friendly
def demo(outdir: Path, seed: int, n_shipments: int, top: int) -> None:
    """Generate the demo investigation in OUTDIR/data and run it end to end."""
    from workbench.demo import generate_demo
    from workbench.investigation import run_investigation

    data = generate_demo(outdir / "data", seed=seed, n_shipments=n_shipments, defects=True)
    click.echo(f"Demo data written to {data.folder} (seed {seed}, {n_shipments:,} waybills)")
    result = run_investigation(data.folder, outdir, top=top)
    click.echo(result.describe())


@cli.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the outputs.",
)
@click.option("--radius-m", default=300.0, show_default=True, help="Clustering radius.")
@click.option("--top", default=1, show_default=True, help="Tip sheets for the top N sites.")
@_friendly
def run(data_dir: Path, out: Path, radius_m: float, top: int) -> None:
    """Run an investigation on a folder of exports (sellers.csv, shipments.csv, ...)."""
    from workbench.investigation import run_investigation

    click.echo(run_investigation(data_dir, out, radius_m=radius_m, top=top).describe())


@cli.command()
def templates() -> None:
    """List the investigation templates the JupyterLab launcher offers."""
    from workbench.templates import list_templates

    for info in list_templates():
        click.echo(f"{info.name}\t{info.title}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def lab(ctx: click.Context) -> None:
    """Open JupyterLab (with the workbench extension) in the current folder."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or shutil.which(
        "jupyter"
    )
    if jupyter is None:
        raise click.ClickException("jupyter is not installed; run: pip install jupyterlab")
    os.execv(jupyter, [jupyter, "lab", *ctx.args])  # noqa: S606 - replaces this process


def main() -> None:
    """Entry point of the ``workbench`` console script."""
    cli(prog_name="workbench")
