"""PostgreSQL's client tools (pg_dump, pg_restore, psql): which copy to run for a server, and
how to run it. The connection goes through libpq environment variables: the password is in
PGPASSWORD, never on a command line, and a failure's output is scrubbed of it.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from dbmigrator.engine.database import Dsn, scrub
from dbmigrator.engine.errors import BackupError


def find_tool(name: str, server_major: int | None) -> str:
    """The client tool of the server's major if installed, else the newest one that is >= it.

    Looked for in Debian's `/usr/lib/postgresql/<major>/bin` and in the directories of
    `DBMIGRATOR_PG_BINDIRS` (colon-separated, e.g. the client tools hack/fetch-pg.sh caches);
    `DBMIGRATOR_PG_BINDIR` names the one directory to use, whatever its major.
    """
    override = os.environ.get("DBMIGRATOR_PG_BINDIR")
    if override:
        tool = Path(override) / name
        if not os.access(tool, os.X_OK) or not tool.is_file():
            raise BackupError(
                f"no {name} in DBMIGRATOR_PG_BINDIR={override}",
                hint="point DBMIGRATOR_PG_BINDIR at the PostgreSQL client tools' bin directory",
            )
        return str(tool)
    installed = sorted(_installed(name), reverse=True)
    if server_major is not None:
        exact = [p for major, p in installed if major == server_major]
        if exact:
            return exact[0]
        newer = [p for major, p in installed if major > server_major]
        if newer:
            return newer[0]
    if installed and server_major is None:
        return installed[0][1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    have = ", ".join(str(major) for major, _ in installed) or "none"
    raise BackupError(
        f"no {name} for PostgreSQL {server_major} found (installed majors: {have}); "
        f"pg_dump must be at least the server's major",
        hint="install postgresql-client-<major> or set DBMIGRATOR_PG_BINDIR",
    )


def _installed(name: str) -> list[tuple[int, str]]:
    """(major, path) of each copy of a client tool we know where to look for."""
    found = [
        (int(Path(p).parent.parent.name), p) for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    ]
    for directory in filter(None, os.environ.get("DBMIGRATOR_PG_BINDIRS", "").split(":")):
        tool = Path(directory) / name
        major = _tool_major(str(tool)) if os.access(tool, os.X_OK) else None
        if major is not None:
            found.append((major, str(tool)))
    return found


@functools.cache
def _tool_major(tool: str) -> int | None:
    """`pg_dump (PostgreSQL) 18.6` -> 18; None when it does not say."""
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.stdout.split()
    head = words[-1].split(".")[0] if words else ""
    return int(head) if head.isdigit() else None


def server_major(conn: psycopg.Connection[Any]) -> int:
    return int(conn.info.server_version) // 10000


def client_env(dsn: Dsn) -> dict[str, str]:
    """Environment for libpq tools: the password only in PGPASSWORD."""
    _, password = dsn.without_password()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def client_dbname(dsn: Dsn) -> str:
    """`--dbname` for libpq tools: the connection string without its password."""
    return "--dbname=" + dsn.without_password()[0]


def run_tool(cmd: list[str], dsn: Dsn, what: str) -> None:
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=client_env(dsn))
    except OSError as exc:
        raise BackupError(
            f"cannot run {cmd[0]}: {exc.strerror or exc}",
            hint="install the PostgreSQL client tools or set DBMIGRATOR_PG_BINDIR",
        ) from None
    if proc.returncode != 0:
        err = scrub(proc.stderr.strip(), dsn)
        raise BackupError(f"{what} failed after {time.monotonic() - started:.1f}s: {err[-1500:]}")
