"""A run's life in status (pure): adopted when it starts, superseded, finalized once.

`adopt_run` makes a planned run the status's run (a new one resets status.phases and ends the
unfinished run it replaces); `finalize_run` ends a Running run exactly once with its history
entries (and the recovery step's) and settles the phases.
"""

from __future__ import annotations

from typing import Literal

from dbmigrator.api import constants as c
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import (
    DatabaseMigrationStatus,
    HistoryEntry,
    PhaseStatus,
    RunFailure,
    RunState,
)
from dbmigrator.controller.messages import clip
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.runs import recovery_record, spec_phases
from dbmigrator.controller.stepids import StepId


def adopt_run(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    run: RunState,
    now: str,
) -> DatabaseMigrationStatus:
    """Make `run` the status's run; a new run resets phases and supersedes an unfinished one."""
    old = status.run
    if old is not None and (old.generation, old.retry) == (run.generation, run.retry):
        return status.model_copy(update={"run": run})
    s = supersede(status, observed, now)
    return s.model_copy(
        update={
            "run": run,
            "target_version": run.target_version,
            "phases": initial_phases(spec, run),
        }
    )


def supersede(
    status: DatabaseMigrationStatus, observed: Observed, now: str
) -> DatabaseMigrationStatus:
    """End an unfinished run that a newer generation (or a retry) replaces."""
    old = status.run
    if old is None or old.state != "Running":
        return status
    history = list(status.history)
    if old.completed:
        history = push_history(
            history,
            HistoryEntry(
                operation=old.operation,
                from_version=old.start_version,
                to_version=status.current_version,
                result="Superseded",
                at=now,
                message=f"superseded by generation {observed.generation}",
            ),
        )
    ended = old.model_copy(update={"state": "Superseded", "finished_at": now})
    return status.model_copy(update={"run": ended, "history": history})


def initial_phases(spec: DatabaseMigrationSpec, run: RunState) -> list[PhaseStatus]:
    """status.phases of a new run: Pending where the run migrates the phase, else Skipped."""
    if run.operation != "upgrade":
        return []
    planned = {p.step for p in run.plan}
    return [
        PhaseStatus(
            name=name,
            through=through,
            state="Pending" if str(StepId.migrate(i)) in planned else "Skipped",
        )
        for i, (name, through) in enumerate(spec_phases(spec), start=1)
    ]


def finalize_run(
    status: DatabaseMigrationStatus,
    run: RunState,
    state: Literal["Succeeded", "Failed"],
    reason: str,
    message: str,
    now: str,
) -> DatabaseMigrationStatus:
    """End a Running run once: set its state, add its history entries, settle its phases."""
    if run.state != "Running":
        return status
    failure = run.failure
    if state == "Failed" and failure is None:
        failure = RunFailure(
            step="", reason=reason, message=message, version=status.current_version
        )
    entries: list[HistoryEntry] = []
    stopped_at = failure.version if failure and failure.version else status.current_version
    entries.append(
        HistoryEntry(
            operation=run.operation,
            from_version=run.start_version,
            to_version=stopped_at,
            result=state,
            at=now,
            message=clip(failure.message if failure else message),
        )
    )
    recovery = recovery_record(run)
    if recovery is not None and run.failure is not None:
        entries.append(
            HistoryEntry(
                operation="rollback" if StepId.parse(recovery.step).kind == "down" else "restore",
                from_version=stopped_at,
                to_version=status.current_version,
                result="Succeeded" if recovery.succeeded else "Failed",
                at=now,
                message=clip(recovery.message or ""),
            )
        )
    history = list(status.history)
    for entry in entries:
        history = push_history(history, entry)
    phases = status.phases
    if state == "Succeeded":
        phases = [
            p.model_copy(update={"state": "Skipped"}) if p.state == "Pending" else p for p in phases
        ]
    finished = run.model_copy(update={"state": state, "finished_at": now, "failure": failure})
    return status.model_copy(update={"run": finished, "history": history, "phases": phases})


def push_history(history: list[HistoryEntry], entry: HistoryEntry) -> list[HistoryEntry]:
    """`history` with `entry` appended, the oldest dropped beyond the limit."""
    return [*history, entry][-c.HISTORY_LIMIT :]
