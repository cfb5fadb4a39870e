"""Print the requirements that pyproject.toml declares, one per line, for ``pip install -r``.

``python tools/requirements.py test`` prints the run-time dependencies and the ``test`` extra;
``python tools/requirements.py build`` prints the build system's requirements. The Makefile uses
it so that the dependencies are listed once, in pyproject.toml.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirements(kind: str) -> list[str]:
    """The requirement strings of ``kind``: ``build``, ``run`` or the name of an extra."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    if kind == "build":
        return list(data["build-system"]["requires"])
    project = data["project"]
    if kind == "run":
        return list(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    if kind not in extras:
        raise SystemExit(f"unknown kind {kind!r}: expected build, run or one of {sorted(extras)}")
    return list(project["dependencies"]) + list(extras[kind])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tools/requirements.py build|run|EXTRA")
    print("\n".join(requirements(sys.argv[1])))
