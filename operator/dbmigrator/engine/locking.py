"""The per-database migration lock: a session advisory lock that a second runner waits for.

The lock is held by the engine's own session for the whole run, so it is released by
PostgreSQL itself if the runner dies. A runner that cannot get it within `wait_seconds` fails
naming who holds it (pid, application name, since when).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from dbmigrator.engine import interrupt
from dbmigrator.engine.errors import LockTimeout

# Two-key advisory lock, visible in pg_locks as classid/objid: "dbmi" / "grat".
LOCK_CLASS = 0x64626D69
LOCK_OBJECT = 0x67726174


def holder(conn: psycopg.Connection[Any]) -> str:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.pid, a.application_name, a.usename, a.client_addr::text, "
            "to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.granted "
            # Advisory locks are per database: a runner of another database is not our holder.
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_CLASS, LOCK_OBJECT],
        )
        row = cur.fetchone()
    if not row:
        return "an unknown session (it may have just finished)"
    pid, app, user, addr, since = row
    return f"pid {pid} ({app or 'no application name'}, user {user}, from {addr or 'local socket'}, since {since})"


@contextmanager
def migration_lock(
    conn: psycopg.Connection[Any],
    wait_seconds: float,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])
            row = cur.fetchone()
        if row and row[0]:
            break
        interrupt.check("while waiting for the migration lock")
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another migration runner holds the lock on this database: {holder(conn)}; "
                f"gave up after waiting {wait_seconds:g}s",
                hint="wait for it to finish, or raise --lock-wait",
            )
        if not announced and on_wait is not None:
            on_wait(f"waiting for the migration lock held by {holder(conn)}")
            announced = True
        time.sleep(0.2)
    try:
        yield
    finally:
        if not conn.closed:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])
