"""A real PostgreSQL for the engine tests: one server per major and session, one fresh database
per test. Every engine test runs on PostgreSQL 15 (Debian's) and 17 (hack/fetch-pg.sh's
download), Supabase's two current majors; DBMIGRATOR_TEST_PG_MAJORS=15 narrows it for a quick run.
The client tools (pg_dump, pg_restore, psql) of the server's major or newer are found by the
engine itself: Debian's 15, or the fetched 18 for a 17 server (DBMIGRATOR_PG_BINDIRS)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from localpg import LocalPostgres, fetched_bindirs, server_bindir

MAJORS = [int(m) for m in os.environ.get("DBMIGRATOR_TEST_PG_MAJORS", "15,17").split(",") if m]


@pytest.fixture(scope="session", autouse=True)
def _client_tools() -> None:
    """The engine finds pg_dump >= the server's major among these (Debian's first)."""
    if any(m != 15 for m in MAJORS):
        client = str(fetched_bindirs()[1])
        known = os.environ.get("DBMIGRATOR_PG_BINDIRS", "")
        os.environ["DBMIGRATOR_PG_BINDIRS"] = f"{known}:{client}" if known else client


@pytest.fixture(scope="session", params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def pg_server(request: pytest.FixtureRequest) -> Iterator[LocalPostgres]:
    server = LocalPostgres(bindir=server_bindir(request.param)).start()
    try:
        assert server.major == request.param
        yield server
    finally:
        server.stop()


@contextmanager
def _fresh_database(server: LocalPostgres, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield server.dsn(name)
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def dsn(pg_server: LocalPostgres) -> Iterator[str]:
    """A fresh, empty database; dropped after the test."""
    with _fresh_database(pg_server, "t") as url:
        yield url


@pytest.fixture
def other_dsn(pg_server: LocalPostgres) -> Iterator[str]:
    """A second fresh database on the same server, for what crosses databases."""
    with _fresh_database(pg_server, "o") as url:
        yield url
