"""Reads of the server's catalog that the pure preflight compares the files with."""

from __future__ import annotations

from typing import Any

import psycopg

from dbmigrator.engine.preflight import ServerFacts


def read_server_facts(conn: psycopg.Connection[Any]) -> ServerFacts:
    with conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_catalog.pg_namespace")
        schemas = frozenset(str(r[0]) for r in cur.fetchall())
        cur.execute("SELECT name FROM pg_catalog.pg_available_extensions")
        extensions = frozenset(str(r[0]) for r in cur.fetchall())
    return ServerFacts(schemas, extensions)
