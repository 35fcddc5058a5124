"""Migration files: names, versions, up/down pairing and checksums. Pure: works on (name, text) pairs.

Names follow the Supabase CLI: `^([0-9]+)_(.*)\\.sql$`, version = the digits, name = the rest.
Our down files are `NNN_name.down.sql` beside their up file. Versions are compared as integers;
mixing digit widths in one set is refused because the Supabase CLI compares versions as text and
would order such a set differently.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbmigrator.engine.errors import InputError

UP_RE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.+)\.sql$")
DOWN_RE = re.compile(r"^(?P<version>[0-9]+)_(?P<name>.+)\.down\.sql$")
# Versions meaning "before the first migration" for `down --target`.
ZERO_RE = re.compile(r"^0+$")


@dataclass(frozen=True)
class SqlFile:
    """One file's name (as shown to people) and text."""

    name: str
    text: str

    @functools.cached_property
    def checksum(self) -> str:
        """Once per file: a run asks for it several times (tracking, history, result, plan)."""
        return "sha256:" + hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    up: SqlFile
    down: SqlFile | None

    @property
    def key(self) -> int:
        return int(self.version)

    @property
    def checksum(self) -> str:
        return self.up.checksum

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"


@dataclass(frozen=True)
class MigrationSet:
    """The migrations of one directory or ConfigMap, ordered by version."""

    source: str
    migrations: tuple[Migration, ...]

    def __iter__(self) -> Iterator[Migration]:
        return iter(self.migrations)

    def __len__(self) -> int:
        return len(self.migrations)

    @property
    def versions(self) -> list[str]:
        return [m.version for m in self.migrations]

    def get(self, version: str) -> Migration | None:
        key = int(version)
        return next((m for m in self.migrations if m.key == key), None)

    @property
    def latest(self) -> Migration | None:
        return self.migrations[-1] if self.migrations else None

    def resolve(self, version: str, *, allow_zero: bool = False, what: str = "target") -> int:
        """The integer key of a user-given version, or an InputError naming what exists."""
        if not version.isdigit():
            raise InputError(
                f"{what} version {version!r} is not a number (expected digits like 005)"
            )
        if allow_zero and ZERO_RE.match(version):
            return 0
        if self.get(version) is None:
            have = (
                f"{self.migrations[0].version}..{self.migrations[-1].version}"
                if self.migrations
                else "none"
            )
            raise InputError(
                f"{what} version {version} is not a migration in {self.source} (have {have})"
            )
        return int(version)


def build_migration_set(source: str, files: Sequence[tuple[str, str]]) -> MigrationSet:
    """Pair up and down files and check the set; raises InputError naming every bad file."""
    ups: dict[int, list[tuple[str, str, str]]] = {}
    downs: dict[int, list[tuple[str, str, str]]] = {}
    problems: list[str] = []
    for filename, text in sorted(files):
        if filename.startswith(".") or not filename.endswith(".sql"):
            continue  # README.md, checks.yaml, ConfigMap's ..data links
        down = DOWN_RE.match(filename)
        up = UP_RE.match(filename)
        if down:
            downs.setdefault(int(down["version"]), []).append((down["version"], down["name"], text))
        elif up:
            ups.setdefault(int(up["version"]), []).append((up["version"], up["name"], text))
        else:
            problems.append(
                f"{filename}: not a migration file name (expected NNN_name.sql or NNN_name.down.sql)"
            )

    widths = {len(v[0][0]) for v in ups.values()}
    if len(widths) > 1:
        by_width = sorted({(len(v[0][0]), v[0][0]) for v in ups.values()})
        examples = ", ".join(f"{w} digits ({ver})" for w, ver in _first_per_width(by_width))
        problems.append(
            f"{source}: versions mix digit widths: {examples}; the Supabase CLI orders versions "
            "as text, so use one width (rename with leading zeros or timestamps)"
        )
    migrations: list[Migration] = []
    for key in sorted(set(ups) | set(downs)):
        up_entries = ups.get(key, [])
        down_entries = downs.get(key, [])
        if len(up_entries) > 1:
            names = " and ".join(_names(up_entries, ".sql"))
            problems.append(f"{source}: duplicate version {up_entries[0][0]}: {names}")
            continue
        if len(down_entries) > 1:
            names = " and ".join(_names(down_entries, ".down.sql"))
            problems.append(f"{source}: duplicate down version {down_entries[0][0]}: {names}")
            continue
        if not up_entries:
            version, name, _ = down_entries[0]
            problems.append(
                f"{version}_{name}.down.sql: down file without an up file {version}_*.sql"
            )
            continue
        version, name, text = up_entries[0]
        down_file = None
        if down_entries:
            d_version, d_name, d_text = down_entries[0]
            if d_name != name:
                problems.append(
                    f"{d_version}_{d_name}.down.sql: name does not match its up file "
                    f"{version}_{name}.sql (expected {version}_{name}.down.sql)"
                )
                continue
            down_file = SqlFile(f"{d_version}_{d_name}.down.sql", d_text)
        migrations.append(
            Migration(version, name, SqlFile(f"{version}_{name}.sql", text), down_file)
        )
    if problems:
        raise InputError("; ".join(problems))
    return MigrationSet(source, tuple(migrations))


def _names(entries: list[tuple[str, str, str]], suffix: str) -> list[str]:
    return [f"{v}_{n}{suffix}" for v, n, _ in entries]


def _first_per_width(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}
    for width, version in pairs:
        seen.setdefault(width, version)
    return sorted(seen.items())
