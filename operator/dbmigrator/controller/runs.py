"""What a run is made of and where it stands, computed from status alone (pure helpers).

A run (`status.run`) has a `plan` fixed at its start and a list of recorded steps; the current
step is the first planned step neither recorded nor already covered by `currentVersion`, or,
after a failure, the recovery step (down/restore) that `rollback.onFailure` asks for.
"""

from __future__ import annotations

from datetime import datetime

from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import PlannedStep, RunState, RunStepRecord
from dbmigrator.controller.jobs import build_job_name
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.stepids import StepId

IMPLICIT_PHASE = "all"
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 600.0


def vint(version: str | None) -> int:
    """A version as a number (None, an empty database or an unknown version, is 0)."""
    return int(version) if version else 0


def parse_time(value: str) -> datetime:
    """Read an RFC 3339 time written by `format_time`."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with seconds precision, e.g. 2026-11-24T22:05:01Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff_seconds(attempt: int) -> float:
    """Delay before attempt `attempt` (1, 2, ...): 30s, 60s, 120s, ... capped at 10 minutes."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS))


def spec_phases(spec: DatabaseMigrationSpec) -> list[tuple[str, str]]:
    """(name, through) of every phase; without phases one phase 'all' through the target."""
    if not spec.phases:
        return [(IMPLICIT_PHASE, spec.target_version)]
    return [(p.name, p.through) for p in spec.phases]


def job_name_for(observed: Observed, run: RunState, step: StepId) -> str:
    """The deterministic Job name of `step` in `run` (current attempt)."""
    return build_job_name(observed.resource.name, run.generation, step, run.retry, run.attempt)


def current_step(run: RunState, current_version: str | None) -> PlannedStep | None:
    """The step the run is at: the first planned step not recorded and not already covered.

    After a failure only the recovery step (down/restore) remains, when one applies.
    """
    recorded = {r.step for r in run.completed}
    if run.failure is not None:
        recovery = recovery_step(run)
        return recovery if recovery is not None and recovery.step not in recorded else None
    if (
        run.operation == "upgrade"
        and current_version is not None
        and vint(current_version) > vint(run.target_version)
    ):
        return None  # the database turned out to be ahead: never roll back unasked
    for planned in run.plan:
        if planned.step in recorded:
            continue
        if (
            StepId.parse(planned.step).kind == "migrate"
            and current_version is not None
            and vint(current_version) >= vint(planned.target)
        ):
            continue  # already applied (learned from an earlier step): never re-apply
        return planned
    return None


def recovery_step(run: RunState) -> PlannedStep | None:
    """The down/restore step that follows a failed migrate step, if rollback asks for one."""
    failure = run.failure
    if failure is None or run.operation != "upgrade" or not _is_migrate(failure.step):
        return None
    if failure.version is not None and vint(failure.version) <= vint(run.start_version):
        return None  # nothing was applied by this run: nothing to undo
    if run.on_failure == "Down":
        return PlannedStep(step=str(StepId("down")), target=run.start_version or "0")
    if run.on_failure == "Restore":
        return PlannedStep(step=str(StepId("restore")), target=run.start_version)
    return None


def describe_failure(run: RunState) -> str:
    """The run's failure, followed by what the recovery step did."""
    failure = run.failure
    if failure is None:
        return ""
    text = failure.message
    recovery = recovery_record(run)
    if recovery is not None and recovery.message:
        text += f"; then {recovery.message}"
    return text


def recovery_record(run: RunState) -> RunStepRecord | None:
    """The recorded down/restore step of `run`, if one ran."""
    return next((r for r in run.completed if StepId.parse(r.step).facts.recovery), None)


def _is_migrate(step: str) -> bool:
    # A failure written before any step ran (the run's own end) has no step id.
    return bool(step) and StepId.parse(step).kind == "migrate"
