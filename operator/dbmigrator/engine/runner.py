"""Running migrations against one database: up, down, validate, status, repair.

Under the per-database advisory lock, each file runs with its tracking row in one transaction
(`lock_timeout`/`statement_timeout` set locally, lock timeouts and deadlocks retried a bounded
number of times). Files with statements that cannot run in a transaction run statement by
statement, said up front. Validation runs after every migration; a failure stops the run and,
with `on_failure="down"`, reverts the migration just applied with its down file.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.api.lint import FailOn
from dbmigrator.engine import interrupt, snapshot, tracking
from dbmigrator.engine.catalog import read_server_facts
from dbmigrator.engine.clisplit import split_like_cli
from dbmigrator.engine.database import (
    Dsn,
    StatementFailure,
    application_name,
    connect,
    describe_error,
    is_retryable,
    scrub,
)
from dbmigrator.engine.drift import (
    Baseline,
    DriftReport,
    plan_drift,
    plan_managed_schemas,
    render_drift_lines,
)
from dbmigrator.engine.errors import (
    DatabaseUnavailable,
    DriftDetected,
    EngineError,
    InputError,
    MigrationError,
    RunInterrupted,
    ValidationFailed,
)
from dbmigrator.engine.files import Migration, MigrationSet, SqlFile
from dbmigrator.engine.lint import lint_files
from dbmigrator.engine.lintrules import LintReport
from dbmigrator.engine.locking import migration_lock
from dbmigrator.engine.options import RunOptions
from dbmigrator.engine.planhash import Direction, check_in_range, check_plan
from dbmigrator.engine.planning import (
    AppliedRow,
    DownPlan,
    Phase,
    StatusReport,
    UpPlan,
    current_version,
    plan_down,
    plan_status,
    plan_up,
)
from dbmigrator.engine.preflight import plan_preflight, preflight_error
from dbmigrator.engine.progress import Progress, Silent
from dbmigrator.engine.results import (
    DRIFT_LIMIT,
    AppliedMigration,
    DriftItem,
    RevertedMigration,
    RunResult,
)
from dbmigrator.engine.sqlparse import (
    ParsedFile,
    Statement,
    parse_file,
    plan_empty_warnings,
    plan_expected_objects,
    without_cluster_wide,
)
from dbmigrator.engine.validation import (
    ValidationInput,
    ValidationReport,
    measure_baselines,
    validate,
)

EMPTY_NOTE = "empty: the file has no statements, nothing ran"


# How often a backend checks, while a statement runs, that our side of the connection is still
# there (PostgreSQL 14+): a runner killed with SIGKILL leaves no statement running for long.
CLIENT_CHECK_INTERVAL = "2s"


def _watch_client(target: psycopg.Connection[Any] | psycopg.Cursor[Any]) -> None:
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


@dataclass
class _Run:
    """What a run has done so far, for the result even when it stops half way."""

    command: Literal["up", "down", "validate", "repair"]
    started: float = field(default_factory=time.monotonic)
    from_version: str | None = None
    applied: list[AppliedMigration] = field(default_factory=list)
    reverted: list[RevertedMigration] = field(default_factory=list)
    report: ValidationReport | None = None
    drift: DriftReport | None = None


def drift_items(report: DriftReport | None) -> tuple[list[DriftItem], int | None]:
    """The result's `drift` (bounded) and `driftCount` (None: not checked, or no baseline)."""
    if report is None or report.baseline is None:
        return [], None
    items = [
        DriftItem(object=c.object, kind=c.kind, name=c.name, change=c.change, message=c.message)
        for c in report.changes[:DRIFT_LIMIT]
    ]
    return items, len(report.changes)


