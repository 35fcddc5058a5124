"""Rehearsal: the guide's "test on staging first", done on the same server in a scratch database.

Back up the database (or take a given backup), restore it into a fresh scratch database, run
`up` with validation there, then drop the scratch database whatever happened: on failure, on
SIGTERM (the CLI turns it into an exception or a cancelled statement, and `finally` still runs),
and, for a rehearsal killed outright (SIGKILL), at the start of the next rehearsal of the same
database (scratch databases carry a comment naming the database they rehearse).

The server is left as the rehearsal found it. Roles, memberships and role/database settings are
server-wide: they are snapshotted before and put back after (`clusterstate.plan_revert`).
Statements that would act on the real server (ALTER SYSTEM, other databases, tablespaces,
subscriptions) are skipped in the scratch database. Both are said up front and in the result's
`warnings`. The rehearsal holds the real database's migration lock, so a real `up` never runs
in the middle of it and no other rehearsal of that database does.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbmigrator.engine import tracking
from dbmigrator.engine.backup import scratch_file, write_backup
from dbmigrator.engine.cluster import apply_revert, read_cluster_state
from dbmigrator.engine.clusterstate import ClusterState, plan_revert
from dbmigrator.engine.database import Dsn, connect, scrub
from dbmigrator.engine.errors import BackupError, EngineError, InputError
from dbmigrator.engine.locking import migration_lock
from dbmigrator.engine.pgtools import client_dbname, client_env, find_tool, server_major
from dbmigrator.engine.planning import Phase, current_version
from dbmigrator.engine.results import BackupInfo, ErrorInfo, RunResult
from dbmigrator.engine.runner import Engine
from dbmigrator.engine.sqlparse import plan_cluster_wide


def scratch_name(dbname: str) -> str:
    return f"{dbname[:40]}_rehearsal_{secrets.token_hex(4)}"


def scratch_comment(dbname: str) -> str:
    """Marks a scratch database as a rehearsal of `dbname`, so a later rehearsal can drop it."""
    return f"dbmigrator rehearsal of {dbname}"


def rehearse(
    engine: Engine,
    target: str | None = None,
    phases: Sequence[Phase] = (),
    backup: Path | None = None,
) -> RunResult:
    dsn = engine.dsn
    engine.parse_all()
    try:
        with (
            connect(dsn, "rehearse") as conn,
            migration_lock(conn, engine.options.lock_wait, engine.progress.info),
        ):
            applied = tracking.read_applied(conn)
            version = current_version(applied)
            up_plan = engine.plan_for(applied, target, phases)
            pending = up_plan.migrations
            engine.check_expected_plan("up", version, up_plan.target, [m.version for m in pending])
            for stale in drop_stale_scratch(conn, dsn.dbname):
                engine.progress.warning(f"dropped {stale}, left by an earlier rehearsal")
            major = server_major(conn)
            notes = [c.display for c in plan_cluster_wide(engine.parsed(m.up) for m in pending)]
            for note in notes:
                engine.progress.warning(note)
            before = read_cluster_state(conn)
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
                try:
                    _create_scratch(conn, scratch, dsn.dbname)
                    engine.progress.info(f"restoring into scratch database {scratch}")
                    _restore_into(dsn.with_dbname(scratch), source, major)
                    scratch_engine = Engine(
                        dsn.with_dbname(scratch),
                        engine.migrations,
                        engine.checks,
                        engine.options,
                        engine.progress,
                        rehearsal=True,
                    )
                    result = scratch_engine.up(target, phases)
                finally:
                    _drop_scratch(conn, scratch)
                    engine.progress.info(f"dropped scratch database {scratch}")
                    notes += _put_back(conn, before, engine)
        return result.model_copy(
            update={
                "command": "rehearse",
                "database": dsn.dbname,
                "backup": _relabel(info, dsn.dbname) if info else None,
                "warnings": [*result.warnings, *notes],
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


def drop_stale_scratch(conn: psycopg.Connection[Any], dbname: str) -> list[str]:
    """Drop scratch databases of earlier rehearsals of `dbname` (call with its lock held: no
    other rehearsal of it is running, so any left is from one that was killed)."""
    rows = conn.execute(
        "SELECT d.datname FROM pg_database d JOIN pg_shdescription s "
        "ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass WHERE s.description = %s",
        [scratch_comment(dbname)],
    ).fetchall()
    for (name,) in rows:
        _drop_scratch(conn, str(name))
    return [str(name) for (name,) in rows]


def _create_scratch(conn: psycopg.Connection[Any], scratch: str, dbname: str) -> None:
    name = sql.Identifier(scratch)
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(name))
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, scratch_comment(dbname)))


def _drop_scratch(conn: psycopg.Connection[Any], scratch: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def _put_back(conn: psycopg.Connection[Any], before: ClusterState, engine: Engine) -> list[str]:
    """Undo what the rehearsal changed in roles, memberships and settings; say what was done."""
    done = apply_revert(conn, plan_revert(before, read_cluster_state(conn)))
    for line in done:
        (engine.progress.info if line.startswith("reverted") else engine.progress.warning)(line)
    return done


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
