"""Backups with PostgreSQL's own pg_dump (custom format).

A backup is written to `<file>.partial`, proven readable with `pg_restore --list`, hashed, then
renamed into place with a `<file>.json` sidecar (version, size, sha256), so a file without
`.partial` is always a complete archive. Restores are in engine/restore.py, the archive checks
both share in engine/archive.py.

Backups are private: files 0600, directories the engine creates 0700, whatever the umask.
`--keep` prunes only this database's own backups (our name pattern with a sidecar naming the
database) and its stale `.partial` files, never other files in the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dbmigrator.engine.archive import digest, display_path, sidecar_path, verify_backup
from dbmigrator.engine.database import Dsn
from dbmigrator.engine.errors import BackupError
from dbmigrator.engine.pgtools import client_dbname, find_tool, run_tool
from dbmigrator.engine.results import BackupInfo

_SUFFIX = ".dump"
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")
FILE_MODE = 0o600
DIR_MODE = 0o700
# A `.partial` not written to for this long belongs to a run that died: --keep removes it.
STALE_PARTIAL_SECONDS = 3600


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
        run_tool(cmd, dsn, "pg_dump")
        entries = verify_backup(partial, major)
        sha256, size = digest(partial)
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


@contextlib.contextmanager
def scratch_file(directory: Path | None = None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dbmigrator-", dir=directory) as tmp:
        yield Path(tmp) / "backup.dump"
