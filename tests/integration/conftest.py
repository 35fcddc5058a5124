"""A real PostgreSQL for the engine tests: one server per session, one fresh database per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from localpg import LocalPostgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    server = LocalPostgres().start()
    try:
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
