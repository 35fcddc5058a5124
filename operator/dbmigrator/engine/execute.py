"""Running one migration file: in one transaction with its tracking row, or statement by
statement when it holds statements that cannot run in a transaction.

`lock_timeout`/`statement_timeout` are set for the file (RESET ALL first, as the Supabase CLI
does); lock timeouts and deadlocks are retried a bounded number of times with a growing delay; a
failure is recorded in the history table and raised with the file and line of the statement.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from dbmigrator.engine import batch, interrupt, tracking
from dbmigrator.engine.clisplit import split_like_cli
from dbmigrator.engine.database import (
    Dsn,
    StatementFailure,
    application_name,
    describe_error,
    is_retryable,
    scrub,
)
from dbmigrator.engine.errors import (
    DatabaseUnavailable,
    EngineError,
    MigrationError,
    RunInterrupted,
)
from dbmigrator.engine.files import Migration
from dbmigrator.engine.options import RunOptions
from dbmigrator.engine.progress import Progress
from dbmigrator.engine.results import AppliedMigration, RevertedMigration
from dbmigrator.engine.sqlparse import ParsedFile, Statement

EMPTY_NOTE = "empty: the file has no statements, nothing ran"

# How often a backend checks, while a statement runs, that our side of the connection is still
# there (PostgreSQL 14+): a runner killed with SIGKILL leaves no statement running for long.
CLIENT_CHECK_INTERVAL = "2s"


def watch_client(target: psycopg.Connection[Any] | psycopg.Cursor[Any]) -> None:
    """Set client_connection_check_interval for this session (a no-op before PostgreSQL 14)."""
    target.execute(
        "SELECT set_config(name, %s, false) FROM pg_settings "
        "WHERE name = 'client_connection_check_interval'",
        [CLIENT_CHECK_INTERVAL],
    )


@dataclass(frozen=True)
class _IndexSnapshot:
    """The table a CREATE INDEX CONCURRENTLY builds on, and its indexes before the build."""

    table_oid: int
    indexes: frozenset[int]
    name: str | None


class _BatchFailed(Exception):
    """A message of a batched file failed: the error, and the file statement it belongs to."""

    def __init__(self, error: psycopg.Error, index: int, position: int | None) -> None:
        super().__init__(str(error))
        self.error, self.index, self.position = error, index, position


class _CountingCursor(psycopg.ClientCursor[Any]):
    """Renders parameters client-side (`mogrify`), and remembers how many statements of its
    last multi-statement query completed before the one that failed: psycopg checks every
    result of a query in `_check_results`, and after an error the server has sent the results
    of the statements before it, then the error's."""

    completed: int | None = None

    def _check_results(self, results: list[Any]) -> None:
        failed = psycopg.pq.ExecStatus.FATAL_ERROR
        self.completed = next(
            (n for n, r in enumerate(results) if r.status == failed), len(results)
        )
        super()._check_results(results)


