"""Template discovery: titles, descriptions, order, and names that must not resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import workbench.lab.templates as templates_module
from workbench.errors import InvalidFileError, NotFoundError
from workbench.lab.templates import TemplateInfo, list_templates, read_template, templates_dir


def write_notebook(
    folder: Path, stem: str, *, workbench: dict[str, Any] | None = None, markdown: str = ""
) -> Path:
    """Write a minimal nbformat-4 notebook with an optional markdown cell and metadata."""
    cells = [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": markdown}]
    notebook = {
        "cells": cells if markdown else [],
        "metadata": {"workbench": workbench} if workbench is not None else {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / f"{stem}.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three templates: one fully described, one titled by its heading, one bare."""
    write_notebook(
        tmp_path,
        "investigation",
        workbench={
            "title": "New counterfeit investigation",
            "description": "Load exports, link sellers, find workshops",
            "filename": "case.ipynb",
            "order": 1,
        },
        markdown="# Ignored heading, metadata wins",
    )
    write_notebook(tmp_path, "test_buys", markdown="Intro line\n\n# Test-buy review\n\nText")
    write_notebook(tmp_path, "zz-bare")
    (tmp_path / "notes.txt").write_text("not a notebook", encoding="utf-8")
    (tmp_path / ".scratch.ipynb").write_text("{}", encoding="utf-8")  # hidden: skipped
    return tmp_path


def test_list_templates_reads_titles_descriptions_and_filenames(folder: Path) -> None:
    # order=1 comes first; the two without an order follow by title ("Test-buy review"
    # sorts before "zz-bare"); notes.txt and the hidden notebook are not templates.
    assert list_templates(folder) == [
        TemplateInfo(
            "investigation",
            "New counterfeit investigation",
            "Load exports, link sellers, find workshops",
            "case.ipynb",
        ),
        TemplateInfo("test_buys", "Test-buy review", "", "test_buys.ipynb"),
        TemplateInfo("zz-bare", "zz-bare", "", "zz-bare.ipynb"),
    ]


def test_order_beats_title(tmp_path: Path) -> None:
    # "Zebra" has order 0 and "Alpha" order 5, so Zebra first despite the alphabet;
    # "Middle" has no order and goes last.
    write_notebook(tmp_path, "alpha", workbench={"title": "Alpha", "order": 5})
    write_notebook(tmp_path, "zebra", workbench={"title": "Zebra", "order": 0})
    write_notebook(tmp_path, "middle", workbench={"title": "Middle"})
    assert [t.name for t in list_templates(tmp_path)] == ["zebra", "alpha", "middle"]


def test_missing_folder_lists_nothing(tmp_path: Path) -> None:
    assert list_templates(tmp_path / "absent") == []


def test_read_template_returns_the_notebook(folder: Path) -> None:
    notebook = read_template("investigation", folder)
    # the metadata written by the fixture comes back unchanged
    assert notebook["metadata"]["workbench"]["title"] == "New counterfeit investigation"
    assert notebook["nbformat"] == 4


@pytest.mark.parametrize(
    "name",
    ["nope", "../x", "..%2F", "/etc/passwd", "", "investigation.ipynb", ".scratch", "notes"],
)
def test_unknown_and_hostile_names_are_not_found(folder: Path, name: str) -> None:
    # the message lists what exists, in listing order
    with pytest.raises(
        NotFoundError, match=r"available templates: investigation, test_buys, zz-bare\."
    ):
        read_template(name, folder)


def test_not_found_is_a_key_error(folder: Path) -> None:
    with pytest.raises(KeyError, match="'nope' not found"):
        read_template("nope", folder)


def test_broken_template_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidFileError, match=r"template broken\.ipynb: cannot be read"):
        list_templates(tmp_path)


@pytest.mark.parametrize("filename", ["../escape.ipynb", "sub/x.ipynb", "case.py", ".x.ipynb"])
def test_filename_suggestion_must_be_a_plain_notebook_name(tmp_path: Path, filename: str) -> None:
    write_notebook(tmp_path, "bad", workbench={"filename": filename})
    with pytest.raises(InvalidFileError, match=r"filename must be a plain '\*\.ipynb' file name"):
        list_templates(tmp_path)


def test_stem_must_be_a_valid_template_name(tmp_path: Path) -> None:
    write_notebook(tmp_path, "my case")
    with pytest.raises(InvalidFileError, match=r"the name 'my case' must match"):
        list_templates(tmp_path)


def test_templates_dir_prefers_the_packaged_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "workbench"
    package.mkdir()
    monkeypatch.setattr(templates_module, "_PACKAGE_DIR", package)
    # a source checkout: no workbench/_templates, so the repository's folder
    assert templates_dir() == tmp_path / "notebooks" / "templates"
    # an installed wheel carries workbench/_templates, which then wins
    (package / "_templates").mkdir()
    assert templates_dir() == package / "_templates"
