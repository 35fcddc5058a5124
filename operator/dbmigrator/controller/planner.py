"""The pure planner: (spec, status, observed) -> the one next step. No I/O, no clock, no kopf.

Level-based: every reconcile compares `spec.targetVersion` with `status.currentVersion` and the
run remembered in `status.run`; it never relies on which field changed. The run's shape (its
`plan` of steps) is fixed when it starts; its progress is the list of recorded steps
(`status.run.completed`), so the current step is always recomputed from status alone, and its Job
name is deterministic. That makes every crash point safe:

    killed after creating a Job, before writing status  -> the Job exists: adopt it (Wait)
    killed after a Job finished, before recording       -> record it now (once: the write is atomic)
    killed after recording, before the next Job         -> the next step is planned again

A finished Job is no action: `next_result` returns it as data (RecordResult) and
`status.fold_results` records it before `plan` runs, so `plan` always sees a status where the
current step's Job, if finished, is recorded (it refuses one that is not, loudly).

Transition table (first matching row wins; "run" is `status.run`):

    run Running, current step's Job finished       -> (next_result: RecordResult, folded first)
    a Job active, suspend                          -> DeleteJob(job); Suspended while it is deleted
    a Job active, it is the current step's         -> Wait(job)  (adopted, possibly by a new run)
    a Job active, any other                        -> Wait(WaitingForJob)  (never two Jobs)
    suspend                                        -> Suspended
    new generation, retry annotation, or source changed after a failed run (or while its
    plan awaits approval)                          -> newrun.py: Done | Blocked, or the new
                                                      run's CreateJob(first step)
    run Running, retry backoff pending             -> Wait(requeue_after)
    run Running, plan recorded, gate says no       -> AwaitApproval | Fail(SchemaDriftDetected) (gate.py)
    run Running, a step left                       -> CreateJob(step) (or adopt/record its Job)
    run Running, no step left, failure recorded    -> Fail(reason) (after any Down/Restore)
    run Running, no step left, current == target   -> Done
    run Running, no step left, current != target   -> Fail(TargetNotReached)
    run Succeeded / Failed (same generation)       -> Done / Fail (idempotent)

The steps of a run are fixed when it starts (`newrun.py`); a failed migrate step is followed by
`down` (to the run's start version) when onFailure is Down, or `restore` (of this run's backup)
when onFailure is Restore, then the run fails.
"""

from __future__ import annotations

from dbmigrator.api.conditions import Reason
from dbmigrator.api.constants import ANNOTATION_RETRY
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus, PlannedStep, RunState
from dbmigrator.controller.checks import check_inputs
from dbmigrator.controller.delays import running_job_recheck
from dbmigrator.controller.dependencies import await_dependency
from dbmigrator.controller.gate import approves, plan_binding, plan_gate
from dbmigrator.controller.jobs import JobRequest
from dbmigrator.controller.newrun import needs_new_run, plan_new_run
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.outcomes import classify_finished_job
from dbmigrator.controller.runs import (
    current_step,
    describe_failure,
    job_name_for,
    parse_time,
    spec_phases,
    vint,
)
from dbmigrator.controller.stepids import StepId, parse_step_or_none
from dbmigrator.controller.steps import (
    CreateJob,
    DeleteJob,
    Done,
    Fail,
    RecordResult,
    Step,
    Suspended,
    Wait,
)