class FileRunner:
    """Runs files on one connection with the run's options, telling `progress` as it goes."""

    def __init__(self, dsn: Dsn, options: RunOptions, progress: Progress) -> None:
        self.dsn = dsn
        self.options = options
        self.progress = progress
        self._settings_queries: dict[tuple[bool, bool], list[str]] = {}

    def apply_up(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile
    ) -> AppliedMigration:
        """Run `m`'s up file (`parsed`); the result's entry for it."""
        started_at = datetime.now(UTC)
        duration = self.run(conn, m, parsed, "up")
        return AppliedMigration(
            version=m.version,
            name=m.name,
            checksum=m.checksum,
            duration_ms=round(duration, 2),
            applied_at=started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            empty=True if parsed.empty else None,
        )

    def apply_down(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile
    ) -> RevertedMigration:
        """Run `m`'s down file (`parsed`); the result's entry for it."""
        duration = self.run(conn, m, parsed, "down")
        return RevertedMigration(version=m.version, name=m.name, duration_ms=round(duration, 2))

    def run(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile, direction: str
    ) -> float:
        statements = parsed.executable
        self.progress.migration_started(m, len(statements), parsed.transactional)
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            if parsed.transactional:
                self._run_in_transaction(conn, m, parsed, statements, direction, started_at, t0)
            else:
                self._run_statement_by_statement(
                    conn, m, parsed, statements, direction, started_at, t0
                )
        except RunInterrupted as exc:
            self.record_failure(conn, m, direction, started_at, t0, exc.message)
            raise
        duration = (time.perf_counter() - t0) * 1000
        self.progress.migration_finished(m, duration, direction)
        return duration

    def _settings(self, conn: psycopg.Connection[Any], local: bool) -> list[str]:
        """RESET ALL as the Supabase CLI does before each file, then our timeouts and the client
        check, as statements (values quoted as literals: they go into a multi-statement query).
        Composed once per scope and server kind."""
        modern = conn.info.server_version >= 140000  # the check exists from 14 on
        queries = self._settings_queries.get((local, modern))
        if queries is None:
            scope = sql.Literal(local)
            composed = sql.SQL(
                "SELECT set_config('lock_timeout', {}, {}), "
                "set_config('statement_timeout', {}, {})"
            ).format(
                sql.Literal(self.options.lock_timeout), scope,
                sql.Literal(self.options.statement_timeout), scope,
            )  # fmt: skip
            if modern:
                composed = sql.Composed([composed, sql.SQL(
                    ", set_config('client_connection_check_interval', {}, false)"
                ).format(sql.Literal(CLIENT_CHECK_INTERVAL))])  # fmt: skip
            queries = ["RESET ALL", composed.as_string(conn)]
            self._settings_queries[(local, modern)] = queries
        return queries

    def _tracking(
        self, m: Migration, parsed: ParsedFile, direction: str, started_at: datetime, t0: float
    ) -> list[tracking.Query]:
        """The tracking row's insert (up) or delete (down), then the history row."""
        if direction == "up":
            # As the Supabase CLI records them (comments kept), so `supabase migration fetch`
            # writes the same file back and rows of either tool compare alike.
            row = tracking.applied_insert(m.version, m.name, split_like_cli(m.up.text))
        else:
            row = tracking.applied_delete(m.version)
        history = tracking.history_insert(
            version=m.version, name=m.name, checksum=m.checksum, operation=direction,
            success=True, started_at=started_at, duration_ms=(time.perf_counter() - t0) * 1000,
            runner=application_name(direction), note=EMPTY_NOTE if parsed.empty else None,
        )  # fmt: skip
        return [row, history]

    def _run_in_transaction(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile,
        statements: list[Statement], direction: str, started_at: datetime, t0: float,
    ) -> None:  # fmt: skip
        attempt = 0
        while True:
            try:
                self._send_batches(conn, m, parsed, statements, direction, started_at, t0)
                return
            except _BatchFailed as failed:
                exc, index = failed.error, failed.index
                if interrupt.received():
                    outcome = "the file was rolled back"
                    raise self._interrupted(parsed, statements, index, outcome) from None
                failure = describe_error(exc)
                if self._wait_to_retry(m, attempt, failure):
                    attempt += 1
                    continue
                self.record_failure(conn, m, direction, started_at, t0, failure.message)
                raise self._statement_error(
                    parsed, statements, index, exc, attempt, failed.position
                ) from None

    def _send_batches(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile,
        statements: list[Statement], direction: str, started_at: datetime, t0: float,
    ) -> None:  # fmt: skip
        """The file in one transaction: BEGIN, the settings and the statements in as few
        messages as batch.chunks allows, the tracking rows and COMMIT with the last one."""
        texts = [s.text for s in statements]
        # Before PostgreSQL 13, statement_timeout covers a whole message, not each statement.
        runs = batch.chunks(texts, batch.MAX_CHARS if conn.info.server_version >= 130000 else 0)
        try:
            with _CountingCursor(conn) as cur:
                for n, run in enumerate(runs):
                    self._send(cur, m, parsed, statements, texts, direction, started_at, t0,
                               run, first=n == 0, last=n == len(runs) - 1)  # fmt: skip
        except BaseException as exc:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):  # a lost connection has nothing to undo
                    conn.rollback()
            if isinstance(exc, psycopg.Error):  # not from a statement (e.g. rendering a row)
                raise _BatchFailed(exc, 0, None) from exc
            raise

    def _send(
        self, cur: _CountingCursor, m: Migration, parsed: ParsedFile,
        statements: list[Statement], texts: list[str], direction: str, started_at: datetime,
        t0: float, run: range, *, first: bool, last: bool,
    ) -> None:  # fmt: skip
        """One message: BEGIN and the settings if `first`, the statements of `run`, the
        tracking rows and COMMIT if `last`."""
        first_line = statements[run[0]].line if run else None
        if first_line is not None:
            interrupt.check(f"at {parsed.file.name}:{first_line}; rolled back")
        for i in run:
            self.progress.statement(m, i + 1, len(statements), statements[i])
        head = ["BEGIN", *self._settings(cur.connection, local=True)] if first else []
        tail: list[str] = []
        if last:
            queries = self._tracking(m, parsed, direction, started_at, t0)
            tail = [cur.mogrify(query, params) for query, params in queries] + ["COMMIT"]
        label = batch.label(direction, parsed.file.name, first_line, run, len(statements))
        message = batch.compose(head, [(i + 1, texts[i]) for i in run], tail, label)
        cur.completed = None
        try:
            cur.execute(message.text.encode())
        except psycopg.Error as exc:
            index, position = message.locate(cur.completed, describe_error(exc).position)
            raise _BatchFailed(exc, index, position) from exc

    def _run_statement_by_statement(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile,
        statements: list[Statement], direction: str, started_at: datetime, t0: float,
    ) -> None:  # fmt: skip
        reasons = sorted({s.why_not_transactional or "" for s in parsed.non_transactional})
        self.progress.warning(
            f"{parsed.file.name} has statements that cannot run in a transaction "
            f"({', '.join(reasons)}): running it statement by statement"
        )
        with conn.cursor() as cur:
            cur.execute("; ".join(self._settings(conn, local=False)).encode())
        done = 0
        for index, statement in enumerate(statements, start=1):
            attempt = 0
            indexes_before = self._indexes_before(conn, statement)
            while True:
                try:
                    interrupt.check(f"at {parsed.file.name}:{statement.line}")
                    self.progress.statement(m, index, len(statements), statement)
                    with conn.cursor() as cur:
                        cur.execute(statement.text.encode())
                    break
                except psycopg.Error as exc:
                    if interrupt.received():
                        self._drop_new_invalid_indexes(conn, indexes_before)
                        raise self._interrupted(
                            parsed, statements, index,
                            f"file runs outside a transaction: {done} earlier statement(s) stay "
                            "committed",
                        ) from None  # fmt: skip
                    failure = describe_error(exc)
                    # A failed CREATE INDEX CONCURRENTLY leaves an INVALID index, also before a
                    # retry (which IF NOT EXISTS would otherwise turn into a silent success).
                    self._drop_new_invalid_indexes(conn, indexes_before)
                    if self._wait_to_retry(m, attempt, failure):
                        attempt += 1
                        continue
                    self.record_failure(conn, m, direction, started_at, t0, failure.message)
                    error = self._statement_error(
                        parsed, statements, index, exc, attempt, failure.position
                    )
                    error.message += (
                        f" (file runs outside a transaction: {done} earlier statement(s) stay "
                        "committed; make the file idempotent and run it again)"
                    )
                    raise error from None
            done += 1
        with conn.transaction(), conn.cursor() as cur:
            for query, params in self._tracking(m, parsed, direction, started_at, t0):
                cur.execute(query, params)
        with conn.cursor() as cur:
            cur.execute("RESET ALL")
            watch_client(cur)

    def _wait_to_retry(self, m: Migration, attempt: int, failure: StatementFailure) -> bool:
        """Sleep before the next attempt when the failure is worth one and attempts remain."""
        if not is_retryable(failure) or attempt >= self.options.retries:
            return False
        delay = self.options.retry_delay * 2**attempt
        reason = f"ERROR {failure.sqlstate}: {failure.message}"
        self.progress.retrying(m, attempt + 1, reason, delay)
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:  # in steps: a signal stops the wait
            interrupt.check(f"while waiting to retry {m.label}")
            time.sleep(min(left, 0.2))
        return True

    def _indexes_before(
        self, conn: psycopg.Connection[Any], statement: Statement
    ) -> _IndexSnapshot | None:
        """For CREATE INDEX CONCURRENTLY: its table, resolved as PostgreSQL will (schema as
        written, else the search_path of this moment), and the indexes it has already."""
        target = statement.index
        if statement.why_not_transactional != "CREATE INDEX CONCURRENTLY" or target is None:
            return None
        parts = [p for p in (target.table_schema, target.table) if p is not None]
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.oid, array(SELECT indexrelid FROM pg_index WHERE indrelid = c.oid) "
                "FROM pg_class c WHERE c.oid = to_regclass(%s)",
                [sql.Identifier(*parts).as_string(conn)],
            )
            row = cur.fetchone()
        if row is None:
            return None  # no such table: the statement fails before building anything
        return _IndexSnapshot(int(row[0]), frozenset(int(i) for i in row[1]), target.name)

    def _drop_new_invalid_indexes(
        self, conn: psycopg.Connection[Any], before: _IndexSnapshot | None
    ) -> None:
        """Drop the INVALID index the failed statement left on its table: only one that was not
        there before, and only with the statement's name when it gave one."""
        if before is None:
            return
        with conn.cursor() as cur:
            cur.execute(
                "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE i.indrelid = %s AND NOT i.indisvalid AND NOT i.indexrelid = ANY(%s) "
                "AND (%s::text IS NULL OR c.relname = %s)",
                [before.table_oid, list(before.indexes), before.name, before.name],
            )
            for (qualified,) in cur.fetchall():
                cur.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}".encode())
                self.progress.warning(f"dropped invalid index {qualified} left by the failed build")

    def record_failure(
        self, conn: psycopg.Connection[Any], m: Migration, direction: str, started_at: datetime,
        t0: float, message: str,
    ) -> None:  # fmt: skip
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(*tracking.history_insert(
                    version=m.version, name=m.name, checksum=m.checksum, operation=direction,
                    success=False, started_at=started_at,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    runner=application_name(direction), error=scrub(message, self.dsn)[:2000],
                ))  # fmt: skip
        except psycopg.Error:
            pass  # the history row is a courtesy; the error itself is what matters

    def _interrupted(
        self, parsed: ParsedFile, statements: list[Statement], index: int, outcome: str
    ) -> RunInterrupted:
        line = statements[index - 1].line if 0 < index <= len(statements) else None
        error = interrupt.interrupted_error(f"while running {parsed.file.name}: {outcome}")
        error.file, error.line = parsed.file.name, line
        return error

    def _statement_error(
        self, parsed: ParsedFile, statements: list[Statement], index: int, exc: psycopg.Error,
        attempt: int, position: int | None,
    ) -> EngineError:  # fmt: skip
        """The error for statement `index` (1-based; 0: none of the file's); `position` is the
        error's 1-based position in that statement's text, when known."""
        failure = describe_error(exc)
        line = None
        if 0 < index <= len(statements):
            statement = statements[index - 1]
            line = statement.line
            if position:
                line += statement.text.count("\n", 0, position - 1)
        message = scrub(failure.message, self.dsn)
        if failure.detail:
            message += f" ({scrub(failure.detail, self.dsn)})"
        if attempt:
            message += f" after {attempt} retr{'y' if attempt == 1 else 'ies'}"
        error = MigrationError(
            message, file=parsed.file.name, line=line, sqlstate=failure.sqlstate, hint=failure.hint
        )
        if failure.unavailable:
            return DatabaseUnavailable(str(error), sqlstate=failure.sqlstate)
        return error
