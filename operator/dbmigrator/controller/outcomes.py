"""What a finished Job means for its run: succeeded, retry or failed, and why (pure).

The planner hands every finished (or given-up) Job of the current step to
`classify_finished_job`; the RecordResult it returns is data that `status.fold_results` folds
into status before the next step is planned.
"""

from __future__ import annotations

from dataclasses import replace

from dbmigrator.api.conditions import Reason
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import RunState
from dbmigrator.controller.observed import Observed, ObservedJob
from dbmigrator.controller.results import RejectedResult, read_job_result
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import RecordResult
from dbmigrator.engine.results import RunResult

# Engine error kinds that a new attempt of the same step may get past. `interrupted`: the pod
# was stopped by a signal (deleted, evicted, its node drained); the engine rolled the file back.
TRANSIENT_KINDS = {
    "database": Reason.DATABASE_UNREACHABLE,
    "lock": Reason.DATABASE_LOCKED,
    "interrupted": Reason.INTERRUPTED,
}
# The reason of a failed migrate step, by the engine's error kind (other kinds: KINDS' failure).
_MIGRATE_FAILURES = {
    "validation": Reason.VALIDATION_FAILED,
    "drift": Reason.DRIFT_DETECTED,
    "schema-drift": Reason.SCHEMA_DRIFT_DETECTED,  # the gate saw none; it came since
    "input": Reason.INVALID_MIGRATIONS,
}


def classify_finished_job(
    spec: DatabaseMigrationSpec, observed: Observed, run: RunState, step: StepId, job: ObservedJob
) -> RecordResult:
    """The outcome of `step`'s finished (or given-up) Job, with the reason to record."""
    read = read_job_result(job.termination_message, step, observed.resource.name)
    if isinstance(read, RejectedResult):  # never trusted, whatever the Job's state says
        note = f"its result document was rejected: {read.problem}"
        rejected = replace(job, termination_message=None, failure_reason=note)
        return RecordResult(rejected, step, run, None, "failed", Reason.JOB_FAILED)
    result = read
    if job.state == "Succeeded":
        return RecordResult(job, step, run, result, "succeeded", Reason.SUCCEEDED)
    if job.state == "Active" and job.stuck is not None:  # given up: the pod cannot start
        return RecordResult(job, step, run, None, "failed", job.stuck.reason)
    if job.oom_killed:
        return RecordResult(job, step, run, result, "failed", Reason.OOM_KILLED)
    error_kind = result.error.kind if result is not None and result.error is not None else None
    transient = TRANSIENT_KINDS.get(error_kind or "")
    if error_kind == "interrupted" and "DeadlineExceeded" in (job.failure_reason or ""):
        transient = None  # stopped by its own activeDeadlineSeconds: another try would be too
    if result is None and job.interrupted:
        transient = Reason.INTERRUPTED  # its pod was taken away before it could say anything
    if transient is not None:
        can_retry = run.generation == observed.generation and run.attempt < spec.job.max_retries
        return RecordResult(job, step, run, result, "retry" if can_retry else "failed", transient)
    return RecordResult(job, step, run, result, "failed", failure_reason(step, result))


def failure_reason(step: StepId, result: RunResult | None) -> str:
    """The condition reason for a failed step, from the step and the engine's error kind."""
    if result is None:
        return Reason.JOB_FAILED
    if result.error is not None and result.error.kind == "plan":
        return Reason.PLAN_CHANGED  # the files are not the approved plan (any step)
    if step.facts.failure is not None:
        return step.facts.failure
    error = result.error.kind if result.error is not None else None
    return _MIGRATE_FAILURES.get(error or "", Reason.MIGRATION_FAILED)