class Engine:
    """The whole checklist against one database."""

    def __init__(
        self,
        dsn: Dsn,
        migrations: MigrationSet,
        checks: ChecksConfig | None = None,
        options: RunOptions | None = None,
        progress: Progress | None = None,
        *,
        rehearsal: bool = False,
    ) -> None:
        self.dsn = dsn
        self.rehearsal = rehearsal
        """In a rehearsal's scratch database: statements that would act on the real server
        (ALTER SYSTEM, tablespaces, other databases) are skipped."""
        self.migrations = migrations
        self.checks = checks or ChecksConfig()
        self.options = options or RunOptions()
        self.progress = progress or Silent()
        self._parsed: dict[str, ParsedFile] = {}

    # ---- parsing ---------------------------------------------------------------------------
    def parse_all(self) -> None:
        """Parse every up and down file now, so a syntax error stops us before anything runs."""
        for m in self.migrations:
            self.parsed(m.up)
            if m.down is not None:
                self.parsed(m.down)

    def parsed(self, file: SqlFile) -> ParsedFile:
        if file.name not in self._parsed:
            parsed = parse_file(file)
            self._parsed[file.name] = without_cluster_wide(parsed) if self.rehearsal else parsed
        return self._parsed[file.name]

    # ---- read-only -------------------------------------------------------------------------
    def read_applied(self) -> dict[str, AppliedRow]:
        with connect(self.dsn, "status") as conn:
            return tracking.read_applied(conn)

    def status(self) -> tuple[StatusReport, list[dict[str, Any]]]:
        with connect(self.dsn, "status") as conn:
            applied = tracking.read_applied(conn)
            history = tracking.read_history(conn)
        return plan_status(self.migrations, applied), history

    def plan(self, target: str | None = None, phases: Sequence[Phase] = ()) -> UpPlan:
        """What `up` would run; the preflight refuses (exit 2) what the server cannot run."""
        self.parse_all()
        with connect(self.dsn, "plan") as conn:
            plan = self.plan_for(tracking.read_applied(conn), target, phases)
            self._preflight(conn, plan)
        return plan

    def _preflight(self, conn: psycopg.Connection[Any], plan: UpPlan) -> None:
        problems = plan_preflight(
            (self.parsed(m.up) for m in plan.migrations), read_server_facts(conn)
        )
        if problems:
            raise preflight_error(problems)

    def plan_for(
        self, applied: dict[str, AppliedRow], target: str | None, phases: Sequence[Phase]
    ) -> UpPlan:
        plan = plan_up(
            self.migrations,
            applied,
            target,
            phases,
            allow_out_of_order=self.options.allow_out_of_order,
        )
        empty = plan_empty_warnings(self.parsed(m.up) for m in plan.migrations)
        return replace(plan, warnings=(*plan.warnings, *empty)) if empty else plan

    def plan_down(self, target: str) -> DownPlan:
        self.parse_all()
        return plan_down(self.migrations, self.read_applied(), target)

    def check_expected_plan(
        self,
        direction: Direction,
        current: str | None,
        target: str | None,
        versions: Sequence[str] = (),
    ) -> None:
        """With `--expect-plan`: the files of the approved range must give the approved hash,
        and the versions this run executes must lie in that range (PlanChanged otherwise).
        Called after reading the tracking table and before anything changes."""
        o = self.options
        if o.expect_plan is None:
            return
        start = o.plan_from if o.plan_from is not None else current
        end = o.plan_target or target
        if end is None:
            latest = self.migrations.latest
            end = latest.version if latest is not None else "0"
        check_plan(self.migrations, direction, o.expect_plan, start, end)
        check_in_range(direction, list(versions), start, end)
        self.progress.info(f"plan {o.expect_plan} verified: the files are the approved ones")

    # ---- lint (squawk) ---------------------------------------------------------------------
    def lint_up(self, plan: UpPlan, *, fail_on: FailOn | None = None) -> LintReport:
        """squawk over the plan's pending up files, in plan context (engine/lintrules.py)."""
        return lint_files(
            [self.parsed(m.up) for m in plan.migrations], self.checks.lint, fail_on=fail_on
        )

    def lint_down(self, plan: DownPlan, *, fail_on: FailOn | None = None) -> LintReport:
        """squawk over the down files a rollback would run, in the order it runs them."""
        return lint_files(
            [self.parsed(m.down) for m in plan.migrations if m.down is not None],
            self.checks.lint,
            direction="down",
            fail_on=fail_on,
        )

    # ---- drift -----------------------------------------------------------------------------
    def managed_schemas(self) -> tuple[str, ...]:
        """`public` and the schemas the files create objects in: what a snapshot covers."""
        self.parse_all()
        return plan_managed_schemas(
            obj for m in self.migrations for obj in self.parsed(m.up).creates
        )

    def check_drift(
        self, conn: psycopg.Connection[Any], exclude: Sequence[str] = ()
    ) -> DriftReport:
        """The live schema against the last recorded snapshot (over the schemas it covers);
        patterns of the checks file and `exclude` leave objects out."""
        baseline = snapshot.read_baseline(conn)
        if baseline is None:
            return DriftReport(None, ())
        live = snapshot.fetch_snapshot(conn, baseline.snapshot.schemas)
        patterns = (*self.checks.drift.exclude, *exclude)
        return DriftReport(baseline, tuple(plan_drift(baseline.snapshot, live, patterns)))

    def drift(self, exclude: Sequence[str] = ()) -> DriftReport:
        with connect(self.dsn, "drift") as conn:
            return self.check_drift(conn, exclude)

    def accept_drift(self) -> Baseline:
        """Record the live schema as the new baseline (what `drift --accept` does)."""
        with connect(self.dsn, "drift") as conn, migration_lock(conn, self.options.lock_wait):
            tracking.ensure_tables(conn)
            version = current_version(tracking.read_applied(conn))
            return self._record_snapshot(conn, version, "accept")

    def _drift_gate(self, conn: psycopg.Connection[Any], run: _Run) -> None:
        """Before anything runs: `fail` stops on drift, `warn` reports it, `ignore` skips."""
        if self.options.drift == "ignore":
            return
        run.drift = report = self.check_drift(conn)
        if not report.changes or report.baseline is None:
            return
        since = report.baseline.described
        if self.options.drift == "fail":
            raise DriftDetected(
                f"{len(report.changes)} schema change(s) made outside migrations since {since}: "
                f"{render_drift_lines(report.changes)}; nothing ran",
                hint="review them with `dbmigrator drift`; put them in a migration or revert "
                "them, or accept them with `dbmigrator drift --accept`",
            )
        self.progress.warning(
            f"{len(report.changes)} schema change(s) made outside migrations since {since}"
        )
        for change in report.changes:
            self.progress.warning(f"drift: {change.message}")

    def _record_snapshot(
        self, conn: psycopg.Connection[Any], version: str | None, operation: str
    ) -> Baseline:
        live = snapshot.fetch_snapshot(conn, self.managed_schemas())
        return snapshot.record_snapshot(conn, live, version, operation)

    def _record_after_failure(
        self, conn: psycopg.Connection[Any], run: _Run, applied: dict[str, AppliedRow]
    ) -> None:
        """Files that committed before a failure changed the schema through migrations: record
        it, so the next run does not call them drift. Best effort: the error is what matters."""
        if not (run.applied or run.reverted) or interrupt.received():
            return
        with contextlib.suppress(psycopg.Error, EngineError):
            self._record_snapshot(conn, current_version(applied), run.command)

    # ---- up --------------------------------------------------------------------------------
    def up(self, target: str | None = None, phases: Sequence[Phase] = ()) -> RunResult:
        run = _Run("up")
        try:
            self.parse_all()
            plan_up(self.migrations, {}, target, phases, allow_out_of_order=True)  # bad input first
            with (
                connect(self.dsn, "up") as conn,
                interrupt.watching(conn),
                migration_lock(conn, self.options.lock_wait, self.progress.info),
            ):
                _watch_client(conn)
                tracking.ensure_tables(conn)
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                plan = self.plan_for(applied, target, phases)
                self.check_expected_plan(
                    "up", run.from_version, plan.target, [m.version for m in plan.migrations]
                )
                self._preflight(conn, plan)
                self._drift_gate(conn, run)
                for warning in plan.warnings:
                    self.progress.warning(warning)
                todo = plan.migrations
                if not todo:
                    self.progress.info(
                        f"nothing to apply: database is at {run.from_version or 'no version'}"
                    )
                baselines = (
                    measure_baselines(conn, self.checks)
                    if self.options.validate and todo and self.checks.queries
                    else {}
                )
                try:
                    self._apply_phases(conn, run, plan, applied, baselines)
                except EngineError:
                    self._record_after_failure(conn, run, applied)
                    raise
                self._record_snapshot(conn, current_version(applied), "up")
                return self._result(run, conn_applied=applied, target=plan.target)
        except EngineError as exc:
            return self._failed(run, exc)

    def _apply_phases(
        self,
        conn: psycopg.Connection[Any],
        run: _Run,
        plan: UpPlan,
        applied: dict[str, AppliedRow],
        baselines: dict[str, float | None],
    ) -> None:
        todo = plan.migrations
        for phase in plan.phases:
            if not phase.migrations:
                continue
            self.progress.phase(phase.name, len(phase.migrations))
            for m in phase.migrations:
                interrupt.check(f"before {m.up.name}")
                run.applied.append(self._apply_up(conn, m))
                applied[m.version] = AppliedRow(m.version, m.name, m.checksum)
                if self.options.validate:
                    final = m is todo[-1]
                    self._validate_after(conn, run, m, applied, baselines, final)

    def _validate_after(
        self,
        conn: psycopg.Connection[Any],
        run: _Run,
        m: Migration,
        applied: dict[str, AppliedRow],
        baselines: dict[str, float | None],
        final: bool,
    ) -> None:
        report = validate(conn, self._validation_input(applied, baselines, final))
        interrupt.check(f"while validating after {m.up.name}")  # a cancelled probe is no verdict
        run.report = report
        self.progress.validation(m, report.headline(), report.passed)
        if report.passed:
            return
        failures = "; ".join(f"{f.check} {f.target}: {f.message}" for f in report.failures[:5])
        message = f"validation failed after {m.up.name}: {failures}"
        if self.options.on_failure == "down" and m.down is not None:
            run.reverted.append(self._apply_down(conn, m))
            del applied[m.version]
            message += f"; reverted {m.version} with {m.down.name}"
        elif self.options.on_failure == "down":
            message += f"; cannot revert {m.version}: it has no down file"
        raise ValidationFailed(message, file=m.up.name)

    # ---- down ------------------------------------------------------------------------------
    def down(self, target: str) -> RunResult:
        run = _Run("down")
        try:
            self.parse_all()
            self.migrations.resolve(target, allow_zero=True, what="down target")
            with (
                connect(self.dsn, "down") as conn,
                interrupt.watching(conn),
                migration_lock(conn, self.options.lock_wait, self.progress.info),
            ):
                _watch_client(conn)
                tracking.ensure_tables(conn)
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                plan = plan_down(self.migrations, applied, target)
                self.check_expected_plan(
                    "down", run.from_version, target, [m.version for m in plan.migrations]
                )
                self._drift_gate(conn, run)
                if not plan.migrations:
                    self.progress.info(
                        f"nothing to revert: database is at {run.from_version or 'no version'}"
                    )
                else:
                    self.progress.phase(f"down to {target}", len(plan.migrations))
                try:
                    for m in plan.migrations:
                        interrupt.check(f"before {m.down.name if m.down else m.up.name}")
                        run.reverted.append(self._apply_down(conn, m))
                        del applied[m.version]
                except EngineError:
                    self._record_after_failure(conn, run, applied)
                    raise
                self._record_snapshot(conn, current_version(applied), "down")
                if self.options.validate:
                    run.report = validate(conn, self._validation_input(applied, {}, True))
                    self.progress.validation(None, run.report.headline(), run.report.passed)
                result = self._result(run, conn_applied=applied, target=target)
                if run.report is not None and not run.report.passed:
                    raise ValidationFailed(
                        f"validation failed after going down to {target}: "
                        + "; ".join(
                            f"{f.check} {f.target}: {f.message}" for f in run.report.failures[:5]
                        )
                    )
                return result
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- validate --------------------------------------------------------------------------
    def validate(self) -> RunResult:
        run = _Run("validate")
        self.parse_all()
        try:
            with connect(self.dsn, "validate") as conn:
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                run.report = validate(conn, self._validation_input(applied, {}, True))
                self.progress.validation(None, run.report.headline(), run.report.passed)
                result = self._result(run, conn_applied=applied, target=None)
                if not run.report.passed:
                    raise ValidationFailed(
                        "validation failed: "
                        + "; ".join(
                            f"{f.check} {f.target}: {f.message}" for f in run.report.failures[:5]
                        )
                    )
                return result
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- repair ----------------------------------------------------------------------------
    def repair(self, versions: Sequence[str], status: Literal["applied", "reverted"]) -> RunResult:
        """Mark versions applied (accepting their current files) or reverted, without running SQL."""
        run = _Run("repair")
        try:
            with connect(self.dsn, "repair") as conn, migration_lock(conn, self.options.lock_wait):
                tracking.ensure_tables(conn)
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                for version in versions:
                    self.migrations.resolve(version, what="repair")
                    m = self.migrations.get(version)
                    assert m is not None  # resolve() raised otherwise
                    now = datetime.now(UTC)
                    with conn.transaction(), conn.cursor() as cur:
                        if status == "applied":
                            tracking.insert_applied(
                                cur, m.version, m.name, split_like_cli(m.up.text)
                            )
                            applied[m.version] = AppliedRow(m.version, m.name, m.checksum)
                            run.applied.append(
                                AppliedMigration(
                                    version=m.version,
                                    name=m.name,
                                    checksum=m.checksum,
                                    applied_at=now.isoformat(),
                                )
                            )
                        else:
                            tracking.delete_applied(cur, m.version)
                            applied.pop(m.version, None)
                            run.reverted.append(RevertedMigration(version=m.version, name=m.name))
                        tracking.record_history(
                            cur, version=m.version, name=m.name, checksum=m.checksum,
                            operation=f"repair-{status}", success=True, started_at=now,
                            duration_ms=0.0, runner=application_name("repair"),
                        )  # fmt: skip
                    self.progress.info(f"marked {m.label} as {status}")
                # Repair says the schema is as the files make it: that is the new baseline.
                self._record_snapshot(conn, current_version(applied), "repair")
                return self._result(run, conn_applied=applied, target=None)
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- applying one file -----------------------------------------------------------------
    def _apply_up(self, conn: psycopg.Connection[Any], m: Migration) -> AppliedMigration:
        parsed = self.parsed(m.up)
        started_at = datetime.now(UTC)
        duration = self._run_file(conn, m, parsed, "up")
        return AppliedMigration(
            version=m.version,
            name=m.name,
            checksum=m.checksum,
            duration_ms=round(duration, 2),
            applied_at=started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            empty=True if parsed.empty else None,
        )

    def _apply_down(self, conn: psycopg.Connection[Any], m: Migration) -> RevertedMigration:
        if m.down is None:
            raise InputError(
                f"no down file for {m.label} (expected {m.label}.down.sql)", file=m.up.name
            )
        duration = self._run_file(conn, m, self.parsed(m.down), "down")
        return RevertedMigration(version=m.version, name=m.name, duration_ms=round(duration, 2))

    def _run_file(
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
            self._record_failure(conn, m, direction, started_at, t0, exc.message)
            raise
        duration = (time.perf_counter() - t0) * 1000
        self.progress.migration_finished(m, duration, direction)
        return duration

    def _settings(self, cur: psycopg.Cursor[Any], local: bool) -> None:
        # RESET ALL as the Supabase CLI does before each file, then our timeouts and the client
        # check: one round trip (several statements are allowed in a query without parameters,
        # so the values go in as quoted literals).
        scope = sql.Literal(local)
        query = sql.SQL(
            "RESET ALL; SELECT set_config('lock_timeout', {}, {}), "
            "set_config('statement_timeout', {}, {})"
        ).format(
            sql.Literal(self.options.lock_timeout), scope,
            sql.Literal(self.options.statement_timeout), scope,
        )  # fmt: skip
        if cur.connection.info.server_version >= 140000:  # the setting exists from 14 on
            query = sql.Composed([query, sql.SQL(
                ", set_config('client_connection_check_interval', {}, false)"
            ).format(sql.Literal(CLIENT_CHECK_INTERVAL))])  # fmt: skip
        cur.execute(query)

    def _track(
        self, cur: psycopg.Cursor[Any], m: Migration, parsed: ParsedFile, direction: str,
        started_at: datetime, t0: float,
    ) -> None:  # fmt: skip
        if direction == "up":
            # As the Supabase CLI records them (comments kept), so `supabase migration fetch`
            # writes the same file back and rows of either tool compare alike.
            tracking.insert_applied(cur, m.version, m.name, split_like_cli(m.up.text))
        else:
            tracking.delete_applied(cur, m.version)
        tracking.record_history(
            cur, version=m.version, name=m.name, checksum=m.checksum, operation=direction,
            success=True, started_at=started_at, duration_ms=(time.perf_counter() - t0) * 1000,
            runner=application_name(direction), note=EMPTY_NOTE if parsed.empty else None,
        )  # fmt: skip

    def _run_in_transaction(
        self, conn: psycopg.Connection[Any], m: Migration, parsed: ParsedFile,
        statements: list[Statement], direction: str, started_at: datetime, t0: float,
    ) -> None:  # fmt: skip
        attempt = 0
        while True:
            index = 0
            try:
                with conn.transaction(), conn.cursor() as cur:
                    self._settings(cur, local=True)
                    for index, statement in enumerate(statements, start=1):
                        interrupt.check(f"at {parsed.file.name}:{statement.line}; rolled back")
                        self.progress.statement(m, index, len(statements), statement)
                        cur.execute(statement.text.encode())
                    index = 0
                    self._track(cur, m, parsed, direction, started_at, t0)
                return
            except psycopg.Error as exc:
                if interrupt.received():
                    outcome = "the file was rolled back"
                    raise self._interrupted(parsed, statements, index, outcome) from None
                failure = describe_error(exc)
                if self._wait_to_retry(m, attempt, failure):
                    attempt += 1
                    continue
                self._record_failure(conn, m, direction, started_at, t0, failure.message)
                raise self._statement_error(parsed, statements, index, exc, attempt) from None

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
            self._settings(cur, local=False)
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
                    self._record_failure(conn, m, direction, started_at, t0, failure.message)
                    error = self._statement_error(parsed, statements, index, exc, attempt)
                    error.message += (
                        f" (file runs outside a transaction: {done} earlier statement(s) stay "
                        "committed; make the file idempotent and run it again)"
                    )
                    raise error from None
            done += 1
        with conn.transaction(), conn.cursor() as cur:
            self._track(cur, m, parsed, direction, started_at, t0)
        with conn.cursor() as cur:
            cur.execute("RESET ALL")
            _watch_client(cur)

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

    def _record_failure(
        self, conn: psycopg.Connection[Any], m: Migration, direction: str, started_at: datetime,
        t0: float, message: str,
    ) -> None:  # fmt: skip
        try:
            with conn.transaction(), conn.cursor() as cur:
                tracking.record_history(
                    cur, version=m.version, name=m.name, checksum=m.checksum, operation=direction,
                    success=False, started_at=started_at,
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    runner=application_name(direction), error=scrub(message, self.dsn)[:2000],
                )  # fmt: skip
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
        attempt: int,
    ) -> EngineError:  # fmt: skip
        failure = describe_error(exc)
        line = None
        if 0 < index <= len(statements):
            statement = statements[index - 1]
            line = statement.line
            if failure.position:
                line += statement.text.count("\n", 0, failure.position - 1)
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

    # ---- results ---------------------------------------------------------------------------
    def _validation_input(
        self, applied: dict[str, AppliedRow], baselines: dict[str, float | None], final: bool
    ) -> ValidationInput:
        keys = {r.key for r in applied.values()}
        applied_migrations = [m for m in self.migrations if m.key in keys]
        # Probes and queries may name objects of later migrations: until every migration is
        # applied, a missing object means "not yet" (skipped), not a failure.
        final = final and all(m.key in keys for m in self.migrations)
        return ValidationInput(
            expected_versions=[m.version for m in applied_migrations],
            expected_objects=plan_expected_objects(self.parsed(m.up) for m in applied_migrations),
            applied_keys=frozenset(keys),
            checks=self.checks,
            baselines=baselines,
            final=final,
        )

    def _result(
        self, run: _Run, *, conn_applied: dict[str, AppliedRow], target: str | None
    ) -> RunResult:
        drift, drift_count = drift_items(run.drift)
        return RunResult(
            command=run.command,
            ok=True,
            exit_code=0,
            database=self.dsn.dbname,
            from_version=run.from_version,
            current_version=current_version(conn_applied),
            target_version=target,
            applied=run.applied,
            reverted=run.reverted,
            validation=run.report.summary() if run.report else None,
            performance=run.report.timings if run.report else [],
            drift=drift,
            drift_count=drift_count,
            duration_ms=round((time.monotonic() - run.started) * 1000, 1),
        )

    def _failed(self, run: _Run, exc: EngineError) -> RunResult:
        current: str | None = None
        try:
            current = current_version(self.read_applied())
        except EngineError:
            current = None
        drift, drift_count = drift_items(run.drift)
        return RunResult(
            command=run.command,
            ok=False,
            exit_code=exc.exit_code,
            database=self.dsn.dbname,
            from_version=run.from_version,
            current_version=current,
            applied=run.applied,
            reverted=run.reverted,
            validation=run.report.summary() if run.report else None,
            performance=run.report.timings if run.report else [],
            drift=drift,
            drift_count=drift_count,
            error=exc.info(),
            duration_ms=round((time.monotonic() - run.started) * 1000, 1),
        )
