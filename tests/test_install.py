"""The installed package: JupyterLab and Jupyter Server see both extensions, and the wheel
carries everything a user without Node.js needs.

Needs ``make install`` (editable install, ``labextension develop``, server extension
enabled). The ``jupyter ... list`` commands print their report on stderr.
"""

from __future__ import annotations

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
    data = "counterfeit_workbench-0.1.0.data/data/"
    labext = f"{data}share/jupyter/labextensions/counterfeit-workbench/"
    assert f"{labext}package.json" in names
    assert any(re.fullmatch(rf"{re.escape(labext)}static/remoteEntry\.\w+\.js", n) for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/counterfeit_workbench.json" in names
    assert any(re.fullmatch(r"workbench/_templates/[^/]+\.ipynb", n) for n in names), names
    # the Node.js build tree stays out of the wheel
    assert not [n for n in names if "node_modules" in n]
