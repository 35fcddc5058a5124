"""Pure status computation: fold finished Jobs' results in, then apply the planned action.

`plan_reconcile(spec, status, observed)` is what the reconciler calls: it folds every finished
Job's result into the status (`fold_results`, data, not actions), plans the one next action on
that status, and returns the action, the new status to write (once, after the action
succeeded), the Events to emit and when to look again. Conditions follow kstatus:

    in progress      Ready=False  Reconciling=True   Stalled=False
    needs a human    Ready=False  Reconciling=False  Stalled=True    (Fail, Blocked, invalid spec)
    succeeded        Ready=True   Reconciling=False  Stalled=False
    suspended        Ready=False  Reconciling=False  Stalled=False   (reason Suspended)
    awaiting a human Ready=False  Reconciling=False  Stalled=False   (reason AwaitingApproval)

`status.observedGeneration` is set when the generation's outcome is decided (Done, Fail, Blocked,
Suspended, AwaitApproval); every condition carries the generation it was computed from. `lastTransitionTime`
changes only when a condition's status changes. Time comes in through `observed.now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, assert_never

from dbmigrator.api.conditions import ConditionType, Reason, set_condition
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus, LastJob
from dbmigrator.controller.delays import (
    APPROVAL_RECHECK_SECONDS,
    BLOCKED_RECHECK_SECONDS,
    JOB_POLL_SECONDS,
    SUSPEND_POLL_SECONDS,
)
from dbmigrator.controller.events import (
    Event,
    build_ready_change_events,
    build_record_events,
    build_step_events,
    dedupe_events,
)
from dbmigrator.controller.gate import build_plan_status
from dbmigrator.controller.jobs import build_log_hint
from dbmigrator.controller.messages import clip, redact, success_message
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.planner import next_result, plan
from dbmigrator.controller.recording import apply_record
from dbmigrator.controller.runs import format_time
from dbmigrator.controller.runstatus import adopt_run, finalize_run, supersede
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import (
    AwaitApproval,
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


@dataclass(frozen=True)
class Reconcile:
    """The outcome of one reconcile: the action, the status, the Events, when to look again."""

    step: Step | None  # None: nothing to execute (the spec itself is invalid)
    status: DatabaseMigrationStatus
    events: tuple[Event, ...]
    requeue_after: float | None


def plan_reconcile(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> Reconcile:
    """Fold in every finished Job's result, then plan the next action and apply it to status."""
    folded, events = fold_results(spec, status, observed)
    step = plan(spec, folded, observed)
    new = apply_step(spec, folded, observed, step)
    events = [*events, *build_step_events(step, folded, new)]
    return Reconcile(step, new, tuple(dedupe_events(events)), plan_requeue(step))


