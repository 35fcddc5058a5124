"""Backups and restores with PostgreSQL's own tools: pg_dump (custom format) and pg_restore.

A backup is written to `<file>.partial`, proven readable with `pg_restore --list`, hashed, then
renamed into place with a `<file>.json` sidecar (version, size, sha256), so a file without
`.partial` is always a complete archive. The client tools get the connection through libpq
environment variables: the password is in PGPASSWORD, never on a command line.

Restore is the emergency path: in ONE transaction it drops the objects that exist now but not in
the backup (in the schemas the backup holds), then replays the backup with --clean.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbmigrator.engine.database import Dsn, scrub
from dbmigrator.engine.errors import BackupError, InputError
from dbmigrator.engine.results import BackupInfo

_SUFFIX = ".dump"
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class TocEntry:
    kind: str
    schema: str
    name: str


def find_tool(name: str, server_major: int | None) -> str:
    """The client tool of the server's major if installed, else the newest one that is >= it."""
    override = os.environ.get("DBMIGRATOR_PG_BINDIR")
    if override:
        return str(Path(override) / name)
    installed = sorted(
        (
            (int(Path(p).parent.parent.name), p)
            for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
        ),
        reverse=True,
    )
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


def backup_name(dbname: str, version: str | None, now: datetime) -> str:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return f"{_NAME_RE.sub('_', dbname)}-{stamp}-{version or 'none'}{_SUFFIX}"


def write_backup(
    dsn: Dsn,
    out: Path,
    *,
    version: str | None,
    major: int | None,
    keep: int | None = None,
    compress: str | None = None,
) -> BackupInfo:
    """pg_dump -Fc to `out` (a file, or a directory to put a timestamped file in)."""
    now = datetime.now(UTC)
    if out.is_dir() or str(out).endswith("/") or out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        target = out / backup_name(dsn.dbname, version, now)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        target = out
    partial = target.with_name(target.name + ".partial")
    cmd = [
        find_tool("pg_dump", major), "--format=custom", "--no-password", f"--file={partial}",
        client_dbname(dsn),
    ]  # fmt: skip
    if compress:
        cmd.append(f"--compress={compress}")
    _run(cmd, dsn, "pg_dump")
    entries = verify_backup(partial, major)
    sha256, size = _digest(partial)
    os.replace(partial, target)
    info = BackupInfo(
        file=display_path(target),
        size_bytes=size,
        sha256=sha256,
        version=version or "",
        completed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    sidecar = {**info.model_dump(by_alias=True), "database": dsn.dbname, "tocEntries": entries}
    target.with_name(target.name + ".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    if keep is not None and target.parent == out:
        prune_backups(out, keep)
    return info


def display_path(path: Path) -> str:
    """The path as reported: relative to DBMIGRATOR_BACKUP_ROOT (a Job's backup volume) when
    under it, so the status names the file on the volume, not a path inside one container."""
    root = os.environ.get("DBMIGRATOR_BACKUP_ROOT")
    if root:
        try:
            return str(path.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return str(path)


def resolve_backup_path(path: Path) -> Path:
    """A relative --from path is looked up under DBMIGRATOR_BACKUP_ROOT when that is set."""
    root = os.environ.get("DBMIGRATOR_BACKUP_ROOT")
    if root and not path.is_absolute() and not path.exists():
        return Path(root) / path
    return path


def verify_backup(path: Path, major: int | None = None) -> int:
    """Prove the archive is readable: pg_restore --list must parse it. Returns its TOC size."""
    if not path.is_file():
        raise InputError(f"backup file {path} does not exist")
    proc = subprocess.run(
        [find_tool("pg_restore", major), "--list", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BackupError(f"{path} is not a readable pg_dump archive: {proc.stderr.strip()[:500]}")
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith(";"))


def read_toc(path: Path, major: int | None = None) -> list[TocEntry]:
    proc = subprocess.run(
        [find_tool("pg_restore", major), "--list", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BackupError(f"{path} is not a readable pg_dump archive: {proc.stderr.strip()[:500]}")
    return parse_toc(proc.stdout)


def parse_toc(listing: str) -> list[TocEntry]:
    """`pg_restore --list` lines: `ID; OID OID TYPE SCHEMA NAME OWNER` (TYPE may be two words)."""
    out = []
    kinds = ("TABLE DATA", "SEQUENCE SET", "MATERIALIZED VIEW", "FK CONSTRAINT", "DEFAULT ACL")
    for line in listing.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        _, _, rest = line.partition("; ")
        parts = rest.split()
        if len(parts) < 4:
            continue
        body = " ".join(parts[2:])
        kind = next((k for k in kinds if body.startswith(k + " ")), parts[2])
        fields = body[len(kind) :].split()
        if len(fields) >= 2:
            out.append(TocEntry(kind, fields[0], fields[1]))
    return out


def prune_backups(directory: Path, keep: int) -> list[Path]:
    dumps = sorted(directory.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for old in dumps[keep:]:
        old.unlink(missing_ok=True)
        old.with_name(old.name + ".json").unlink(missing_ok=True)
        removed.append(old)
    return removed


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
        _run(
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


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _run(cmd: list[str], dsn: Dsn, what: str) -> None:
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=client_env(dsn))
    if proc.returncode != 0:
        err = scrub(proc.stderr.strip(), dsn)
        raise BackupError(f"{what} failed after {time.monotonic() - started:.1f}s: {err[-1500:]}")


@contextlib.contextmanager
def scratch_file(directory: Path | None = None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dbmigrator-", dir=directory) as tmp:
        yield Path(tmp) / "backup.dump"
