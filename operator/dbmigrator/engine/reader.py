"""What the engine can tell without changing the database: the parsed files, the status, the
plans of `up` and `down` (with the preflight and the approved-plan check), lint and drift.
`runner.Engine` adds the runs that change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import psycopg

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.engine import tracking
from dbmigrator.engine.catalog import read_server_facts
from dbmigrator.engine.database import Dsn, connect
from dbmigrator.engine.drift import DriftReport, plan_managed_schemas
from dbmigrator.engine.files import MigrationSet, SqlFile
from dbmigrator.engine.options import RunOptions
from dbmigrator.engine.planhash import Direction, check_approved
from dbmigrator.engine.planning import (
    AppliedRow,
    DownPlan,
    Phase,
    StatusReport,
    UpPlan,
    plan_down,
    plan_status,
    plan_up,
)
from dbmigrator.engine.preflight import plan_preflight, preflight_error
from dbmigrator.engine.progress import Progress, Silent
from dbmigrator.engine.schemaguard import read_drift
from dbmigrator.engine.sqlparse import (
    ParsedFile,
    parse_file,
    plan_empty_warnings,
    without_cluster_wide,
)

if TYPE_CHECKING:  # squawk's wrapper loads for the commands that lint
    from dbmigrator.api.lint import FailOn
    from dbmigrator.engine.lintrules import LintReport


class Reader:
    """One database and its migration files, read but not changed."""

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
        """With `--expect-plan`: refuse (PlanChanged) unless the files are the approved ones."""
        if check_approved(self.migrations, self.options, direction, current, target, versions):
            self.progress.info(
                f"plan {self.options.expect_plan} verified: the files are the approved ones"
            )

    # ---- lint (squawk) ---------------------------------------------------------------------
    def lint_up(self, plan: UpPlan, *, fail_on: FailOn | None = None) -> LintReport:
        """squawk over the plan's pending up files, in plan context (engine/lintrules.py)."""
        from dbmigrator.engine.lint import lint_files

        return lint_files(
            [self.parsed(m.up) for m in plan.migrations], self.checks.lint, fail_on=fail_on
        )

    def lint_down(self, plan: DownPlan, *, fail_on: FailOn | None = None) -> LintReport:
        """squawk over the down files a rollback would run, in the order it runs them."""
        from dbmigrator.engine.lint import lint_files

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

    def drift(self, exclude: Sequence[str] = ()) -> DriftReport:
        """The live schema against the last snapshot; the checks file's patterns and `exclude`
        leave objects out."""
        with connect(self.dsn, "drift") as conn:
            return read_drift(conn, (*self.checks.drift.exclude, *exclude))
