"""A backup archive as a file: its `.json` sidecar, its digest, its table of contents, and where
it may be read from. Before a restore touches the database, the archive's sha256 must match its
sidecar and the expected hash (the operator passes the one it recorded), and the path must lie
under the backup root.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbmigrator.engine.errors import BackupError, InputError
from dbmigrator.engine.pgtools import find_tool

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TocEntry:
    kind: str
    schema: str
    name: str


def sidecar_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".json")


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
        actual, size = digest(path)
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


def digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
