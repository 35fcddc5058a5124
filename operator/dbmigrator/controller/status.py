"""Pure status computation: fold a planned step (and a finished Job's result) into the status.

`plan_reconcile(spec, status, observed)` is what a handler calls: it plans, records every
finished Job's result (a RecordResult step is folded in and planning repeats), and returns the
one action to execute, the new status to write (once, after the action succeeded) and the Events
to emit. Conditions follow kstatus:

    in progress      Ready=False  Reconciling=True   Stalled=False
    needs a human    Ready=False  Reconciling=False  Stalled=True    (Fail, Blocked)
    succeeded        Ready=True   Reconciling=False  Stalled=False
    suspended        Ready=False  Reconciling=False  Stalled=False   (reason Suspended)

`status.observedGeneration` is set when the generation's outcome is decided (Done, Fail, Blocked,
Suspended); every condition carries the generation it was computed from. `lastTransitionTime`
changes only when a condition's status changes. Time comes in through `observed.now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbmigrator.api import constants as c
from dbmigrator.api.conditions import ConditionType, Reason, find_condition, set_condition
from dbmigrator.api.models import (
    DatabaseMigrationSpec,
    DatabaseMigrationStatus,
    HistoryEntry,
    LastJob,
    PhaseStatus,
    RunFailure,
    RunState,
)
from dbmigrator.controller.jobs import build_log_hint, step_kind
from dbmigrator.controller.messages import (
    clip,
    redact,
    render_engine_error,
    success_message,
    summarize_validation,
)
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.planner import plan
from dbmigrator.controller.recording import apply_record, db_version_after
from dbmigrator.controller.runs import describe_failure, format_time, phase_index, spec_phases
from dbmigrator.controller.steps import (
    Blocked,
    CreateJob,
    DeleteJob,
    Done,
    Fail,
    RecordResult,
    Step,
    Suspended,
    Wait,
)

MAX_PLANNING_ROUNDS = 32
_PHASE_OF_STEP = {
    "backup": "BackingUp",
    "rehearse": "Rehearsing",
    "migrate": "Migrating",
    "down": "RollingBack",
    "restore": "RollingBack",
}


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event the handler should emit on the resource."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Reconcile:
    """The outcome of one reconcile: the action (never RecordResult), the status, the Events."""

    step: Step
    status: DatabaseMigrationStatus
    events: tuple[Event, ...]


def plan_reconcile(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> Reconcile:
    """Plan, fold in every finished Job's result, and return the next action with its status."""
    events: list[Event] = []
    current = status
    for _ in range(MAX_PLANNING_ROUNDS):
        step = plan(spec, current, observed)
        new = apply_step(spec, current, observed, step)
        events.extend(_events(step, current, new))
        if not isinstance(step, RecordResult):
            return Reconcile(step, new, tuple(_dedupe(events)))
        current = new
    raise RuntimeError("the planner kept recording results; this is a bug")


def apply_step(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    step: Step,
) -> DatabaseMigrationStatus:
    """The status after `step` (for CreateJob/DeleteJob: after the handler executed it)."""
    if isinstance(step, Wait | Blocked):
        waiting = step.waiting_since if isinstance(step, Wait) else status.waiting_since
    else:
        waiting = None
    if waiting != status.waiting_since:
        status = status.model_copy(update={"waiting_since": waiting})
    now = format_time(observed.now)
    gen = observed.generation
    if isinstance(step, CreateJob):
        s = _adopt_run(spec, status, observed, step.run, now)
        s = _mark_running(s, observed, step.request.step, step.job_name, now)
        return _progress(s, _PHASE_OF_STEP[step.request.kind], step.reason, step.message, gen, now)
    if isinstance(step, Wait):
        s = status if step.run is None else _adopt_run(spec, status, observed, step.run, now)
        phase: str = _phase_of(step.step) or status.phase or "Pending"
        if step.step and step.job_name and step.run is not None:
            s = _mark_running(s, observed, step.step, step.job_name, now)
        return _progress(s, phase, step.reason, step.message, gen, now)
    if isinstance(step, RecordResult):
        s = _adopt_run(spec, status, observed, step.run, now)
        return apply_record(s, observed, step, now)
    if isinstance(step, DeleteJob):
        s = _interrupt_phases(status)
        return _progress(s, "Suspended", step.reason, step.message, gen, now)
    if isinstance(step, Suspended):
        return _outcome(
            status, "Suspended", "False", Reason.SUSPENDED, step.message, gen, now, stalled=False
        )
    if isinstance(step, Done):
        return _apply_done(spec, status, observed, step, now)
    if isinstance(step, Fail):
        s = _adopt_run(spec, status, observed, step.run, now)
        s = _finalize(s, step.run, "Failed", step.reason, step.message, now)
        return _outcome(s, "Failed", "False", step.reason, step.message, gen, now, stalled=True)
    return _outcome(status, "Failed", "False", step.reason, step.message, gen, now, stalled=True)


