"""The template routes of the Jupyter server extension, against a real in-process server.

The templates folder is pointed at a tmp folder through the tornado setting
``workbench_templates_dir`` (see ``workbench.lab._server``), so these tests never depend on
the notebooks the package ships.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

TITLE = "New counterfeit investigation"


def write_template(folder: Path, stem: str, workbench: dict[str, Any]) -> None:
    """A one-cell nbformat-4 template notebook with workbench metadata."""
    notebook = {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "intro",
                "metadata": {},
                "source": f"# {workbench.get('title', stem)}",
            }
        ],
        "metadata": {"workbench": workbench},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / f"{stem}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


@pytest.fixture
def templates_folder(tmp_path: Path) -> Path:
    """Two fixture templates outside the server root."""
    folder = tmp_path / "templates"
    folder.mkdir()
    write_template(
        folder,
        "investigation",
        {"title": TITLE, "description": "Exports to tip sheet", "filename": "case.ipynb"},
    )
    write_template(folder, "test_buys", {"title": "Test-buy review", "order": 2})
    # a file next to the templates that must never be served
    (tmp_path / "secret.ipynb").write_text('{"cells": [], "secret": true}', encoding="utf-8")
    return folder


@pytest.fixture
def server_app_config() -> dict[str, Any]:
    """Extra ServerApp settings; a test parametrizes this name to add some."""
    return {}


@pytest.fixture
def jp_server_config(templates_folder: Path, server_app_config: dict[str, Any]) -> Config:
    """Enable the workbench extension and point it at the fixture templates."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"workbench": True},
                "tornado_settings": {"workbench_templates_dir": str(templates_folder)},
                **server_app_config,
            }
        }
    )


def body(response: Any) -> Any:
    return json.loads(response.body.decode("utf-8"))


async def status_of(request: Any) -> int:
    """The HTTP status of a request that is expected to fail."""
    with pytest.raises(HTTPClientError) as info:
        await request
    return info.value.code


async def test_list_templates(jp_fetch: Any) -> None:
    response = await jp_fetch("workbench", "templates")
    # investigation has no order and test_buys order 2, so test_buys comes first
    assert body(response) == [
        {
            "name": "test_buys",
            "title": "Test-buy review",
            "description": "",
            "filename": "test_buys.ipynb",
        },
        {
            "name": "investigation",
            "title": TITLE,
            "description": "Exports to tip sheet",
            "filename": "case.ipynb",
        },
    ]


async def test_get_template(jp_fetch: Any) -> None:
    notebook = body(await jp_fetch("workbench", "templates", "investigation"))
    assert notebook["metadata"]["workbench"]["title"] == TITLE
    assert notebook["cells"][0]["source"] == f"# {TITLE}"


async def test_post_creates_numbered_copies_and_never_overwrites(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    folder = jp_root_dir / "cases" / "putian"
    folder.mkdir(parents=True)
    # An analyst's own case.ipynb is already there; it must survive untouched.
    existing = folder / "case.ipynb"
    existing.write_text('{"mine": true}', encoding="utf-8")

    def post() -> Any:
        return jp_fetch(
            "workbench",
            "templates",
            "investigation",
            "new",
            method="POST",
            body=json.dumps({"path": "cases/putian"}),
        )

    first = await post()
    second = await post()
    assert first.code == second.code == 201
    # case.ipynb is taken, so the contents manager numbers the copies -1, -2
    assert body(first)["path"] == "cases/putian/case-1.ipynb"
    assert body(first)["name"] == "case-1.ipynb"
    assert body(second)["path"] == "cases/putian/case-2.ipynb"
    assert first.headers["Location"].endswith("/api/contents/cases/putian/case-1.ipynb")

    assert existing.read_text(encoding="utf-8") == '{"mine": true}'
    copy = json.loads((folder / "case-1.ipynb").read_text(encoding="utf-8"))
    assert copy["metadata"]["workbench"]["title"] == TITLE
    # three distinct notebooks: the analyst's own and the two copies
    assert sorted(p.name for p in folder.glob("*.ipynb")) == [
        "case-1.ipynb",
        "case-2.ipynb",
        "case.ipynb",
    ]


async def test_post_uses_the_suggested_name_when_free(jp_fetch: Any, jp_root_dir: Path) -> None:
    response = await jp_fetch(
        "workbench", "templates", "test_buys", "new", method="POST", body=json.dumps({"path": ""})
    )
    # no filename in metadata: <stem>.ipynb, in the server root
    assert response.code == 201
    assert body(response)["path"] == "test_buys.ipynb"
    assert (jp_root_dir / "test_buys.ipynb").is_file()


@pytest.mark.parametrize(
    ("folder", "code", "message"),
    [
        ("missing/folder", 404, "Folder 'missing/folder' does not exist"),
        ("notes.txt", 400, "'notes.txt' is a file, not a folder"),
        (".hidden", 404, "Folder '.hidden' is hidden"),
        ("../outside", 404, "outside root contents directory"),
    ],
)
async def test_post_into_a_bad_folder_is_refused(
    jp_fetch: Any, jp_root_dir: Path, folder: str, code: int, message: str
) -> None:
    (jp_root_dir / "notes.txt").write_text("a note", encoding="utf-8")
    (jp_root_dir / ".hidden").mkdir()
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "workbench",
            "templates",
            "investigation",
            "new",
            method="POST",
            body=json.dumps({"path": folder}),
        )
    assert info.value.code == code
    assert info.value.response is not None
    assert message in body(info.value.response)["message"]
    # nothing was written anywhere under the root
    assert not list(jp_root_dir.rglob("case*.ipynb"))


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"path": 7}'])
async def test_post_with_a_bad_body_is_400(jp_fetch: Any, payload: str) -> None:
    code = await status_of(
        jp_fetch("workbench", "templates", "investigation", "new", method="POST", body=payload)
    )
    assert code == 400


