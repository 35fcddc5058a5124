"""What a run has done so far, and the result it makes, also when it stops half way. Pure."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dbmigrator.engine.results import (
    DRIFT_LIMIT,
    AppliedMigration,
    DriftItem,
    RevertedMigration,
    RunResult,
)

if TYPE_CHECKING:  # the validation module talks to the database; only its report is used here
    from dbmigrator.engine.checkresult import ValidationReport
    from dbmigrator.engine.drift import DriftReport
    from dbmigrator.engine.errors import EngineError


@dataclass
class RunState:
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


def run_result(
    run: RunState,
    *,
    database: str,
    current: str | None,
    target: str | None = None,
    error: EngineError | None = None,
) -> RunResult:
    """The run's result: a success, or the failure `error` with what was done before it."""
    drift, drift_count = drift_items(run.drift)
    return RunResult(
        command=run.command,
        ok=error is None,
        exit_code=0 if error is None else error.exit_code,
        database=database,
        from_version=run.from_version,
        current_version=current,
        target_version=target if error is None else None,
        applied=run.applied,
        reverted=run.reverted,
        validation=run.report.summary() if run.report else None,
        performance=run.report.timings if run.report else [],
        drift=drift,
        drift_count=drift_count,
        error=error.info() if error is not None else None,
        duration_ms=round((time.monotonic() - run.started) * 1000, 1),
    )
