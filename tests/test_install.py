"""The installed package: JupyterLab and Jupyter Server see both extensions, and the wheel
carries everything a user without Node.js needs.

Needs ``make install`` (editable install, ``labextension develop``, server extension
enabled). The ``jupyter ... list`` commands print their report on stderr.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# the one place the version is written
VERSION = json.loads((REPO / "extension" / "package.json").read_text("utf-8"))["version"]


def run(*command: str, cwd: Path | None = None) -> str:
    """Run a program from the venv's bin; return stdout and stderr, ANSI colours removed."""
    # the venv's bin first on PATH: `jupyter` delegates to `jupyter-builder` and friends
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )
    output = _ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, output
    return output


def lines_with(output: str, word: str) -> list[list[str]]:
    """The whitespace-split lines of ``output`` that contain ``word`` as a token."""
    return [line.split() for line in output.splitlines() if word in line.split()]


def test_labextension_is_enabled_and_ok() -> None:
    output = run("jupyter", "labextension", "list")
    # e.g. "counterfeit-workbench v0.1.0 enabled OK (python, counterfeit-workbench)"
    rows = lines_with(output, "counterfeit-workbench")
    assert any("enabled" in row and "OK" in row for row in rows), output


def test_server_extension_is_enabled_and_ok() -> None:
    output = run("jupyter", "server", "extension", "list")
    # "workbench enabled" in the config listing, then "workbench 0.1.0 OK" once it imports
    rows = [row for row in lines_with(output, "workbench") if row[0] == "workbench"]
    assert ["workbench", "enabled"] in rows, output
    assert any(row[-1] == "OK" for row in rows), output


def test_wheel_carries_labextension_server_config_and_templates(tmp_path: Path) -> None:
    run("python", "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), cwd=REPO)
    (wheel,) = tmp_path.glob("counterfeit_workbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = f"counterfeit_workbench-{VERSION}.data/data/"
    labext = f"{data}share/jupyter/labextensions/counterfeit-workbench/"
    assert f"{labext}package.json" in names
    assert f"{labext}install.json" in names  # JupyterLab says how to uninstall it
    assert any(re.fullmatch(rf"{re.escape(labext)}static/remoteEntry\.\w+\.js", n) for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/counterfeit_workbench.json" in names
    assert any(re.fullmatch(r"workbench/_templates/[^/]+\.ipynb", n) for n in names), names
    # the Node.js build tree stays out of the wheel
    assert not [n for n in names if "node_modules" in n]


def test_one_version_everywhere() -> None:
    import workbench
    from workbench.explorer._widgets import MODULE_VERSION

    built = json.loads((REPO / "workbench" / "labextension" / "package.json").read_text("utf-8"))
    assert workbench.__version__ == VERSION
    assert importlib.metadata.version("counterfeit-workbench") == VERSION
    assert built["version"] == VERSION
    assert f"^{VERSION}" == MODULE_VERSION
    # the front end reads its widget version from package.json, not from a copy
    version_ts = (REPO / "extension" / "src" / "version.ts").read_text("utf-8")
    assert VERSION not in version_ts and "package.json" in version_ts


# import name -> distribution, where they differ
_DISTRIBUTIONS = {"yaml": "pyyaml", "adbc_driver_sqlite": "adbc-driver-sqlite"}
# declared but only run, never imported: JupyterLab is what `workbench lab` starts and
# what the labextension plugs into
_RUN_ONLY = {"jupyterlab"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_distributions() -> set[str]:
    """Distributions of the third-party modules that workbench's code imports."""
    modules = set()
    for path in (REPO / "workbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m != "workbench"}
    return {_canonical(_DISTRIBUTIONS.get(m, m)) for m in third_party}


def test_dependencies_are_exactly_what_the_code_imports() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    declared = {_canonical(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0])
                for r in project["dependencies"]}  # fmt: skip
    imported = _imported_distributions()
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported == _RUN_ONLY, "declared but never imported"
    test_extra = {_canonical(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0])
                  for r in project["optional-dependencies"]["test"]}  # fmt: skip
    # what only the tests use stays out of a user's install
    assert {"scikit-learn", "bagit", "followthemoney"} <= test_extra - declared