def fold_results(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> tuple[DatabaseMigrationStatus, list[Event]]:
    """The status with every finished Job's result recorded, and the Events they produce.

    Each observed Job is recorded at most once (its step is then done, or its next attempt has a
    new name), so the fold ends after at most one round per observed Job.
    """
    events: list[Event] = []
    for _ in observed.jobs:
        rec = next_result(spec, status, observed)
        if rec is None:
            break
        new = record_result(spec, status, observed, rec)
        events.extend(build_record_events(rec, new))
        status = new
    return status, events


def record_result(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    rec: RecordResult,
) -> DatabaseMigrationStatus:
    """The status with one finished Job's result recorded in its run."""
    if status.waiting_since is not None:
        status = status.model_copy(update={"waiting_since": None})
    now = format_time(observed.now)
    status = adopt_run(spec, status, observed, rec.run, now)
    if rec.step.kind == "plan" and rec.result is not None and rec.result.plan is not None:
        plan = build_plan_status(spec, rec.result.plan, rec.result, rec.run.generation, now)
        status = status.model_copy(update={"plan": plan})
    return apply_record(status, observed, rec, now)


def plan_requeue(step: Step) -> float | None:
    """When to reconcile again after executing `step` (None: only when something changes)."""
    match step:
        case CreateJob():
            return JOB_POLL_SECONDS
        case DeleteJob():
            return SUSPEND_POLL_SECONDS
        case Wait():
            return step.requeue_after
        case AwaitApproval():
            return APPROVAL_RECHECK_SECONDS
        case Blocked():
            # Fixed outside the resource (a Secret or ConfigMap appears or changes), which the
            # operator does not watch: look again soon rather than at the slow resync.
            return BLOCKED_RECHECK_SECONDS
        case Done() | Fail() | Suspended():
            return None
        case _:
            assert_never(step)


def plan_invalid_spec(
    status: DatabaseMigrationStatus, problems: str, generation: int, now: datetime
) -> Reconcile:
    """A spec the models reject (the CRD schema should have): Stalled, an Event only on change."""
    message = f"invalid spec: {problems}"
    new = _outcome(
        status, "Failed", "False", Reason.INVALID_SPEC, message, generation, format_time(now),
        stalled=True,
    )  # fmt: skip
    events = build_ready_change_events(status, new, warning=True)
    return Reconcile(None, new, tuple(events), None)


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
    match step:
        case CreateJob():
            s = adopt_run(spec, status, observed, step.run, now)
            if step.approves is not None and s.plan is not None and s.plan.hash == step.approves:
                s = s.model_copy(
                    update={
                        "plan": s.plan.model_copy(update={"approved": True, "approved_at": now})
                    }
                )
            s = _mark_running(s, observed, step.request.step, step.job_name, now)
            phase = step.request.step.facts.phase
            return _progress(s, phase, step.reason, step.message, gen, now)
        case Wait():
            s = status if step.run is None else adopt_run(spec, status, observed, step.run, now)
            running = step.step.facts.phase if step.step else None
            if step.step and step.job_name and step.run is not None:
                s = _mark_running(s, observed, step.step, step.job_name, now)
            phase = running or status.phase or "Pending"
            return _progress(s, phase, step.reason, step.message, gen, now)
        case DeleteJob():
            s = _interrupt_phases(status)
            return _progress(s, "Suspended", step.reason, step.message, gen, now)
        case AwaitApproval():
            s = adopt_run(spec, status, observed, step.run, now)
            return _outcome(
                s, "AwaitingApproval", "False", Reason.AWAITING_APPROVAL, step.message, gen, now,
                stalled=False,
            )  # fmt: skip
        case Suspended():
            return _outcome(
                status, "Suspended", "False", Reason.SUSPENDED, step.message, gen, now,
                stalled=False,
            )  # fmt: skip
        case Done():
            return _apply_done(spec, status, observed, step, now)
        case Fail():
            s = adopt_run(spec, status, observed, step.run, now)
            s = finalize_run(s, step.run, "Failed", step.reason, step.message, now)
            return _outcome(s, "Failed", "False", step.reason, step.message, gen, now, stalled=True)
        case Blocked():
            return _outcome(
                status, "Failed", "False", step.reason, step.message, gen, now, stalled=True
            )
        case _:
            assert_never(step)


def _mark_running(
    status: DatabaseMigrationStatus, observed: Observed, step: StepId, job_name: str, now: str
) -> DatabaseMigrationStatus:
    hint = build_log_hint(job_name, observed.resource.namespace)
    last_job = LastJob(name=job_name, step=str(step), log_hint=hint)
    phases = list(status.phases)
    index = step.phase_index
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
        s = supersede(status, observed, now)
        if status.phase == "Succeeded" and status.message:
            message = status.message
        else:
            message = f"database is at version {status.current_version or spec.target_version}"
        s = s.model_copy(update={"target_version": spec.target_version})
        return _outcome(s, "Succeeded", "True", Reason.SUCCEEDED, message, gen, now, stalled=False)
    s = adopt_run(spec, status, observed, run, now)
    message = success_message(s, run) if run.state == "Running" else (status.message or "")
    s = finalize_run(s, run, "Succeeded", Reason.SUCCEEDED, message, now)
    return _outcome(s, "Succeeded", "True", Reason.SUCCEEDED, message, gen, now, stalled=False)


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
