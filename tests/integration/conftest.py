"""A real PostgreSQL for the engine tests: one server per session, one fresh database per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

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


@pytest.fixture
def dsn(pg_server: LocalPostgres) -> Iterator[str]:
    """A fresh, empty database; dropped after the test."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield pg_server.dsn(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
