"""The tracking tables: Supabase's `schema_migrations` plus our history table beside it.

`supabase_migrations.schema_migrations` keeps the Supabase CLI's own layout (version text PK,
statements text[], name text) so `supabase migration list` agrees with us.
`supabase_migrations.dbmigrator_history` records what only we know: checksum, duration,
operation, who ran it, and failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from dbmigrator.engine.planning import AppliedRow

SCHEMA = "supabase_migrations"
TABLE = f"{SCHEMA}.schema_migrations"
HISTORY = f"{SCHEMA}.dbmigrator_history"
SNAPSHOTS = f"{SCHEMA}.dbmigrator_schema_snapshot"
"""Snapshots of the managed schemas after each run (engine/snapshot.py), for drift."""

_ENSURE = [
    "SELECT set_config('lock_timeout', '4s', true)",
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {TABLE} (version text NOT NULL PRIMARY KEY)",
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS statements text[]",
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS name text",
    f"""CREATE TABLE IF NOT EXISTS {HISTORY} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        version text NOT NULL,
        name text,
        checksum text,
        operation text NOT NULL,
        success boolean NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        duration_ms double precision,
        executed_by text NOT NULL DEFAULT current_user,
        runner text,
        error text
    )""",
    f"ALTER TABLE {HISTORY} ADD COLUMN IF NOT EXISTS note text",
    f"CREATE INDEX IF NOT EXISTS dbmigrator_history_version_idx ON {HISTORY} (version, id)",
    f"""CREATE TABLE IF NOT EXISTS {SNAPSHOTS} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        taken_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        version text,
        operation text NOT NULL,
        sha256 text NOT NULL,
        snapshot jsonb NOT NULL
    )""",
]


def ensure_tables(conn: psycopg.Connection[Any]) -> None:
    """Create the tracking tables if missing (call with the migration lock held)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attname = 'note' AND NOT attisdropped) AND to_regclass(%s) IS NOT NULL",
            [HISTORY, SNAPSHOTS],
        )
        row = cur.fetchone()
        if row and row[0]:
            return
    with conn.transaction(), conn.cursor() as cur:
        for statement in _ENSURE:
            cur.execute(statement.encode())


def read_applied(conn: psycopg.Connection[Any]) -> dict[str, AppliedRow]:
    """Applied versions, each with where its row came from (our latest successful history event
    for the version, if any): ours carry the checksum we recorded; rows without history (the
    Supabase CLI's) carry their `statements` for comparison with the file; rows re-added after
    our own down or repair-reverted carry that event, and are never trusted."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT to_regclass('{TABLE}') IS NOT NULL, to_regclass('{HISTORY}') IS NOT NULL"
        )
        row = cur.fetchone()
        if not row or not row[0]:
            return {}
        if row[1]:
            cur.execute(
                f"""SELECT m.version, m.name, h.checksum, h.operation, h.finished_at,
                       CASE WHEN h.operation IS NULL THEN m.statements END
                FROM {TABLE} m
                LEFT JOIN LATERAL (
                    SELECT checksum, operation, finished_at FROM {HISTORY} h
                    WHERE h.version = m.version AND h.success
                      AND h.operation IN ('up', 'repair-applied', 'down', 'repair-reverted')
                    ORDER BY h.id DESC LIMIT 1) h ON true""".encode()
            )
        else:
            cur.execute(f"SELECT version, name, NULL, NULL, NULL, statements FROM {TABLE}".encode())
        return {
            str(v): _applied_row(str(v), n, c, op, at, st)
            for v, n, c, op, at, st in cur.fetchall()
            if str(v).isdigit()
        }


def _applied_row(
    version: str,
    name: str | None,
    checksum: str | None,
    operation: str | None,
    at: datetime | None,
    statements: list[str] | None,
) -> AppliedRow:
    if operation is None:
        return AppliedRow(
            version, name, None, "external", tuple(statements) if statements is not None else None
        )
    if operation in ("down", "repair-reverted"):
        when = at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "an unknown time"
        return AppliedRow(version, name, None, "readded", removed_by=f"{operation} at {when}")
    return AppliedRow(version, name, checksum)


Query = tuple[str, list[Any]]
"""A statement and its parameters: executed as is, or rendered into a batch (engine/batch.py)."""


def applied_insert(version: str, name: str, statements: Sequence[str]) -> Query:
    return (
        f"INSERT INTO {TABLE} (version, name, statements) VALUES (%s, %s, %s::text[]) "
        "ON CONFLICT (version) DO UPDATE SET name = excluded.name, statements = excluded.statements",
        [version, name, text_array(statements)],
    )


def text_array(items: Sequence[str]) -> str:
    """PostgreSQL's text form of a text[] (every element quoted, so none reads as NULL): the
    driver's list adapter takes about a second for a file of 90,000 statements, this a quarter."""
    quoted = (item.replace("\\", "\\\\").replace('"', '\\"') for item in items)
    return "{" + ",".join(f'"{item}"' for item in quoted) + "}"


def applied_delete(version: str) -> Query:
    return f"DELETE FROM {TABLE} WHERE version = %s", [version]


def history_insert(
    *,
    version: str,
    name: str,
    checksum: str | None,
    operation: str,
    success: bool,
    started_at: datetime,
    duration_ms: float,
    runner: str,
    error: str | None = None,
    note: str | None = None,
) -> Query:
    """A history row. `duration_ms` is the time until the statement was sent; the server adds
    the time from its message's arrival to the row (the rest of a batch that carries the row;
    next to nothing for a row sent alone), so a batched file's duration includes its run."""
    return (
        f"INSERT INTO {HISTORY} (version, name, checksum, operation, success, started_at, "
        "duration_ms, runner, error, note) VALUES (%s, %s, %s, %s, %s, %s, "
        "%s::float8 + extract(epoch FROM clock_timestamp() - statement_timestamp())::float8 * 1000, "
        "%s, %s, %s)",
        [version, name, checksum, operation, success, started_at, duration_ms, runner, error,
         note],
    )  # fmt: skip


def read_history(conn: psycopg.Connection[Any], limit: int = 20) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT to_regclass('{HISTORY}') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return []
        cur.execute(
            f"SELECT version, name, operation, success, finished_at, duration_ms, executed_by, "
            f"runner, error, note FROM {HISTORY} ORDER BY id DESC LIMIT %s",
            [limit],
        )
        columns = [d.name for d in cur.description or []]
        return [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
