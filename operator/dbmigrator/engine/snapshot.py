"""Reading the live schema for drift, and storing its snapshots next to the tracking tables.

`fetch_snapshot` reads every object of the managed schemas in one catalog query (with
`search_path` set to `pg_catalog` for the transaction, so every name in a definition is
schema-qualified the same way whoever runs it); `drift.build_snapshot` normalises the rows.
Objects that belong to extensions are left out: the extension is their source of truth.
Snapshots live in `supabase_migrations.dbmigrator_schema_snapshot`, the newest `KEEP` kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dbmigrator.engine.drift import (
    Baseline,
    Snapshot,
    build_snapshot,
    parse_snapshot,
    render_snapshot,
)
from dbmigrator.engine.tracking import SNAPSHOTS

KEEP = 10

_NOT_EXTENSION = """NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '{cls}'::regclass
    AND d.objid = {oid} AND d.deptype = 'e')"""
_SQL_BODY = "CASE WHEN prosqlbody IS NULL THEN prosrc ELSE pg_get_function_sqlbody(oid) END"
_GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END"

# One row per object: (object, kind, name, attrs). Names are quoted as PostgreSQL quotes them.
_QUERY = f"""
WITH ns AS (
    SELECT oid, nspname, nspacl, nspowner FROM pg_namespace WHERE nspname = ANY(%(schemas)s)
), rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
           c.relpersistence, c.relacl, c.relowner, format('%%I.%%I', n.nspname, c.relname) AS obj
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND {_NOT_EXTENSION.format(cls="pg_class", oid="c.oid")}
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'i')
), fn AS (
    SELECT p.*, format('%%I.%%I(%%s)', n.nspname, p.proname,
                       pg_get_function_identity_arguments(p.oid)) AS obj
    FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE {_NOT_EXTENSION.format(cls="pg_proc", oid="p.oid")}
), typ AS (
    SELECT t.*, format('%%I.%%I', n.nspname, t.typname) AS obj
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'c')
      AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
      AND {_NOT_EXTENSION.format(cls="pg_type", oid="t.oid")}
)
SELECT nspname, 'schema', '', '{{}}'::jsonb FROM ns
UNION ALL
SELECT n.nspname, 'grant', a.privilege_type || ' to ' || {_GRANTEE},
       jsonb_build_object('grantable', a.is_grantable)
FROM ns n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE a.grantee <> n.nspowner
UNION ALL
SELECT obj, CASE relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                         WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END, '',
       CASE WHEN relkind IN ('v', 'm') THEN jsonb_build_object('definition', pg_get_viewdef(oid, true))
            WHEN relkind = 'S' THEN (SELECT jsonb_build_object(
                'type', format_type(s.seqtypid, NULL), 'start', s.seqstart::text,
                'increment', s.seqincrement::text, 'min', s.seqmin::text, 'max', s.seqmax::text,
                'cache', s.seqcache::text, 'cycle', s.seqcycle) FROM pg_sequence s WHERE s.seqrelid = rel.oid)
            ELSE jsonb_build_object('row level security', relrowsecurity,
                'force row level security', relforcerowsecurity, 'partitioned', relkind = 'p',
                'unlogged', relpersistence = 'u') END
FROM rel
UNION ALL
SELECT rel.obj, 'column', quote_ident(a.attname), jsonb_build_object(
        'type', format_type(a.atttypid, a.atttypmod), 'not null', a.attnotnull,
        'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
        'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
        'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
        'collation', CASE WHEN a.attcollation <> t.typcollation
                          THEN (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) END)
FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE rel.relkind IN ('r', 'p', 'f')
UNION ALL
SELECT rel.obj, 'constraint', quote_ident(c.conname),
       jsonb_build_object('definition', pg_get_constraintdef(c.oid, true))
FROM rel JOIN pg_constraint c ON c.conrelid = rel.oid AND c.contype IN ('c', 'f', 'p', 'u', 'x')
UNION ALL
SELECT rel.obj, 'index', quote_ident(ic.relname), jsonb_build_object('definition', pg_get_indexdef(i.indexrelid))
FROM rel JOIN pg_index i ON i.indrelid = rel.oid JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid
                  AND c.conrelid = rel.oid AND c.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT rel.obj, 'trigger', quote_ident(tg.tgname), jsonb_build_object(
        'definition', pg_get_triggerdef(tg.oid),
        'enabled', CASE tg.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled'
                                     WHEN 'R' THEN 'replica' ELSE 'always' END)
FROM rel JOIN pg_trigger tg ON tg.tgrelid = rel.oid AND NOT tg.tgisinternal
UNION ALL
SELECT rel.obj, 'policy', quote_ident(p.polname), jsonb_build_object(
        'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                 WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
        'permissive', p.polpermissive,
        'roles', (SELECT jsonb_agg(CASE WHEN r = 0 THEN 'public' ELSE
                  (SELECT quote_ident(rolname) FROM pg_roles WHERE oid = r) END) FROM unnest(p.polroles) r),
        'using', pg_get_expr(p.polqual, p.polrelid),
        'with check', pg_get_expr(p.polwithcheck, p.polrelid))
FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
UNION ALL
SELECT rel.obj, 'grant', a.privilege_type || ' to ' || {_GRANTEE},
       jsonb_build_object('grantable', a.is_grantable)
FROM rel, aclexplode(coalesce(rel.relacl, acldefault(CASE WHEN rel.relkind = 'S' THEN 's'::"char"
                                                     ELSE 'r'::"char" END, rel.relowner))) a
LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE a.grantee <> rel.relowner
UNION ALL
SELECT rel.obj, 'grant', a.privilege_type || ' (' || quote_ident(att.attname) || ') to ' || {_GRANTEE},
       jsonb_build_object('grantable', a.is_grantable)
FROM rel JOIN pg_attribute att ON att.attrelid = rel.oid AND att.attacl IS NOT NULL
     AND NOT att.attisdropped, aclexplode(att.attacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE a.grantee <> rel.relowner
UNION ALL
SELECT obj, CASE prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                         WHEN 'w' THEN 'window function' ELSE 'function' END, '',
       jsonb_build_object(
        'returns', pg_get_function_result(oid),
        'language', (SELECT lanname FROM pg_language WHERE oid = prolang),
        'security definer', prosecdef, 'strict', proisstrict,
        'volatility', CASE provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
        'config', to_jsonb(proconfig),
        'body', {{body}})
FROM fn
UNION ALL
SELECT fn.obj, 'grant', a.privilege_type || ' to ' || {_GRANTEE},
       jsonb_build_object('grantable', a.is_grantable)
FROM fn, aclexplode(coalesce(fn.proacl, acldefault('f', fn.proowner))) a
LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE a.grantee <> fn.proowner
UNION ALL
SELECT obj, 'type', '', CASE typtype
    WHEN 'e' THEN jsonb_build_object('labels', (SELECT jsonb_agg(enumlabel ORDER BY enumsortorder)
                                                FROM pg_enum WHERE enumtypid = typ.oid))
    WHEN 'd' THEN jsonb_build_object('domain', format_type(typbasetype, typtypmod),
        'not null', typnotnull, 'default', typdefault,
        'constraints', (SELECT jsonb_agg(conname || ' ' || pg_get_constraintdef(c.oid, true))
                        FROM pg_constraint c WHERE c.contypid = typ.oid))
    ELSE jsonb_build_object('attributes', (SELECT jsonb_agg(quote_ident(attname) || ' '
            || format_type(atttypid, atttypmod) ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = typ.typrelid AND attnum > 0 AND NOT attisdropped)) END
FROM typ
"""


def fetch_snapshot(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> Snapshot:
    """The managed schemas as they are now (one catalog query, in its own transaction)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        # SQL-standard bodies (BEGIN ATOMIC) exist from PostgreSQL 14 on; prosrc before.
        body = "prosrc" if conn.info.server_version < 140000 else _SQL_BODY
        cur.execute(_QUERY.replace("{body}", body).encode(), {"schemas": list(schemas)})
        rows = cur.fetchall()
    return build_snapshot(schemas, rows)


def read_baseline(conn: psycopg.Connection[Any]) -> Baseline | None:
    """The newest recorded snapshot, or None (never recorded, or an older engine's database)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT to_regclass('{SNAPSHOTS}') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return None
        cur.execute(
            f"SELECT version, taken_at, sha256, snapshot FROM {SNAPSHOTS} ORDER BY id DESC LIMIT 1"
        )
        row = cur.fetchone()
    if row is None:
        return None
    version, taken_at, sha256, data = row
    try:
        snapshot = parse_snapshot(data)
    except (ValueError, TypeError):
        return None  # a format this engine does not read: as if there were none
    return Baseline(version, _iso(taken_at), str(sha256), snapshot)


def record_snapshot(
    conn: psycopg.Connection[Any], snapshot: Snapshot, version: str | None, operation: str
) -> Baseline:
    """Store `snapshot` as the new baseline and keep the newest KEEP (tables must exist)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {SNAPSHOTS} (version, operation, sha256, snapshot) "
            "VALUES (%s, %s, %s, %s) RETURNING taken_at",
            [version, operation, snapshot.sha256, Jsonb(render_snapshot(snapshot), dumps=str)],
        )
        row = cur.fetchone()
        cur.execute(
            f"DELETE FROM {SNAPSHOTS} WHERE id NOT IN "
            f"(SELECT id FROM {SNAPSHOTS} ORDER BY id DESC LIMIT %s)",
            [KEEP],
        )
    return Baseline(version, _iso(row[0] if row else None), snapshot.sha256, snapshot)


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else ""
