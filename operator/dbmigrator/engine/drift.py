"""Live-schema drift: a normalised snapshot of the managed schemas and the diff of two of them.

Pure: `build_snapshot` turns the catalog rows `snapshot.fetch_snapshot` reads into a stable
value (sorted, no OIDs, no owners, function bodies as sha256, index definitions without the
names that churn), `plan_drift` compares two snapshots object by object and says what changed in
words people read (`public.categories: column sneaky added`). A snapshot is stored as JSON
after every run that changed the schema; what differs from it later was done outside migrations.

Managed schemas are those the migration files create schema-level objects in, plus `public`;
the engine's own schema and the system ones never are. Exclude patterns (fnmatch on
`schema.object`, e.g. `public.tmp_*`, `audit.*`) drop objects from both sides of a comparison.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pglast loads only for the commands that parse SQL
    from dbmigrator.engine.sqlparse import DbObject

SNAPSHOT_FORMAT = 1
NEVER_MANAGED = frozenset({"pg_catalog", "information_schema", "pg_toast", "supabase_migrations"})
"""System schemas and the engine's own (its tracking and snapshot tables)."""
SCHEMA_LEVEL = frozenset(
    {"table", "view", "materialized view", "sequence", "function", "type", "schema"}
)
TOP_LEVEL = (
    "schema",
    "table",
    "foreign table",
    "view",
    "materialized view",
    "sequence",
    "type",
    "function",
    "procedure",
    "aggregate",
    "window function",
)
"""Kinds that are objects of their own (name ""); the others (column, constraint, index,
trigger, policy, grant) belong to one and are named within it."""
_ORDER = {kind: i for i, kind in enumerate((*TOP_LEVEL, "column", "constraint", "index",
                                            "trigger", "policy", "grant"))}  # fmt: skip

Key = tuple[str, str, str]
"""(object, kind, name): `("public.orders", "index", "orders_total_idx")`."""
Change = Literal["added", "dropped", "changed"]
DriftMode = Literal["fail", "warn", "ignore"]


@dataclass(frozen=True)
class Snapshot:
    schemas: tuple[str, ...]
    objects: Mapping[Key, Mapping[str, Any]]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(render_snapshot(self).encode()).hexdigest()


@dataclass(frozen=True)
class DriftChange:
    object: str
    kind: str
    name: str
    change: Change
    details: tuple[str, ...] = ()
    """For `changed`: which attributes differ (e.g. `using`, `type`, `body`)."""

    @property
    def message(self) -> str:
        what = f"{self.kind} {self.name}" if self.name else self.kind
        if self.change != "changed":
            return f"{self.object}: {what} {self.change}"
        if self.details == ("body",):
            return f"{self.object}: {what} body changed"
        return f"{self.object}: {what} changed ({', '.join(self.details)})"


@dataclass(frozen=True)
class Baseline:
    """The last recorded snapshot and where it came from."""

    version: str | None
    taken_at: str
    sha256: str
    snapshot: Snapshot

    @property
    def described(self) -> str:
        return f"the snapshot taken at {self.taken_at} (version {self.version or 'none'})"


@dataclass(frozen=True)
class DriftReport:
    baseline: Baseline | None
    changes: tuple[DriftChange, ...]

    @property
    def drifted(self) -> bool:
        return bool(self.changes)


# ---- managed schemas ------------------------------------------------------------------------
def plan_managed_schemas(created: Iterable[DbObject]) -> tuple[str, ...]:
    """`public` plus every schema the files create schema-level objects in (a policy or trigger
    on `auth.users` does not make `auth` ours), never the system schemas or the engine's."""
    schemas = {"public"}
    for obj in created:
        if obj.kind not in SCHEMA_LEVEL:
            continue
        schemas.add(obj.name if obj.kind == "schema" else obj.schema or "public")
    return tuple(sorted(s for s in schemas if s not in NEVER_MANAGED and not s.startswith("pg_")))


# ---- building and storing -----------------------------------------------------------------
_IDENT = r'(?:"(?:[^"]|"")*"|[^\s."]+)'
_INDEX_HEAD = re.compile(
    rf"^CREATE (UNIQUE )?INDEX {_IDENT} ON (?:ONLY )?{_IDENT}(?:\.{_IDENT})? (USING .*)$", re.S
)


def normalise_index(definition: str) -> str:
    """`CREATE UNIQUE INDEX x ON public.t USING btree (a)` -> `UNIQUE USING btree (a)`: the
    name is the key already, the table is the owner."""
    match = _INDEX_HEAD.match(definition)
    if match is None:
        return _squash(definition)
    return _squash(f"{match.group(1) or ''}{match.group(2)}")


