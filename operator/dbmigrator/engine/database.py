"""The PostgreSQL edge: connecting, redacting DSNs, and turning driver errors into engine errors.

psycopg exceptions never travel past this module's callers: `connect` raises
DatabaseUnavailable/InputError, `describe_error` builds the structured facts of a failed
statement. Passwords are removed from every message built here.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg import conninfo

from dbmigrator.engine.errors import DatabaseUnavailable, InputError

# The password of a URI: up to the first '@' on the line, blanks included (a malformed password
# may have them; over-redacting is the safe direction).
_PASSWORD_IN_URI = re.compile(
    r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\n]{0,256}?)(?P<post>@)", re.I
)
_PASSWORD_KV = re.compile(r"(?P<pre>password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I)
# A `password=` value of a key=value string read generously: up to the end (`a b=c` may be one
# password or two settings), later split at blanks.
_PASSWORD_KV_GENEROUS = re.compile(r"password\s*=\s*(?P<pw>.*)", re.I | re.S)
_URI_SCHEME = re.compile(r"postgres(?:ql)?://", re.I)
_URL_HINT = (
    "percent-encode the special characters of the user name and password, e.g. with "
    "Python's urllib.parse.quote(password, safe='')"
)
_LIBPQ_PARSE_ERRORS = (
    ("unexpected spaces", "a space must be percent-encoded as %20"),
    ("percent-encoded", "a '%' must start a %XX escape (write '%' itself as %25)"),
    ("ipv6", "an IPv6 host address must be written in [brackets]"),
    ("invalid connection option", "an unknown connection option"),
    ("query parameter", "a query parameter is not key=value (parameters are joined by '&')"),
    ("unexpected character", "an unexpected character after the host (expected ':' or '/')"),
    ("unterminated quoted string", "an unterminated quoted value"),
    ('missing "="', "expected key=value settings separated by spaces"),
)
# Candidates shorter than this are not scrubbed from messages: that would shred every word.
MIN_SCRUBBED_LENGTH = 4

# SQLSTATE classes that mean "the world", not "your SQL".
_UNAVAILABLE_CLASSES = ("08", "57P0", "53")
_AUTH_STATES = ("28P01", "28000")


@dataclass(frozen=True)
class Dsn:
    """A connection string kept away from logs: `str()` and `repr()` show it redacted.

    Build it with `resolve_dsn`, which checks the syntax (`parse_conninfo`) without ever echoing
    the string: libpq's own parse errors quote the offending token, which may be the password.
    """

    value: str

    def __str__(self) -> str:
        return scrub(self.value, self)

    def __repr__(self) -> str:
        return f"Dsn({scrub(self.value, self)!r})"

    @property
    def params(self) -> dict[str, Any]:
        return parse_conninfo(self.value)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string that is or may be the password (longest first), for `scrub`."""
        found = set(secret_candidates(self.value))
        try:
            password = self.params.get("password")
        except InputError:
            password = None
        if password:
            found.add(str(password))
        return tuple(sorted(found, key=len, reverse=True))

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
    """Hide the password of anything shaped like a URI or a `password=` setting."""
    text = _PASSWORD_IN_URI.sub(lambda m: f"{m['pre']}***{m['post']}", text)
    return _PASSWORD_KV.sub(lambda m: f"{m['pre']}***", text)


def scrub(text: str, dsn: Dsn | None, extra: Iterable[str] = ()) -> str:
    """Redact, and also remove every string that may be the password (of `dsn`, or `extra`
    candidates such as those of a URL that did not parse) wherever a message echoed it."""
    secrets = set(extra)
    if dsn is not None:
        secrets.update(dsn.secrets)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SCRUBBED_LENGTH:
            text = text.replace(secret, "***")
    return redact(text)


