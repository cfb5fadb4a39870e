"""Jupyter server extension: offer investigation templates and copy them into user folders.

Routes, under the server's ``base_url``, all behind Jupyter authentication and the
``contents`` permission (read for GET, write for POST):

``GET  workbench/templates``
    JSON list of ``{"name", "title", "description", "filename"}``.
``GET  workbench/templates/<name>``
    The template notebook JSON.
``POST workbench/templates/<name>/new`` with body ``{"path": "<folder>"}``
    Saves a copy in that folder (relative to the server root) under the template's
    suggested file name, numbered (``investigation-1.ipynb``) when the name is taken, and
    answers 201 with the new file's contents model. An existing file is never overwritten.

The templates folder is :func:`workbench.lab.templates.templates_dir`; a deployment or a test
points it elsewhere with the tornado setting ``workbench_templates_dir``::

    c.ServerApp.tornado_settings = {"workbench_templates_dir": "/srv/case-templates"}

Enabled by ``jupyter-config/server-config/counterfeit_workbench.json``, or
``jupyter server extension enable workbench``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

from workbench.errors import InputError
from workbench.lab.templates import TEMPLATE_NAME, TemplateInfo, list_templates, read_template

__all__ = ["TEMPLATES_DIR_SETTING"]

#: Tornado setting that overrides the templates folder (a path string).
TEMPLATES_DIR_SETTING = "workbench_templates_dir"
_LOCK_SETTING = "workbench_create_lock"


class _TemplatesHandler(APIHandler):
    """Shared parts: the templates folder, template lookup, error conversion."""

    auth_resource = "contents"

    @property
    def templates_folder(self) -> Path | None:
        """The configured templates folder, or ``None`` for the packaged one."""
        value = self.settings.get(TEMPLATES_DIR_SETTING)
        return Path(value) if value else None

    def listing(self) -> list[TemplateInfo]:
        """All templates; a broken template folder is a 500 with the reason."""
        try:
            return list_templates(self.templates_folder)
        except InputError as error:
            raise web.HTTPError(500, str(error)) from error

    def template(self, name: str) -> TemplateInfo:
        """The listed template called ``name``; 404 for any other name."""
        if TEMPLATE_NAME.match(name):
            for info in self.listing():
                if info.name == name:
                    return info
        available = ", ".join(info.name for info in self.listing()) or "(none)"
        raise web.HTTPError(404, f"No template named {name!r}. Available templates: {available}.")

    def send_json(self, data: Any, status: int = 200) -> None:
        """Finish the request with a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=json_default))


class TemplateListHandler(_TemplatesHandler):
    """``GET workbench/templates``: what the launcher offers."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(
            [
                {
                    "name": info.name,
                    "title": info.title,
                    "description": info.description,
                    "filename": info.filename,
                }
                for info in self.listing()
            ]
        )


class TemplateHandler(_TemplatesHandler):
    """``GET workbench/templates/<name>``: one template's notebook JSON."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        info = self.template(name)
        self.send_json(read_template(info.name, self.templates_folder))


class NewFromTemplateHandler(_TemplatesHandler):
    """``POST workbench/templates/<name>/new``: copy a template into a folder."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        info = self.template(name)
        folder = await self._folder()
        notebook = read_template(info.name, self.templates_folder)
        cm = self.contents_manager
        # One copy at a time, so two clicks cannot both pick the same free name.
        lock = self.settings.setdefault(_LOCK_SETTING, asyncio.Lock())
        async with lock:
            filename = await ensure_async(cm.increment_filename(info.filename, folder, "-"))
            path = url_path_join(folder, filename) if folder else filename
            model = {"type": "notebook", "format": "json", "content": notebook}
            saved = await ensure_async(cm.save(model, path))
        location = url_path_join(self.base_url, "api", "contents", url_escape(path))
        self.set_header("Location", location)
        self.send_json(saved, status=201)

    async def _folder(self) -> str:
        """The request's target folder as an API path; 400 or 404 when unusable."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as error:
            raise web.HTTPError(400, f"Request body must be JSON: {error}.") from error
        if not isinstance(body, dict):
            raise web.HTTPError(400, 'Request body must be a JSON object like {"path": ""}.')
        folder = body.get("path", "")
        if not isinstance(folder, str):
            raise web.HTTPError(400, f"'path' must be a folder path string, got {folder!r}.")
        folder = folder.strip("/")
        cm = self.contents_manager
        if folder and not cm.allow_hidden and await ensure_async(cm.is_hidden(folder)):
            raise web.HTTPError(404, f"Folder {folder!r} is hidden; pick a visible folder.")
        if not await ensure_async(cm.dir_exists(folder)):
            if await ensure_async(cm.file_exists(folder)):
                raise web.HTTPError(400, f"{folder!r} is a file, not a folder.")
            raise web.HTTPError(
                404, f"Folder {folder!r} does not exist. Create it or pick another folder."
            )
        return folder


def _load_jupyter_server_extension(server_app: ServerApp) -> None:
    """Register the template routes on the running Jupyter server."""
    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], "workbench", "templates")
    name = r"(?P<name>[^/]+)"
    web_app.add_handlers(
        ".*$",
        [
            (base, TemplateListHandler),
            (url_path_join(base, name), TemplateHandler),
            (url_path_join(base, name, "new"), NewFromTemplateHandler),
        ],
    )
    server_app.log.info("Counterfeit Workbench: template routes at %s", base)
