"""Reading migrations from a directory (a checkout, or a ConfigMap mounted as a volume).

The I/O edge in front of `files.build_migration_set`: turns file-system problems into
InputErrors that name the path. ConfigMap volumes hold `..data` links and timestamped hidden
directories; anything starting with a dot is skipped.
"""

from __future__ import annotations

from pathlib import Path

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.engine.checksfile import parse_checks
from dbmigrator.engine.errors import InputError
from dbmigrator.engine.files import MigrationSet, build_migration_set


def read_migration_dir(path: Path) -> MigrationSet:
    if not path.exists():
        raise InputError(f"migrations directory {path} does not exist", hint="pass --dir DIR")
    if not path.is_dir():
        raise InputError(f"{path} is not a directory", hint="pass --dir DIR")
    files: list[tuple[str, str]] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or not entry.name.endswith(".sql") or not entry.is_file():
            continue
        files.append((entry.name, _read_text(entry)))
    return build_migration_set(str(path), files)


def read_checks(path: Path | None, inline_json: str | None, directory: Path) -> ChecksConfig:
    """--checks FILE, else DBMIGRATOR_CHECKS_JSON, else DIR/checks.yaml, else no checks."""
    if path is not None:
        if not path.is_file():
            raise InputError(f"checks file {path} does not exist")
        return parse_checks(_read_text(path), str(path))
    if inline_json:
        return parse_checks(inline_json, "DBMIGRATOR_CHECKS_JSON")
    default = directory / "checks.yaml"
    if default.is_file():
        return parse_checks(_read_text(default), str(default))
    return ChecksConfig()


def _read_text(path: Path) -> str:
    """A file's UTF-8 text, or an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
