"""The ``workbench`` command line: one click group, each command a few lines over the API."""

from workbench.cli._main import cli, main

__all__ = ["cli", "main"]