def _adopt_run(
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
    s = _supersede(status, observed, now)
    return s.model_copy(
        update={
            "run": run,
            "target_version": run.target_version,
            "phases": _initial_phases(spec, run),
        }
    )


def _supersede(
    status: DatabaseMigrationStatus, observed: Observed, now: str
) -> DatabaseMigrationStatus:
    """End an unfinished run that a newer generation (or a retry) replaces."""
    old = status.run
    if old is None or old.state != "Running":
        return status
    history = list(status.history)
    if old.completed:
        history = _push(
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


def _initial_phases(spec: DatabaseMigrationSpec, run: RunState) -> list[PhaseStatus]:
    if run.operation != "upgrade":
        return []
    planned = {p.step for p in run.plan}
    return [
        PhaseStatus(
            name=name,
            through=through,
            state="Pending" if f"migrate-{i}" in planned else "Skipped",
        )
        for i, (name, through) in enumerate(spec_phases(spec), start=1)
    ]


def _mark_running(
    status: DatabaseMigrationStatus, observed: Observed, step: str, job_name: str, now: str
) -> DatabaseMigrationStatus:
    last_job = LastJob(
        name=job_name, step=step, log_hint=build_log_hint(job_name, observed.resource.namespace)
    )
    phases = list(status.phases)
    index = phase_index(step)
    if index is not None and index < len(phases):
        phase = phases[index]
        started = phase.started_at if phase.job == job_name and phase.started_at else now
        phases[index] = phase.model_copy(
            update={"state": "Running", "job": job_name, "started_at": started, "message": None}
        )
        for i in range(index):  # phases before a running one that never ran were covered
            if phases[i].state == "Pending":
                phases[i] = phases[i].model_copy(update={"state": "Skipped"})
    return status.model_copy(update={"last_job": last_job, "phases": phases})


def _interrupt_phases(status: DatabaseMigrationStatus) -> DatabaseMigrationStatus:
    phases = [
        p.model_copy(update={"state": "Pending", "message": "interrupted by spec.suspend"})
        if p.state == "Running"
        else p
        for p in status.phases
    ]
    return status.model_copy(update={"phases": phases})


def _phase_of(step: str | None) -> str | None:
    """status.phase while `step` runs (None for a step name that is not ours)."""
    try:
        return _PHASE_OF_STEP[step_kind(step)] if step else None
    except ValueError:
        return None


def _apply_done(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    step: Done,
    now: str,
) -> DatabaseMigrationStatus:
    gen = observed.generation
    run = step.run
    if run is None:
        s = _supersede(status, observed, now)
        if status.phase == "Succeeded" and status.message:
            message = status.message
        else:
            message = f"database is at version {status.current_version or spec.target_version}"
        s = s.model_copy(update={"target_version": spec.target_version})
        return _outcome(s, "Succeeded", "True", Reason.SUCCEEDED, message, gen, now, stalled=False)
    s = _adopt_run(spec, status, observed, run, now)
    message = success_message(s, run) if run.state == "Running" else (status.message or "")
    s = _finalize(s, run, "Succeeded", Reason.SUCCEEDED, message, now)
    return _outcome(s, "Succeeded", "True", Reason.SUCCEEDED, message, gen, now, stalled=False)


def _finalize(
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
    recovery = next((r for r in run.completed if r.step in ("down", "restore")), None)
    if recovery is not None and run.failure is not None:
        entries.append(
            HistoryEntry(
                operation="rollback" if recovery.step == "down" else "restore",
                from_version=stopped_at,
                to_version=status.current_version,
                result="Succeeded" if recovery.succeeded else "Failed",
                at=now,
                message=clip(recovery.message or ""),
            )
        )
    history = list(status.history)
    for entry in entries:
        history = _push(history, entry)
    phases = status.phases
    if state == "Succeeded":
        phases = [
            p.model_copy(update={"state": "Skipped"}) if p.state == "Pending" else p for p in phases
        ]
    finished = run.model_copy(update={"state": state, "finished_at": now, "failure": failure})
    return status.model_copy(update={"run": finished, "history": history, "phases": phases})


def _progress(
    status: DatabaseMigrationStatus, phase: str, reason: str, message: str, gen: int, now: str
) -> DatabaseMigrationStatus:
    message = clip(redact(message))
    conditions = set_condition(
        status.conditions, ConditionType.READY, "False", reason, message, generation=gen, now=now
    )
    conditions = set_condition(
        conditions, ConditionType.RECONCILING, "True", reason, message, generation=gen, now=now
    )
    conditions = set_condition(
        conditions, ConditionType.STALLED, "False", reason, message, generation=gen, now=now
    )
    return status.model_copy(update={"phase": phase, "message": message, "conditions": conditions})


def _outcome(
    status: DatabaseMigrationStatus,
    phase: str,
    ready: Literal["True", "False"],
    reason: str,
    message: str,
    gen: int,
    now: str,
    *,
    stalled: bool,
) -> DatabaseMigrationStatus:
    message = clip(redact(message))
    conditions = list(status.conditions)
    conditions = set_condition(
        conditions, ConditionType.READY, ready, reason, message, generation=gen, now=now
    )
    conditions = set_condition(
        conditions, ConditionType.RECONCILING, "False", reason, message, generation=gen, now=now
    )
    conditions = set_condition(
        conditions,
        ConditionType.STALLED,
        "True" if stalled else "False",
        reason,
        message,
        generation=gen,
        now=now,
    )
    return status.model_copy(
        update={
            "phase": phase,
            "message": message,
            "conditions": conditions,
            "observed_generation": gen,
        }
    )


def _events(
    step: Step, before: DatabaseMigrationStatus, after: DatabaseMigrationStatus
) -> list[Event]:
    if isinstance(step, RecordResult):
        message = after.message or ""
        if step.outcome == "succeeded":
            return [Event("Normal", Reason.SUCCEEDED, f"{step.step}: {message}")]
        return [Event("Warning", step.reason, f"{step.step}: {message}")]
    if isinstance(step, CreateJob):
        return [Event("Normal", step.reason, f"created job {step.job_name}: {step.message}")]
    if isinstance(step, DeleteJob):
        return [Event("Normal", step.reason, step.message)]
    if isinstance(step, Done | Fail | Blocked | Suspended):
        old = find_condition(before.conditions, ConditionType.READY)
        new = find_condition(after.conditions, ConditionType.READY)
        if new is None:
            return []
        if old is not None and (old.status, old.reason, old.message) == (
            new.status,
            new.reason,
            new.message,
        ):
            return []
        warning = isinstance(step, Fail | Blocked)
        return [Event("Warning" if warning else "Normal", new.reason, new.message)]
    return []


def _dedupe(events: list[Event]) -> list[Event]:
    """A failed step and the run's failure say the same thing: keep one Event for it."""
    out: list[Event] = []
    for event in events:
        prev = out[-1] if out else None
        if (
            prev
            and (prev.type, prev.reason) == (event.type, event.reason)
            and (event.message in prev.message or prev.message in event.message)
        ):
            continue
        out.append(event)
    return out


def _push(history: list[HistoryEntry], entry: HistoryEntry) -> list[HistoryEntry]:
    return [*history, entry][-c.HISTORY_LIMIT :]


__all__ = [
    "Event",
    "Reconcile",
    "apply_step",
    "db_version_after",
    "describe_failure",
    "plan_reconcile",
    "redact",
    "render_engine_error",
    "success_message",
    "summarize_validation",
]
