"""The runs that change one database: up, down, validate, repair (reads are `reader.Reader`'s).

Each run holds the per-database advisory lock on one connection, checks the approved plan and
the schema drift before it changes anything, runs the files (`execute.FileRunner`: each in one
transaction with its tracking row, or statement by statement when it must), validates after
every migration (a failure stops the run and, with `on_failure="down"`, reverts the migration
just applied with its down file), records the new schema snapshot, and returns its result
(`runstate`), also when it stops half way.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import psycopg

from dbmigrator.engine import interrupt, tracking
from dbmigrator.engine.database import connect
from dbmigrator.engine.drift import Baseline
from dbmigrator.engine.errors import EngineError, InputError, ValidationFailed
from dbmigrator.engine.execute import FileRunner, watch_client
from dbmigrator.engine.files import Migration
from dbmigrator.engine.locking import migration_lock
from dbmigrator.engine.planning import (
    AppliedRow,
    Phase,
    UpPlan,
    current_version,
    plan_down,
    plan_up,
)
from dbmigrator.engine.reader import Reader
from dbmigrator.engine.repair import mark_repaired
from dbmigrator.engine.results import AppliedMigration, RevertedMigration, RunResult
from dbmigrator.engine.runstate import RunState, run_result
from dbmigrator.engine.schemaguard import (
    drift_gate,
    read_drift,
    record_after_failure,
    record_snapshot,
)

if TYPE_CHECKING:  # loaded by the commands that lint or validate, not by `up --no-validate`
    from dbmigrator.engine.checkresult import ValidationReport


class Engine(Reader):
    """The whole checklist against one database: the reads of `Reader`, and the runs."""

    @functools.cached_property
    def files(self) -> FileRunner:
        """Runs the files, with this engine's options and progress."""
        return FileRunner(self.dsn, self.options, self.progress)

    def accept_drift(self) -> Baseline:
        """Record the live schema as the new baseline (what `drift --accept` does)."""
        with self._session("drift") as conn:
            return self._record_snapshot(conn, tracking.read_applied(conn), "accept")

    def _drift_gate(self, conn: psycopg.Connection[Any], run: RunState) -> None:
        """Drift before anything runs, in the result also when the policy stops the run."""
        if self.options.drift == "ignore":
            return
        run.drift = read_drift(conn, self.checks.drift.exclude)
        drift_gate(run.drift, self.options.drift, self.progress)

    def _record_snapshot(
        self, conn: psycopg.Connection[Any], applied: dict[str, AppliedRow], operation: str
    ) -> Baseline:
        """The managed schemas as the new baseline, at the version `applied` gives."""
        schemas = self.managed_schemas()
        return record_snapshot(conn, schemas, current_version(applied), operation)

    def _record_after_failure(
        self, conn: psycopg.Connection[Any], run: RunState, applied: dict[str, AppliedRow]
    ) -> None:
        if run.applied or run.reverted:  # files committed before the failure
            schemas = self.managed_schemas()
            record_after_failure(conn, schemas, current_version(applied), run.command)

    @contextlib.contextmanager
    def _session(self, command: str) -> Iterator[psycopg.Connection[Any]]:
        """The connection of a run that changes the database: an interrupt cancels its statement,
        the migration lock is held, the client is watched and the tracking tables exist."""
        with (
            connect(self.dsn, command) as conn,
            interrupt.watching(conn),
            migration_lock(conn, self.options.lock_wait, self.progress.info),
        ):
            watch_client(conn)
            tracking.ensure_tables(conn)
            yield conn

    # ---- up --------------------------------------------------------------------------------
    def up(self, target: str | None = None, phases: Sequence[Phase] = ()) -> RunResult:
        run = RunState("up")
        try:
            self.parse_all()
            plan_up(self.migrations, {}, target, phases, allow_out_of_order=True)  # bad input first
            with self._session("up") as conn:
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
                baselines: dict[str, float | None] = {}
                if self.options.validate and todo and self.checks.queries:
                    from dbmigrator.engine.validation import measure_baselines

                    baselines = measure_baselines(conn, self.checks)
                try:
                    self._apply_phases(conn, run, plan, applied, baselines)
                except EngineError:
                    self._record_after_failure(conn, run, applied)
                    raise
                self._record_snapshot(conn, applied, "up")
                return self._result(run, conn_applied=applied, target=plan.target)
        except EngineError as exc:
            return self._failed(run, exc)

    def _apply_phases(
        self,
        conn: psycopg.Connection[Any],
        run: RunState,
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
        run: RunState,
        m: Migration,
        applied: dict[str, AppliedRow],
        baselines: dict[str, float | None],
        final: bool,
    ) -> None:
        report = self._validate(conn, applied, baselines, final)
        interrupt.check(f"while validating after {m.up.name}")  # a cancelled probe is no verdict
        run.report = report
        self.progress.validation(m, report.headline(), report.passed)
        if report.passed:
            return
        message = f"validation failed after {m.up.name}: {report.failure_text()}"
        if self.options.on_failure == "down" and m.down is not None:
            run.reverted.append(self._apply_down(conn, m))
            del applied[m.version]
            message += f"; reverted {m.version} with {m.down.name}"
        elif self.options.on_failure == "down":
            message += f"; cannot revert {m.version}: it has no down file"
        raise ValidationFailed(message, file=m.up.name)

    # ---- down ------------------------------------------------------------------------------
    def down(self, target: str) -> RunResult:
        run = RunState("down")
        try:
            self.parse_all()
            self.migrations.resolve(target, allow_zero=True, what="down target")
            with self._session("down") as conn:
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
                self._record_snapshot(conn, applied, "down")
                if self.options.validate:
                    run.report = self._validate(conn, applied, {}, True)
                    self.progress.validation(None, run.report.headline(), run.report.passed)
                result = self._result(run, conn_applied=applied, target=target)
                if run.report is not None and not run.report.passed:
                    raise ValidationFailed(
                        f"validation failed after going down to {target}: "
                        + run.report.failure_text()
                    )
                return result
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- validate --------------------------------------------------------------------------
    def validate(self) -> RunResult:
        run = RunState("validate")
        self.parse_all()
        try:
            with connect(self.dsn, "validate") as conn:
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                run.report = self._validate(conn, applied, {}, True)
                self.progress.validation(None, run.report.headline(), run.report.passed)
                result = self._result(run, conn_applied=applied, target=None)
                if not run.report.passed:
                    raise ValidationFailed(f"validation failed: {run.report.failure_text()}")
                return result
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- repair ----------------------------------------------------------------------------
    def repair(self, versions: Sequence[str], status: Literal["applied", "reverted"]) -> RunResult:
        """Mark versions applied (accepting their current files) or reverted, without running SQL."""
        run = RunState("repair")
        try:
            with self._session("repair") as conn:
                applied = tracking.read_applied(conn)
                run.from_version = current_version(applied)
                for version in versions:
                    self.migrations.resolve(version, what="repair")
                    m = self.migrations.get(version)
                    assert m is not None  # resolve() raised otherwise
                    done = mark_repaired(conn, m, status)
                    if isinstance(done, AppliedMigration):
                        applied[m.version] = AppliedRow(m.version, m.name, m.checksum)
                        run.applied.append(done)
                    else:
                        applied.pop(m.version, None)
                        run.reverted.append(done)
                    self.progress.info(f"marked {m.label} as {status}")
                # Repair says the schema is as the files make it: that is the new baseline.
                self._record_snapshot(conn, applied, "repair")
                return self._result(run, conn_applied=applied, target=None)
        except EngineError as exc:
            return self._failed(run, exc)

    # ---- applying one file -----------------------------------------------------------------
    def _apply_up(self, conn: psycopg.Connection[Any], m: Migration) -> AppliedMigration:
        return self.files.apply_up(conn, m, self.parsed(m.up))

    def _apply_down(self, conn: psycopg.Connection[Any], m: Migration) -> RevertedMigration:
        if m.down is None:
            raise InputError(
                f"no down file for {m.label} (expected {m.label}.down.sql)", file=m.up.name
            )
        return self.files.apply_down(conn, m, self.parsed(m.down))

    def _validate(
        self,
        conn: psycopg.Connection[Any],
        applied: dict[str, AppliedRow],
        baselines: dict[str, float | None],
        final: bool,
    ) -> ValidationReport:
        from dbmigrator.engine.validation import validate_applied

        return validate_applied(
            conn, self.migrations, self.parsed, applied, self.checks, baselines, final
        )

    def _result(
        self, run: RunState, *, conn_applied: dict[str, AppliedRow], target: str | None
    ) -> RunResult:
        current = current_version(conn_applied)
        return run_result(run, database=self.dsn.dbname, current=current, target=target)

    def _failed(self, run: RunState, exc: EngineError) -> RunResult:
        current: str | None = None
        with contextlib.suppress(EngineError):
            current = current_version(self.read_applied())
        return run_result(run, database=self.dsn.dbname, current=current, error=exc)