def secret_candidates(value: str) -> tuple[str, ...]:
    """Substrings of a connection string (URI or key=value, well-formed or not) that may be the
    password, generously: libpq's reading, the reading up to the last `@`, query `password=`
    values, and the percent-decoded form of each. Pure; never raises."""
    found: list[str] = []
    scheme = _URI_SCHEME.match(value)
    if scheme:
        rest = value[scheme.end() :]
        ends = [i for i in (_libpq_userinfo_end(rest), rest.rfind("@")) if i is not None and i >= 0]
        for end in ends:
            user_password = rest[:end]
            if ":" in user_password:
                found.append(user_password.split(":", 1)[1])
        _, _, query = rest.partition("?")
        for pair in query.split("&"):
            key, sep, val = pair.partition("=")
            if sep and key.strip().lower() == "password":
                found.append(val)
    else:
        for m in _PASSWORD_KV_GENEROUS.finditer(value):
            raw = m["pw"].strip()
            found += [raw, raw.strip("'"), *raw.split()]
        for m in _PASSWORD_KV.finditer(value):
            found += [m["pw"], m["pw"].strip("'").replace("\\'", "'").replace("\\\\", "\\")]
    found += [unquote(f, errors="replace") for f in found]
    found += [f.strip() for f in found]
    return tuple(sorted({f for f in found if f}, key=len, reverse=True))


def parse_conninfo(value: str) -> dict[str, Any]:
    """A URI or key=value connection string -> libpq's parameters, or an InputError that names
    the problem and the part at fault without repeating any of the string (it may hold the
    password)."""
    if _URI_SCHEME.match(value):
        problem = check_uri(value)
        if problem:
            raise InputError(f"invalid database URL: {problem}", hint=_URL_HINT)
    try:
        params = conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        raise InputError(
            f"invalid database URL: {describe_parse_error(str(exc))}", hint=_URL_HINT
        ) from None
    for port in str(params.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise InputError(
                "invalid database URL: the port is not a number between 1 and 65535",
                hint=_URL_HINT,
            )
    return params


def check_uri(value: str) -> str | None:
    """What is wrong with a postgresql:// URI that libpq would misread or quote back, in words
    that never repeat its text; None when it looks well-formed. Pure."""
    scheme = _URI_SCHEME.match(value)
    if scheme is None:
        return None
    rest = value[scheme.end() :]
    end = _libpq_userinfo_end(rest)
    if end is None and "@" in rest:
        return (
            "'@' after a '/': a user name or password containing '/' must be percent-encoded (%2F)"
        )
    if rest.count("@") > 1:
        return "more than one '@': write '@' inside a user name or password as %40"
    if end is not None:
        user, sep, password = rest[:end].partition(":")
        for part, what in ((user, "the user name"), (password if sep else "", "the password")):
            problem = _check_uri_component(part)
            if problem:
                return f"{what} {problem}"
    after = rest[end + 1 :] if end is not None else rest
    problem = _check_uri_component(after)
    if problem:
        return f"the host, database or options part {problem}"
    return None


def describe_parse_error(message: str) -> str:
    """libpq's parse error reduced to its kind: the quoted token it names may be the password."""
    lowered = message.lower()
    for needle, words in _LIBPQ_PARSE_ERRORS:
        if needle in lowered:
            return words
    return "libpq cannot parse it (its message is not shown: it may contain the password)"


def _libpq_userinfo_end(rest: str) -> int | None:
    """Where libpq ends `user:password` in a URI: the first '@' if no '/' comes before it."""
    for i, ch in enumerate(rest):
        if ch == "@":
            return i
        if ch == "/":
            return None
    return None


def _check_uri_component(text: str) -> str | None:
    if any(ch.isspace() for ch in text):
        return "contains a space or another blank: percent-encode it (a space is %20)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "contains a control character: percent-encode it"
    for m in re.finditer("%", text):
        escape = text[m.start() + 1 : m.start() + 3]
        if len(escape) < 2 or any(c not in "0123456789abcdefABCDEF" for c in escape):
            return "contains a '%' that does not start a %XX escape: write '%' itself as %25"
        if escape == "00":
            return "contains %00, which libpq refuses"
    return None


def resolve_dsn(value: str | None) -> Dsn:
    value = value or os.environ.get("DATABASE_URL")
    if not value:
        raise InputError(
            "no database given: pass --database-url postgresql://USER:PASSWORD@HOST:PORT/DB "
            "or set DATABASE_URL"
        )
    dsn = Dsn(value)
    _ = dsn.params  # validates syntax, never echoing the string
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
