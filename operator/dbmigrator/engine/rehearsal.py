"""Rehearsal: the guide's "test on staging first", done on the same server in a scratch database.

Back up the database (or take a given backup), restore it into a fresh scratch database, run
`up` with validation there, then drop the scratch database whatever happened. The real database
is only read (by pg_dump).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path

from psycopg import sql

from dbmigrator.engine import tracking
from dbmigrator.engine.backup import (
    client_dbname,
    client_env,
    find_tool,
    scratch_file,
    server_major,
    write_backup,
)
from dbmigrator.engine.database import Dsn, connect, scrub
from dbmigrator.engine.errors import BackupError, EngineError, InputError
from dbmigrator.engine.planning import Phase, current_version
from dbmigrator.engine.results import BackupInfo, ErrorInfo, RunResult
from dbmigrator.engine.runner import Engine


def scratch_name(dbname: str) -> str:
    return f"{dbname[:40]}_rehearsal_{secrets.token_hex(4)}"


def rehearse(
    engine: Engine,
    target: str | None = None,
    phases: Sequence[Phase] = (),
    backup: Path | None = None,
) -> RunResult:
    dsn = engine.dsn
    engine.parse_all()
    try:
        with connect(dsn, "rehearse") as conn:
            major = server_major(conn)
            version = current_version(tracking.read_applied(conn))
            scratch = scratch_name(dsn.dbname)
            with scratch_file() as tmp:
                if backup is not None:
                    if not backup.is_file():
                        raise InputError(f"backup file {backup} does not exist")
                    source, info = backup, None
                else:
                    engine.progress.info(f"backing up {dsn.dbname} (at {version or 'no version'})")
                    info = write_backup(dsn, tmp, version=version, major=major)
                    source = tmp
                    engine.progress.info(
                        f"backup: {info.size_bytes} bytes, sha256 {info.sha256[:12]}"
                    )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
                )
                try:
                    engine.progress.info(f"restoring into scratch database {scratch}")
                    _restore_into(dsn.with_dbname(scratch), source, major)
                    scratch_engine = Engine(
                        dsn.with_dbname(scratch),
                        engine.migrations,
                        engine.checks,
                        engine.options,
                        engine.progress,
                    )
                    result = scratch_engine.up(target, phases)
                finally:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(scratch)
                        )
                    )
                    engine.progress.info(f"dropped scratch database {scratch}")
        return result.model_copy(
            update={
                "command": "rehearse",
                "database": dsn.dbname,
                "backup": _relabel(info, dsn.dbname) if info else None,
            }
        )
    except EngineError as exc:
        return RunResult(
            command="rehearse",
            ok=False,
            exit_code=exc.exit_code,
            database=dsn.dbname,
            error=ErrorInfo(**exc.info().model_dump()),
        )


def _relabel(info: BackupInfo, dbname: str) -> BackupInfo:
    # The rehearsal's backup lives in a temp dir that is gone now; say so instead of a dead path.
    return info.model_copy(update={"file": f"(temporary backup of {dbname}, deleted)"})


def _restore_into(dsn: Dsn, path: Path, major: int) -> None:
    proc = subprocess.run(
        [find_tool("pg_restore", major), "--exit-on-error", "--single-transaction",
         "--no-password", client_dbname(dsn), str(path)],
        capture_output=True, text=True, env=client_env(dsn),
    )  # fmt: skip
    if proc.returncode != 0:
        raise BackupError(
            f"restoring into the scratch database failed: {scrub(proc.stderr, dsn)[-1500:]}"
        )
