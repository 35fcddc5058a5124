"""Backups and restores with PostgreSQL's own tools: pg_dump (custom format) and pg_restore.

A backup is written to `<file>.partial`, proven readable with `pg_restore --list`, hashed, then
renamed into place with a `<file>.json` sidecar (version, size, sha256), so a file without
`.partial` is always a complete archive. The client tools get the connection through libpq
environment variables: the password is in PGPASSWORD, never on a command line.

Restore is the emergency path: in ONE transaction it drops the objects that exist now but not in
the backup (in the schemas the backup holds), then replays the backup with --clean. Before it
touches the database, the archive's sha256 must match its sidecar and the expected hash (the
operator passes the one it recorded), and the path must lie under the backup root.

Backups are private: files 0600, directories the engine creates 0700, whatever the umask.
`--keep` prunes only this database's own backups (our name pattern with a sidecar naming the
database) and its stale `.partial` files, never other files in the directory.
"""

from __future__ import annotations

import contextlib
import functools
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
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
FILE_MODE = 0o600
DIR_MODE = 0o700
# A `.partial` not written to for this long belongs to a run that died: --keep removes it.
STALE_PARTIAL_SECONDS = 3600


@dataclass(frozen=True)
class TocEntry:
    kind: str
    schema: str
    name: str


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


def backup_name(dbname: str, version: str | None, now: datetime) -> str:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return f"{_NAME_RE.sub('_', dbname)}-{stamp}-{version or 'none'}{_SUFFIX}"


def backup_name_pattern(dbname: str) -> re.Pattern[str]:
    """The names `backup_name` gives this database's backups (any time, any version)."""
    prefix = re.escape(_NAME_RE.sub("_", dbname))
    return re.compile(rf"^{prefix}-[0-9]{{8}}T[0-9]{{6}}Z-(?:[0-9]+|none){re.escape(_SUFFIX)}$")


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
        _make_private_dirs(out)
        target = out / backup_name(dsn.dbname, version, now)
    else:
        _make_private_dirs(out.parent)
        target = out
    partial = target.with_name(target.name + ".partial")
    cmd = [
        find_tool("pg_dump", major), "--format=custom", "--no-password", f"--file={partial}",
        client_dbname(dsn),
    ]  # fmt: skip
    if compress:
        cmd.append(f"--compress={compress}")
    # pg_dump opens the file we create, so it keeps mode 0600 whatever the umask.
    _write_private(partial, b"")
    try:
        _run(cmd, dsn, "pg_dump")
        entries = verify_backup(partial, major)
        sha256, size = _digest(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    info = BackupInfo(
        file=display_path(target),
        size_bytes=size,
        sha256=sha256,
        version=version or "",
        completed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    sidecar = {**info.model_dump(by_alias=True), "database": dsn.dbname, "tocEntries": entries}
    _write_private(sidecar_path(target), (json.dumps(sidecar, indent=2) + "\n").encode())
    if keep is not None and target.parent == out:
        prune_backups(out, keep, dsn.dbname)
    return info


def sidecar_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".json")


def _make_private_dirs(path: Path) -> None:
    """mkdir -p where every directory created is 0700 (the umask does not widen or narrow it)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    try:
        if current.exists() and not current.is_dir():
            raise NotADirectoryError(f"{current} is not a directory")
        for directory in reversed(missing):
            directory.mkdir(mode=DIR_MODE)
            directory.chmod(DIR_MODE)
    except OSError as exc:
        raise BackupError(
            f"cannot create the backup directory {path}: {exc.strerror or exc}",
            hint="pass an --out in a writable directory",
        ) from None


def _write_private(path: Path, data: bytes) -> None:
    """Write `path` with mode 0600 (also when it existed with another mode), atomically for
    files with content (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp") if data else path
    try:
        # O_NOFOLLOW: a symbolic link planted under the backup's name must not redirect the write.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, data)
        finally:
            os.close(fd)
        if tmp != path:
            os.replace(tmp, path)
    except OSError as exc:
        if tmp != path:
            tmp.unlink(missing_ok=True)
        raise BackupError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="pass an --out in a writable directory",
        ) from None


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


def resolve_backup_path(path: Path, root: str | None = None) -> Path:
    """The backup a --from path names, confined to the backup root (DBMIGRATOR_BACKUP_ROOT, set
    in the operator's Jobs): a relative path is taken under the root, and a path that leaves it
    (`..`, an absolute path elsewhere, a symbolic link out) is refused. Without a root, the
    path as given."""
    root = root if root is not None else os.environ.get("DBMIGRATOR_BACKUP_ROOT")
    if not root:
        return path
    base = Path(root).resolve()
    candidate = (path if path.is_absolute() else base / path).resolve()
    if not candidate.is_relative_to(base):
        raise InputError(
            f"backup path {path} is outside the backup root {root}",
            hint="restore a file under DBMIGRATOR_BACKUP_ROOT (a path relative to it)",
        )
    return candidate


def verify_backup_digest(path: Path, expected: str | None) -> str:
    """The archive's sha256, after proving it is the backup that was taken: equal to its sidecar
    (when there is one) and to `expected` (when given). Reads only the file."""
    if expected is not None and not _SHA256.match(expected.lower()):
        raise InputError(f"--expect-sha256 {expected!r} is not 64 hexadecimal digits")
    if not path.is_file():
        raise InputError(f"backup file {path} does not exist")
    try:
        actual, size = _digest(path)
    except OSError as exc:
        raise BackupError(f"cannot read the backup {path}: {exc.strerror or exc}") from None
    recorded: dict[str, Any] | None = None
    sidecar = sidecar_path(path)
    if sidecar.exists():
        try:
            loaded = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BackupError(f"cannot read the backup's sidecar {sidecar}: {exc}") from None
        recorded = loaded if isinstance(loaded, dict) else {}
    checks = [("the expected sha256", expected.lower() if expected else None)]
    if recorded is not None:
        checks.append((f"its sidecar {sidecar.name}", str(recorded.get("sha256") or "")))
    for source, want in checks:
        if want is not None and want != actual:
            raise BackupError(
                f"backup {path} does not match {source}: sha256 is {actual}, expected "
                f"{want or 'none'}; refusing to restore (the database is untouched)",
                hint="the file was changed or replaced after the backup: restore another backup",
            )
    if recorded is not None and recorded.get("sizeBytes") not in (None, size):
        raise BackupError(
            f"backup {path} is {size} bytes, its sidecar says {recorded.get('sizeBytes')}; "
            "refusing to restore (the database is untouched)"
        )
    return actual


def verify_backup(path: Path, major: int | None = None) -> int:
    """Prove the archive is readable: pg_restore --list must parse it. Returns its TOC size."""
    if not path.is_file():
        raise InputError(f"backup file {path} does not exist")
    proc = _list_archive(path, major)
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith(";"))


