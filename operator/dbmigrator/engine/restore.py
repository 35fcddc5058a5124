"""Restores: the emergency path back to a backup.

In ONE transaction it drops the objects that exist now but not in the backup (in the schemas the
backup holds), then replays the backup with --clean. Before it touches the database, the archive
must pass the checks of engine/archive.py. Afterwards the restored schema becomes the drift
baseline and, when the migrations are at hand, the checks run.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from dbmigrator.engine import snapshot, tracking
from dbmigrator.engine.archive import (
    TocEntry,
    read_toc,
    resolve_backup_path,
    sidecar_path,
    verify_backup,
    verify_backup_digest,
)
from dbmigrator.engine.database import Dsn, connect
from dbmigrator.engine.errors import BackupError
from dbmigrator.engine.locking import migration_lock
from dbmigrator.engine.pgtools import client_dbname, find_tool, run_tool, server_major
from dbmigrator.engine.planning import current_version
from dbmigrator.engine.progress import Progress
from dbmigrator.engine.results import RunResult

if TYPE_CHECKING:  # the runner (and pglast) load only when there are migrations to validate
    from dbmigrator.engine.runner import Engine


def apply_restore(
    dsn: Dsn,
    source: Path,
    *,
    expect_sha256: str | None,
    engine: Engine | None,
    lock_wait: float,
    progress: Progress,
) -> RunResult:
    """The `restore` command, confirmed: check the archive (under the backup root, matching its
    sidecar and `expect_sha256`), restore it under the migration lock, record the restored schema
    as the drift baseline, then validate with `engine` (None: no migrations at hand)."""
    source = resolve_backup_path(source)
    sha256 = verify_backup_digest(source, expect_sha256)
    if expect_sha256 is None and not sidecar_path(source).exists():
        progress.warning(
            f"{source} has no sidecar and no --expect-sha256 was given: its integrity is unchecked"
        )
    else:
        progress.info(f"{source}: sha256 {sha256} verified")

    with (
        connect(dsn, "restore") as conn,
        migration_lock(conn, lock_wait, progress.info),
    ):
        before = current_version(tracking.read_applied(conn))
        verify_backup(source, server_major(conn))
        progress.info(f"restoring {source} into {dsn.dbname} (at {before or 'no version'})")
        dropped = restore_backup(dsn, conn, source)
        after = current_version(tracking.read_applied(conn))
        _refresh_baseline(conn, engine, after, progress)
    if dropped:
        progress.info(f"dropped {dropped} object(s) created after the backup")
    result = engine.validate() if engine is not None and engine.migrations.migrations else None
    return RunResult(
        command="restore",
        ok=result.ok if result else True,
        exit_code=result.exit_code if result else 0,
        database=dsn.dbname,
        from_version=before,
        current_version=after,
        validation=result.validation if result else None,
        error=result.error if result else None,
    )


def _refresh_baseline(
    conn: psycopg.Connection[Any], engine: Engine | None, version: str | None, progress: Progress
) -> None:
    """After a restore the schema is the backup's: record it as the drift baseline, over the
    files' schemas, else those of the restored baseline, else `public`."""
    try:
        tracking.ensure_tables(conn)
        if engine is not None:
            schemas = engine.managed_schemas()
        else:
            restored = snapshot.read_baseline(conn)
            schemas = restored.snapshot.schemas if restored else ("public",)
        live = snapshot.fetch_snapshot(conn, schemas)
        snapshot.record_snapshot(conn, live, version, "restore")
    except psycopg.Error as exc:  # the restore itself succeeded: say so, do not fail it
        progress.warning(
            f"could not record the restored schema as the drift baseline: ERROR {exc.sqlstate}: "
            f"{exc.diag.message_primary}"
        )
        return
    progress.info(
        f"recorded the restored schema as the drift baseline ({len(live.objects)} objects)"
    )


def restore_backup(dsn: Dsn, conn: psycopg.Connection[Any], path: Path) -> int:
    """Bring the database back to the backup, atomically. Returns the number of objects dropped
    because the backup did not have them."""
    major = server_major(conn)
    verify_backup(path, major)
    toc = read_toc(path, major)
    prelude = build_restore_prelude(conn, toc)
    with tempfile.TemporaryDirectory(prefix="dbmigrator-restore-") as tmp:
        script = Path(tmp) / "restore.sql"
        proc = subprocess.run(
            [find_tool("pg_restore", major), "--clean", "--if-exists", "--no-owner",
             f"--file={script}", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise BackupError(f"pg_restore could not read {path}: {proc.stderr.strip()[:500]}")
        first = Path(tmp) / "prelude.sql"
        first.write_text("".join(s + ";\n" for s in prelude))
        run_tool(
            [find_tool("psql", major), "--no-psqlrc", "--quiet", "--no-password",
             "-v", "ON_ERROR_STOP=1", "--single-transaction", client_dbname(dsn),
             "-f", str(first), "-f", str(script)],
            dsn, "psql (restore)",
        )  # fmt: skip
    return sum(1 for statement in prelude if statement.startswith("DROP "))


def build_restore_prelude(conn: psycopg.Connection[Any], toc: list[TocEntry]) -> list[str]:
    """DROP statements for relations, functions and types that exist now in the backup's schemas
    but are not in the backup (created after it was taken)."""
    schemas = sorted({e.schema for e in toc if e.schema not in ("-", "pg_catalog")} | {"public"})
    in_backup = {(e.schema, e.name) for e in toc}
    in_backup_funcs = {
        (e.schema, e.name.split("(")[0]) for e in toc if e.kind in ("FUNCTION", "PROCEDURE")
    }
    statements: list[str] = []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))",
            [schemas],
        )
        kinds = {
            "r": "TABLE",
            "p": "TABLE",
            "v": "VIEW",
            "m": "MATERIALIZED VIEW",
            "S": "SEQUENCE",
            "f": "FOREIGN TABLE",
        }
        for schema, name, relkind in cur.fetchall():
            if (schema, name) not in in_backup:
                ident = sql.Identifier(schema, name).as_string(conn)
                statements.append(f"DROP {kinds[relkind]} IF EXISTS {ident} CASCADE")
        cur.execute(
            "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
            [schemas],
        )
        for schema, name, args in cur.fetchall():
            if (schema, name) not in in_backup_funcs:
                ident = sql.Identifier(schema, name).as_string(conn)
                statements.append(f"DROP FUNCTION IF EXISTS {ident}({args}) CASCADE")
        # Tables the restore re-creates would pick up today's ALTER DEFAULT PRIVILEGES grants,
        # which pg_dump's ACLs do not revoke: clear the schema-level defaults first; the backup
        # replays its own at the end.
        cur.execute(
            "SELECT DISTINCT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, "
            "CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END "
            "FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, "
            "aclexplode(d.defaclacl) a WHERE n.nspname = ANY(%s)",
            [schemas],
        )
        objects = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}
        for role, schema, objtype, grantee in cur.fetchall():
            if objtype not in objects:
                continue
            who = sql.Identifier(grantee).as_string(conn) if grantee else "PUBLIC"
            statements.append(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {sql.Identifier(role).as_string(conn)} "
                f"IN SCHEMA {sql.Identifier(schema).as_string(conn)} "
                f"REVOKE ALL ON {objects[objtype]} FROM {who}"
            )
    return statements