def next_result(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> RecordResult | None:
    """The finished Job whose result must be folded into status before planning, or None.

    `status.fold_results` folds these in one by one (each Job at most once); `plan` then sees a
    status where no finished Job of the current step is left unrecorded.
    """
    decision = _decide(spec, status, observed)
    return decision if isinstance(decision, RecordResult) else None


def plan(spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed) -> Step:
    """The one next action for a status with every finished Job folded in. Pure, deterministic.

    Raises ValueError when a finished Job's result is still to be folded (`next_result`): the
    caller skipped `status.fold_results`, a bug, never silently ignored.
    """
    decision = _decide(spec, status, observed)
    if isinstance(decision, RecordResult):
        raise ValueError(
            f"job {decision.job.name} finished but its result is not in status yet: fold it in "
            "first (status.fold_results)"
        )
    return decision


def _decide(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> Step | RecordResult:
    run = status.run
    if run is not None and run.state == "Running":
        step = current_step(run, status.current_version)
        if step is not None:
            sid = StepId.parse(step.step)
            job = observed.job(job_name_for(observed, run, sid))
            done = job is not None and (job.finished or job.given_up(observed.now))
            if job is not None and done and not job.deleting:
                return classify_finished_job(spec, observed, run, sid, job)
    if observed.active_jobs:
        return _plan_active(spec, status, observed)
    if spec.suspend:
        return Suspended("suspended (spec.suspend is true); no Job runs")
    if needs_new_run(status, observed):
        return _start_run(spec, status, observed)
    assert run is not None  # needs_new_run is True without a run
    if run.state == "Running":
        return _advance(spec, status, observed, run)
    if run.state == "Failed":
        failure = run.failure
        reason = failure.reason if failure else Reason.TARGET_NOT_REACHED
        return Fail(run, reason, describe_failure(run))
    return Done(run)


def _plan_active(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> Step:
    active = observed.active_jobs
    if spec.suspend:
        running = [j for j in active if not j.deleting]
        if running:
            return DeleteJob(
                running[0].name,
                Reason.SUSPENDING,
                f"suspending: deleting job {running[0].name}",
            )
        return Suspended(f"suspended; waiting for job {active[0].name} to terminate")
    for run, step in _candidates(spec, status, observed):
        sid = StepId.parse(step.step)
        name = job_name_for(observed, run, sid)
        job = observed.job(name)
        if job is not None and job.state == "Active" and not job.given_up(observed.now):
            message = _progress_message(spec, run, step, name)
            if job.stuck is not None:
                message += f"; {job.stuck.describe()}"
            if run.generation != observed.generation:
                message += f"; generation {observed.generation} is applied after it"
            return Wait(
                sid.facts.progress, message, job_name=name, step=sid, run=run,
                requeue_after=running_job_recheck(job, observed.now),
            )  # fmt: skip
    job = active[0]
    origin = f" (generation {job.generation})" if job.generation is not None else ""
    return Wait(
        Reason.WAITING_FOR_JOB,
        f"waiting for job {job.name}{origin} to finish before acting on generation "
        f"{observed.generation}",
        job_name=job.name,
        step=parse_step_or_none(job.step),
    )


def _candidates(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> list[tuple[RunState, PlannedStep]]:
    """(run, step) pairs whose Job the planner would adopt: the current run's, a new run's."""
    out: list[tuple[RunState, PlannedStep]] = []
    run = status.run
    if run is not None and run.state == "Running":
        step = current_step(run, status.current_version)
        if step is not None:
            out.append((run, step))
    if needs_new_run(status, observed):
        new = plan_new_run(spec, status, observed)
        if isinstance(new, RunState):
            step = current_step(new, status.current_version)
            if step is not None:
                out.append((new, step))
    return out


def _start_run(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> Step | RecordResult:
    new = plan_new_run(spec, status, observed)
    if not isinstance(new, RunState):
        return new
    return _advance(spec, status, observed, new)


def _advance(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    run: RunState,
) -> Step | RecordResult:
    if run.retry_after is not None:
        remaining = (parse_time(run.retry_after) - observed.now).total_seconds()
        if remaining > 0:
            step = current_step(run, status.current_version)
            waiting = StepId.parse(step.step) if step else None
            return Wait(
                run.last_reason or Reason.DATABASE_UNREACHABLE,
                f"retrying {waiting or 'the step'} in {int(remaining)}s "
                f"(attempt {run.attempt + 1} of {spec.job.max_retries + 1}): {run.last_error}",
                step=waiting,
                run=run,
                requeue_after=remaining,
            )
    step = current_step(run, status.current_version)
    if step is None:
        return _finish(status, run)
    sid = StepId.parse(step.step)
    name = job_name_for(observed, run, sid)
    job = observed.job(name)
    if job is not None:
        if job.deleting:
            return Wait(
                Reason.WAITING_FOR_JOB,
                f"waiting for job {name} to be deleted",
                name,
                sid,
                run,
            )
        if job.state == "Active" and not job.given_up(observed.now):
            message = _progress_message(spec, run, step, name)
            if job.stuck is not None:
                message += f"; {job.stuck.describe()}"
            return Wait(
                sid.facts.progress, message, name, sid, run,
                requeue_after=running_job_recheck(job, observed.now),
            )  # fmt: skip
        return classify_finished_job(spec, observed, run, sid, job)
    gate = plan_gate(spec, status, observed, run, sid)
    if gate is not None:
        return gate
    blocked = check_inputs(spec, observed)
    if blocked is not None:
        return await_dependency(spec, status, observed, blocked)
    restore = sid.kind == "restore"
    if restore and not run.backup_file:
        return Fail(run, Reason.RESTORE_FAILED, describe_failure(run) + "; no backup to restore")
    request = JobRequest(
        step=sid,
        generation=run.generation,
        retry=run.retry,
        attempt=run.attempt,
        target=step.target,
        phase=step.phase,
        on_failure="down" if run.on_failure == "Down" else "stop",
        backup_file=run.backup_file if restore else None,
        operation=run.operation,
        backup_sha256=_backup_sha256(status, run) if restore else None,
        plan=plan_binding(status, run, sid),
        recovery=run.failure is not None,
    )
    message = _progress_message(spec, run, step, name)
    return CreateJob(
        request, name, run, sid.facts.progress, message, approves(spec, status, run, sid)
    )


def _backup_sha256(status: DatabaseMigrationStatus, run: RunState) -> str | None:
    """The recorded hash of the backup this run restores (the engine verifies the dump)."""
    backup = status.backup
    return backup.sha256 if backup is not None and backup.file == run.backup_file else None


def _finish(status: DatabaseMigrationStatus, run: RunState) -> Step:
    if run.failure is not None:
        return Fail(run, run.failure.reason, describe_failure(run))
    if vint(status.current_version) == vint(run.target_version):
        return Done(run)
    if run.operation == "upgrade" and vint(status.current_version) > vint(run.target_version):
        return Fail(
            run,
            Reason.TARGET_NOT_REACHED,
            f"the database is at {status.current_version}, above spec.targetVersion "
            f"{run.target_version}; nothing was rolled back because the version was not known "
            f"before this run: annotate {ANNOTATION_RETRY} to roll back, or raise the target",
        )
    return Fail(
        run,
        Reason.TARGET_NOT_REACHED,
        f"the run ended with the database at {status.current_version or 'an unknown version'}, "
        f"not at the target {run.target_version}",
    )


def _progress_message(
    spec: DatabaseMigrationSpec, run: RunState, step: PlannedStep, job_name: str
) -> str:
    start = run.start_version or "the database's version"
    if run.start_version is not None and vint(run.start_version) == 0:
        start = "an empty database"
    sid = StepId.parse(step.step)
    kind = sid.kind
    if kind == "plan":
        text = f"planning {run.operation} {start} -> {run.target_version}: files, lint, drift"
    elif kind == "backup":
        verb = "upgrading" if run.operation == "upgrade" else f"the {run.operation}"
        text = f"backing up before {verb} {start} -> {run.target_version}"
    elif kind == "rehearse":
        text = f"rehearsing {start} -> {run.target_version} on a scratch copy"
    elif kind == "migrate":
        total = len(spec_phases(spec))
        text = f"migrating phase {sid.index}/{total} {step.phase} to {step.target}"
    elif kind == "down" and run.failure is not None:
        text = f"rolling back to {step.target} after {run.failure.reason}"
    elif kind == "down":
        text = f"rolling back {start} -> {step.target}"
    else:
        cause = run.failure.reason if run.failure else "a failure"
        text = f"restoring {run.backup_file} after {cause}"
    if run.attempt:
        text += f" (attempt {run.attempt + 1})"
    return f"{text} (job {job_name})"