async def test_unknown_template_is_404_naming_the_available_ones(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "templates", "nope")
    assert info.value.code == 404
    assert info.value.response is not None
    # listing order: test_buys (order 2) before investigation (no order)
    assert "Available templates: test_buys, investigation." in body(info.value.response)["message"]


@pytest.mark.parametrize(
    "raw_name",
    [
        "..",  # parent folder
        "..%2Fsecret",  # encoded slash: decodes to ../secret
        "%2E%2E%2Fsecret",  # fully encoded
        "..%5Csecret",  # backslash
        "%2Fetc%2Fpasswd",  # absolute path
        "investigation.ipynb",  # a file name, not a template name
        "secret",  # exists next to the templates folder, not in it
        "-investigation",  # must start with a letter or digit
    ],
)
@pytest.mark.parametrize("suffix", ["", "/new"])
async def test_traversal_names_are_404(
    http_server_client: Any,
    jp_auth_header: dict[str, str],
    jp_base_url: str,
    jp_root_dir: Path,
    raw_name: str,
    suffix: str,
) -> None:
    # sent as raw URLs: jp_fetch would escape the '%' and hide what a hostile client sends
    url = f"{jp_base_url}workbench/templates/{raw_name}{suffix}"
    method = "POST" if suffix else "GET"
    code = await status_of(
        http_server_client.fetch(
            url,
            method=method,
            headers=jp_auth_header,
            body=json.dumps({"path": ""}) if suffix else None,
        )
    )
    assert code == 404
    assert list(jp_root_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("parts", "method", "payload"),
    [
        (("workbench", "templates"), "GET", None),
        (("workbench", "templates", "investigation"), "GET", None),
        (("workbench", "templates", "investigation", "new"), "POST", '{"path": ""}'),
    ],
)
async def test_requests_without_the_token_are_refused(
    jp_fetch: Any, jp_root_dir: Path, parts: tuple[str, ...], method: str, payload: str | None
) -> None:
    # an empty Authorization header replaces the token jp_fetch would send
    code = await status_of(
        jp_fetch(*parts, method=method, body=payload, headers={"Authorization": ""})
    )
    assert code in (401, 403)
    assert list(jp_root_dir.iterdir()) == []


class DenyContents(Authorizer):
    """A signed-in user without the 'contents' permission."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "contents"


@pytest.mark.parametrize("server_app_config", [{"authorizer_class": DenyContents}])
async def test_users_without_contents_permission_are_refused(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    for parts, method, payload in [
        (("workbench", "templates"), "GET", None),
        (("workbench", "templates", "investigation", "new"), "POST", '{"path": ""}'),
    ]:
        code = await status_of(jp_fetch(*parts, method=method, body=payload))
        assert code == 403
    assert list(jp_root_dir.iterdir()) == []
