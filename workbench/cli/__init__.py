"""The ``workbench`` command line: one click group, each command a few lines over the API."""

import os

# Before NumPy is imported: no advice to back large arrays with 2 MB pages. Where the
# kernel compacts memory to find them, faulting them in cost ``workbench sites`` at 10M
# waybills 1 s more system time than small pages (2-core VM); a user's setting is kept.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

from workbench.cli._main import cli, main

__all__ = ["cli", "main"]
