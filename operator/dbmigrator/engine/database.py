"""The PostgreSQL edge: connecting, redacting DSNs, and turning driver errors into engine errors.

psycopg exceptions never travel past this module's callers: `connect` raises
DatabaseUnavailable/InputError, `describe_error` builds the structured facts of a failed
statement. Passwords are removed from every message built here.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import conninfo

from dbmigrator.engine.errors import DatabaseUnavailable, InputError

_PASSWORD_IN_URI = re.compile(
    r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<post>@)", re.I
)
_PASSWORD_KV = re.compile(r"(?P<pre>password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I)

# SQLSTATE classes that mean "the world", not "your SQL".
_UNAVAILABLE_CLASSES = ("08", "57P0", "53")
_AUTH_STATES = ("28P01", "28000")


@dataclass(frozen=True)
class Dsn:
    """A connection string kept away from logs: `str()` and `repr()` show it redacted."""

    value: str

    def __str__(self) -> str:
        return redact(self.value)

    def __repr__(self) -> str:
        return f"Dsn({redact(self.value)!r})"

    @property
    def params(self) -> dict[str, Any]:
        try:
            return conninfo.conninfo_to_dict(self.value)
        except psycopg.ProgrammingError as exc:
            raise InputError(f"invalid database URL: {redact(str(exc))}") from None

    @property
    def dbname(self) -> str:
        return str(self.params.get("dbname") or self.params.get("user") or "postgres")

    def with_dbname(self, dbname: str) -> Dsn:
        params = self.params
        params["dbname"] = dbname
        return Dsn(conninfo.make_conninfo("", **params))

    def without_password(self) -> tuple[str, str | None]:
        """(conninfo without the password, the password) for client tools: the password goes
        into PGPASSWORD, never onto a command line."""
        params = self.params
        password = params.pop("password", None)
        return conninfo.make_conninfo("", **params), (
            str(password) if password is not None else None
        )


def redact(text: str) -> str:
    text = _PASSWORD_IN_URI.sub(lambda m: f"{m['pre']}***{m['post']}", text)
    return _PASSWORD_KV.sub(lambda m: f"{m['pre']}***", text)


def scrub(text: str, dsn: Dsn | None) -> str:
    """Redact, and also remove the literal password wherever a message echoed it."""
    text = redact(text)
    if dsn is not None:
        password = dsn.params.get("password")
        if password:
            text = text.replace(str(password), "***")
    return text


def resolve_dsn(value: str | None) -> Dsn:
    value = value or os.environ.get("DATABASE_URL")
    if not value:
        raise InputError(
            "no database given: pass --database-url postgresql://USER:PASSWORD@HOST:PORT/DB "
            "or set DATABASE_URL"
        )
    dsn = Dsn(value)
    _ = dsn.params  # validates syntax
    return dsn


def application_name(command: str) -> str:
    override = os.environ.get("DBMIGRATOR_APPLICATION_NAME")
    base = override or "dbmigrator"
    return f"{base} {command} ({socket.gethostname()}:{os.getpid()})"[:63]


def connect(dsn: Dsn, command: str, *, connect_timeout: int = 10) -> psycopg.Connection[Any]:
    """An autocommit connection (transactions are explicit) or DatabaseUnavailable."""
    try:
        return psycopg.connect(
            dsn.value,
            autocommit=True,
            application_name=application_name(command),
            connect_timeout=connect_timeout,
        )
    except psycopg.OperationalError as exc:
        message = scrub(connection_failure(str(exc)) or repr(exc), dsn)
        target = _describe_target(dsn)
        if "password authentication failed" in message or "authentication" in message.lower():
            raise DatabaseUnavailable(
                f"cannot log in to {target}: {message}",
                hint="check the user and password in the database URL",
            ) from None
        raise DatabaseUnavailable(
            f"cannot connect to {target}: {message}",
            hint="is the server running and reachable from here?",
        ) from None
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {_describe_target(dsn)}: {scrub(str(exc), dsn)}"
        ) from None


def connection_failure(text: str) -> str:
    """libpq's multi-line connection error, reduced to the lines that say why.

    libpq writes `connection to server at "h" (addr), port p failed: <cause>` per address tried,
    then hints such as `\tIs the server running on that host and accepting TCP/IP connections?`.
    Keep each distinct cause and the hint, on one line, without the tab.
    """
    causes: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        _, sep, cause = line.rpartition(" failed: ")
        item = cause.strip() if sep else line
        if item and item not in causes:
            causes.append(item)
    return "; ".join(causes)


def _describe_target(dsn: Dsn) -> str:
    p = dsn.params
    host = p.get("host") or "localhost"
    return f"database {p.get('dbname', '?')!r} at {host}:{p.get('port', 5432)} as {p.get('user', '?')!r}"


@dataclass(frozen=True)
class StatementFailure:
    sqlstate: str | None
    message: str
    hint: str | None
    detail: str | None
    position: int | None
    context: str | None

    @property
    def unavailable(self) -> bool:
        state = self.sqlstate or ""
        return state.startswith(_UNAVAILABLE_CLASSES) or state in _AUTH_STATES


def describe_error(exc: psycopg.Error) -> StatementFailure:
    diag = exc.diag
    position = diag.statement_position
    return StatementFailure(
        sqlstate=exc.sqlstate,
        message=(diag.message_primary or str(exc)).strip(),
        hint=diag.message_hint,
        detail=diag.message_detail,
        position=int(position) if position else None,
        context=diag.context,
    )


def is_retryable(failure: StatementFailure) -> bool:
    """lock_timeout (55P03), deadlock (40P01), serialization (40001): worth another attempt."""
    return failure.sqlstate in ("55P03", "40P01", "40001")