def _squash(text: str) -> str:
    return " ".join(text.split())


def build_snapshot(schemas: Sequence[str], rows: Iterable[Sequence[Any]]) -> Snapshot:
    """Catalog rows `(object, kind, name, attrs)` -> a Snapshot: index definitions normalised,
    whitespace in definitions and policy expressions collapsed, function bodies hashed, lists sorted where their
    order carries no meaning. A later duplicate key wins (there are none in a sane catalog)."""
    objects: dict[Key, dict[str, Any]] = {}
    for obj, kind, name, attrs in rows:
        clean = {k: v for k, v in dict(attrs or {}).items() if v is not None}
        if kind == "index" and "definition" in clean:
            clean["definition"] = normalise_index(str(clean["definition"]))
        for key in ("definition", "using", "with check"):  # line breaks differ by version
            if isinstance(clean.get(key), str):
                clean[key] = _squash(clean[key])
        if "body" in clean:
            clean["body"] = hashlib.sha256(str(clean["body"]).encode()).hexdigest()
        for key in ("roles", "config", "constraints"):
            if isinstance(clean.get(key), list):
                clean[key] = sorted(str(v) for v in clean[key])
        objects[(str(obj), str(kind), str(name))] = clean
    return Snapshot(tuple(sorted(set(schemas))), dict(sorted(objects.items())))


def render_snapshot(snapshot: Snapshot) -> str:
    """The stored form: canonical JSON (sorted keys, no spaces), so its sha256 is stable."""
    data = {
        "format": SNAPSHOT_FORMAT,
        "schemas": list(snapshot.schemas),
        "objects": [[o, k, n, dict(a)] for (o, k, n), a in sorted(snapshot.objects.items())],
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def parse_snapshot(data: Any) -> Snapshot:
    """The stored JSON (text or already decoded) -> Snapshot; ValueError when it is not one."""
    if isinstance(data, str | bytes):
        data = json.loads(data)
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a schema snapshot of format {SNAPSHOT_FORMAT}")
    objects = {(str(o), str(k), str(n)): dict(a) for o, k, n, a in data.get("objects", [])}
    return Snapshot(tuple(str(s) for s in data.get("schemas", [])), objects)


# ---- excluding and diffing ----------------------------------------------------------------
def is_excluded(obj: str, patterns: Sequence[str]) -> bool:
    """fnmatch on `schema.object`; a function also matches without its arguments."""
    bare = obj.split("(", 1)[0]
    unquoted = bare.replace('"', "")
    return any(fnmatchcase(c, p) for p in patterns for c in {obj, bare, unquoted})


def without_excluded(snapshot: Snapshot, patterns: Sequence[str]) -> Snapshot:
    if not patterns:
        return snapshot
    kept = {k: v for k, v in snapshot.objects.items() if not is_excluded(k[0], patterns)}
    return Snapshot(snapshot.schemas, kept)


def plan_drift(old: Snapshot, new: Snapshot, exclude: Sequence[str] = ()) -> list[DriftChange]:
    """What changed from `old` to `new`, object by object. A table (function, view ...) added or
    dropped as a whole is one change, not one per column, index and grant."""
    before = without_excluded(old, exclude).objects
    after = without_excluded(new, exclude).objects
    whole: dict[str, Change] = {}
    changes: list[DriftChange] = []
    for key in sorted(before.keys() | after.keys(), key=_sort_key):
        obj, kind, name = key
        if key not in after:
            change: Change = "dropped"
        elif key not in before:
            change = "added"
        else:
            details = _changed_attrs(before[key], after[key])
            if details:
                changes.append(DriftChange(obj, kind, name, "changed", details))
            continue
        if not name and kind in TOP_LEVEL:
            whole[obj] = change
        elif whole.get(obj) == change:
            continue  # part of an object added or dropped as a whole
        changes.append(DriftChange(obj, kind, name, change))
    return changes


def _sort_key(key: Key) -> tuple[str, int, str]:
    return (key[0], _ORDER.get(key[1], len(_ORDER)), key[2])


def _changed_attrs(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))


def render_drift_lines(changes: Sequence[DriftChange], limit: int = 10) -> str:
    """The first `limit` messages and how many more, for an error message."""
    shown = "; ".join(c.message for c in changes[:limit])
    more = len(changes) - limit
    return f"{shown}; and {more} more" if more > 0 else shown
