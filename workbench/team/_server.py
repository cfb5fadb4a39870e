"""A throwaway PostgreSQL + PostGIS server for tests and for trying the team store.

:func:`start_server` makes a cluster in a new temporary folder (``initdb``), starts it on a
free port on 127.0.0.1 (``pg_ctl``), creates the database ``workbench`` with PostGIS in it
and returns a :class:`Server` whose :meth:`Server.stop` stops the cluster and removes the
folder. Only localhost listens; the Unix socket lives inside the folder. Passwords are
required (SCRAM), the superuser's is random and in :attr:`Server.url`.

PostgreSQL refuses to run as root: as root the cluster runs as the system user
``workbench-pg`` (made with ``useradd --system`` if missing), which owns the folder; the
commands run through ``setpriv``.

The pytest fixture (``tests/team/conftest.py``) and ``make db`` share this module::

    python -m workbench.team start      # prints the URL and how to stop it
    python -m workbench.team stop DIR

>>> with start_server() as server:                        # doctest: +SKIP
...     print(server.url())
postgresql://workbench:...@127.0.0.1:54012/workbench
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from workbench.errors import MissingDependencyError, WorkbenchError

__all__ = ["Server", "find_binaries", "main", "start_server", "stop_server"]

SUPERUSER = "workbench"
DATABASE = "workbench"
RUN_AS = "workbench-pg"  # the system user the cluster runs as when we are root
_SEARCH = ("/usr/lib/postgresql", "/usr/local/pgsql", "/opt/homebrew/opt")


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (``WORKBENCH_PG_BIN``, then the highest
    PostgreSQL under ``/usr/lib/postgresql``, then ``PATH``); None when there is none."""
    explicit = os.environ.get("WORKBENCH_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    for root in _SEARCH:
        found = sorted(Path(root).glob("*/bin"), key=lambda p: _major(p.parent.name))
        candidates += reversed(found)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(RUN_AS)
    return entry.pw_uid, entry.pw_gid


def _command(args: list[str], user: tuple[int, int] | None) -> list[str]:
    if user is None:
        return args
    uid, gid = user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *args]


@dataclass
class Server:
    """A running throwaway cluster: its folder, port and superuser password."""

    folder: Path
    port: int
    password: str
    bin: Path
    user: tuple[int, int] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, user: str = SUPERUSER, password: str | None = None, db: str = DATABASE) -> str:
        """A libpq URL for ``user`` (default the superuser, with its password)."""
        secret = self.password if password is None and user == SUPERUSER else password
        auth = quote(user, safe="") + (f":{quote(secret, safe='')}" if secret else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{quote(db, safe='')}"

    def stop(self) -> None:
        """Stop the cluster and remove its folder."""
        stop_server(self.folder)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(*, durable: bool = False, attempts: int = 3) -> Server:
    """Start a new cluster on a free localhost port with database ``workbench`` + PostGIS.

    ``durable=False`` turns fsync off (tests: a crash of the machine loses the cluster,
    which is thrown away anyway). Raises :class:`MissingDependencyError` without PostgreSQL.
    """
    binaries = find_binaries()
    if binaries is None:
        raise MissingDependencyError(
            "PostgreSQL is not installed (no initdb/pg_ctl found); on Debian: "
            "apt-get install postgresql postgis (or set WORKBENCH_PG_BIN to its bin folder)"
        )
    user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    try:
        os.chmod(folder, 0o700)
        if user is not None:
            os.chown(folder, *user)
        password = secrets.token_urlsafe(18)
        _initdb(binaries, folder, password, user)
        for attempt in range(attempts):
            server = Server(folder, _free_port(), password, binaries, user)
            if _pg_ctl_start(server, durable):
                break
            if attempt == attempts - 1:
                log = (folder / "log").read_text(errors="replace")[-2000:]
                raise WorkbenchError(f"PostgreSQL did not start in {folder}:\n{log}")
        _create_database(server)
        return server
    except BaseException:
        with contextlib.suppress(Exception):
            stop_server(folder)
        raise


def _initdb(binaries: Path, folder: Path, password: str, user: tuple[int, int] | None) -> None:
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if user is not None:
        os.chown(pwfile, *user)
    args = [
        str(binaries / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER,
        f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
        "-E", "UTF8", "--locale=C", "--no-sync",
    ]  # fmt: skip
    done = subprocess.run(_command(args, user), capture_output=True, text=True, check=False)
    pwfile.unlink()
    if done.returncode:
        raise WorkbenchError(f"initdb failed in {folder}: {done.stderr.strip()[-2000:]}")


def _pg_ctl_start(server: Server, durable: bool) -> bool:
    options = [
        f"-p {server.port}",
        "-c listen_addresses=127.0.0.1",
        f"-c unix_socket_directories={server.folder}",
        "-c max_connections=60",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    args = [
        str(server.bin / "pg_ctl"), "-D", str(server.data), "-l", str(server.folder / "log"),
        "-o", " ".join(options), "-w", "-t", "60", "start",
    ]  # fmt: skip
    done = subprocess.run(_command(args, server.user), capture_output=True, text=True)
    return done.returncode == 0


def _create_database(server: Server) -> None:
    import psycopg

    with psycopg.connect(server.url(db="postgres"), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{DATABASE}"')
    with psycopg.connect(server.url(), autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def stop_server(folder: str | os.PathLike[str]) -> None:
    """Stop the cluster in ``folder`` (made by :func:`start_server`) and remove the folder."""
    folder = Path(folder)
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        binaries = find_binaries()
        if binaries is None:
            raise MissingDependencyError("pg_ctl not found: cannot stop the cluster")
        owner = data.stat()
        user = (owner.st_uid, owner.st_gid) if os.geteuid() == 0 and owner.st_uid else None
        args = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_command(args, user), capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    """``python -m workbench.team start | stop DIR`` (what ``make db`` runs)."""
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop_server(argv[1])
        print(f"stopped and removed {argv[1]}")
        return 0
    if argv[:1] != ["start"]:
        print("usage: python -m workbench.team start | stop DIR", file=sys.stderr)
        return 2
    import psycopg

    from workbench.team._schema import migrate

    started = time.monotonic()
    server = start_server(durable=True)
    with psycopg.connect(server.url()) as con:
        migrate(con)  # the team store, with its workbench_* roles
    took = time.monotonic() - started
    print(f"PostgreSQL + PostGIS with a team store ({took:.1f} s), data in {server.folder}")
    print(f"URL: {server.url()}")
    print(f"people: workbench team grant '{server.url()}' ingest LOGIN --password-stdin")
    print(f"try: workbench ingest '{server.url()}?case=NAME' --shipments F ...")
    print(f"  or: workbench case push CASE.gpkg '{server.url()}?case=NAME'")
    print(f"stop it with: {sys.executable} -m workbench.team stop {server.folder}")
    return 0