def read_toc(path: Path, major: int | None = None) -> list[TocEntry]:
    return parse_toc(_list_archive(path, major).stdout)


def _list_archive(path: Path, major: int | None) -> subprocess.CompletedProcess[str]:
    tool = find_tool("pg_restore", major)
    try:
        proc = subprocess.run([tool, "--list", str(path)], capture_output=True, text=True)
    except OSError as exc:
        raise BackupError(f"cannot run {tool}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        raise BackupError(f"{path} is not a readable pg_dump archive: {proc.stderr.strip()[:500]}")
    return proc


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


def prune_backups(
    directory: Path, keep: int, dbname: str, *, now: float | None = None
) -> list[Path]:
    """Keep the newest `keep` of this database's own backups in `directory`; remove the older
    ones with their sidecars, and this database's `.partial` files nobody wrote to for
    STALE_PARTIAL_SECONDS. A backup is ours when its name has our pattern and its sidecar names
    this database: other databases' dumps and files people put there are never touched."""
    pattern = backup_name_pattern(dbname)
    ours = [p for p in directory.iterdir() if pattern.match(p.name) and _sidecar_names(p, dbname)]
    removed = []
    for old in sorted(ours, key=_stamp, reverse=True)[keep:]:
        old.unlink(missing_ok=True)
        sidecar_path(old).unlink(missing_ok=True)
        removed.append(old)
    cutoff = (time.time() if now is None else now) - STALE_PARTIAL_SECONDS
    for partial in directory.glob(f"*{_SUFFIX}.partial"):
        if pattern.match(partial.name.removesuffix(".partial")) and _mtime(partial) < cutoff:
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def _stamp(path: Path) -> str:
    """`<db>-<YYYYmmddTHHMMSSZ>-<version>.dump` -> the timestamp (sorts like time)."""
    return path.name.rsplit("-", 2)[-2]


def _sidecar_names(dump: Path, dbname: str) -> bool:
    try:
        data = json.loads(sidecar_path(dump).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("database") == dbname


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


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


@contextlib.contextmanager
def scratch_file(directory: Path | None = None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dbmigrator-", dir=directory) as tmp:
        yield Path(tmp) / "backup.dump"
