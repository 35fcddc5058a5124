"""Whether the objects the applied files create exist, read from one pass over the catalog:
relations, valid indexes, functions, policies, triggers, schemas, publications and their
tables, extensions and types (unqualified names follow the search_path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from dbmigrator.engine.checkresult import CheckResult
from dbmigrator.engine.sqlobjects import DbObject


def check_objects(
    conn: psycopg.Connection[Any],
    expected: Sequence[DbObject],
    publications: Mapping[str, Sequence[str]],
    *,
    final: bool,
) -> list[CheckResult]:
    """One result per expected object, then per publication member the checks file declares."""
    catalog = _Catalog.read(conn)
    return [_check_object(catalog, obj) for obj in expected] + _check_declared_members(
        catalog, publications, final=final
    )


@dataclass
class _Catalog:
    """One read of the catalog: names of the objects that exist, for set lookups."""

    search_path: list[str]
    relations: set[tuple[str, str, str]]
    indexes: dict[tuple[str, str], bool]
    functions: set[tuple[str, str]]
    policies: set[tuple[str, str, str]]
    triggers: set[tuple[str, str, str]]
    schemas: set[str]
    publications: set[str]
    publication_tables: set[tuple[str, str, str]]
    extensions: set[str]
    types: set[tuple[str, str]]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any]) -> _Catalog:
        def rows(query: str) -> list[tuple[Any, ...]]:
            with conn.cursor() as cur:
                cur.execute(query.encode())
                return list(cur.fetchall())

        user_ns = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        return cls(
            search_path=[str(r[0]) for r in rows("SELECT unnest(current_schemas(true))")],
            relations={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns}")},
            indexes={(r[0], r[1]): bool(r[2]) for r in rows(
                "SELECT n.nspname, c.relname, i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns}")},
            functions={(r[0], r[1]) for r in rows(
                "SELECT n.nspname, p.proname FROM pg_proc p "
                f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_ns}")},
            policies={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, p.polname FROM pg_policy p "
                "JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace")},
            triggers={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT t.tgisinternal")},
            schemas={str(r[0]) for r in rows("SELECT nspname FROM pg_namespace")},
            publications={str(r[0]) for r in rows("SELECT pubname FROM pg_publication")},
            publication_tables={(r[0], r[1], r[2]) for r in rows(
                "SELECT pubname, schemaname, tablename FROM pg_publication_tables")},
            extensions={str(r[0]) for r in rows("SELECT extname FROM pg_extension")},
            types={(r[0], r[1]) for r in rows(
                "SELECT n.nspname, t.typname FROM pg_type t "
                f"JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {user_ns}")},
        )  # fmt: skip

    def candidates(self, schema: str | None) -> list[str]:
        return [schema] if schema else self.search_path


_RELKINDS = {"table": "rpf", "view": "v", "materialized view": "m", "sequence": "S"}


def _check_object(cat: _Catalog, obj: DbObject) -> CheckResult:
    found = False
    note = ""
    if obj.kind in _RELKINDS:
        kinds = _RELKINDS[obj.kind]
        found = any(
            (s, obj.name, k) in cat.relations for s in cat.candidates(obj.schema) for k in kinds
        )
    elif obj.kind == "index":
        schemas = cat.candidates(obj.schema or obj.table_schema)
        valid = [cat.indexes[(s, obj.name)] for s in schemas if (s, obj.name) in cat.indexes]
        found = bool(valid) and all(valid)
        if valid and not all(valid):
            note = "index exists but is INVALID (a failed concurrent build); drop and recreate it"
    elif obj.kind == "function":
        found = any((s, obj.name) in cat.functions for s in cat.candidates(obj.schema))
    elif obj.kind in ("policy", "trigger"):
        names = cat.policies if obj.kind == "policy" else cat.triggers
        found = any((s, obj.table, obj.name) in names for s in cat.candidates(obj.table_schema))
    elif obj.kind == "schema":
        found = obj.name in cat.schemas
    elif obj.kind == "publication":
        found = obj.name in cat.publications
    elif obj.kind == "publication member":
        found = any(
            (obj.name, s, obj.table) in cat.publication_tables
            for s in cat.candidates(obj.table_schema)
        )
        if not found and obj.name not in cat.publications:
            note = f"publication {obj.name} does not exist"
    elif obj.kind == "extension":
        found = obj.name in cat.extensions
    elif obj.kind == "type":
        found = any((s, obj.name) in cat.types for s in cat.candidates(obj.schema))
    return CheckResult(
        "object", obj.display, "pass" if found else "fail", "" if found else note or "missing"
    )


def _check_declared_members(
    cat: _Catalog, publications: Mapping[str, Sequence[str]], *, final: bool
) -> list[CheckResult]:
    """Publication members the checks file declares (what a DO block adds, which parsing
    cannot see). A table that does not exist yet is "not yet" until the last migration."""
    out = []
    for pub, tables in publications.items():
        for table in tables:
            schema, _, name = table.rpartition(".")
            obj = DbObject("publication member", pub, None, name, schema or None)
            exists = any((s, name, "r") in cat.relations or (s, name, "p") in cat.relations
                         for s in cat.candidates(schema or None))  # fmt: skip
            if not exists and not final:
                out.append(CheckResult("object", obj.display, "skip", "not yet: no such table"))
                continue
            out.append(_check_object(cat, obj))
    return out
