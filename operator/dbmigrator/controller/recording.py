"""Fold a finished Job's result into the status: exactly once, as part of one status write.

The planner decides the outcome (succeeded, retry, failed); this module turns the engine's
RunResult into status facts: current version, applied migrations, backup, validation,
performance, the phase's state and the run's record (or its next attempt after a transient
error). A rehearsal's facts describe a scratch copy and never touch the database's status.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, assert_never

from dbmigrator.api.conditions import ConditionType, Reason, set_condition
from dbmigrator.api.constants import ANNOTATION_APPROVE_PLAN
from dbmigrator.api.fields import PhaseState
from dbmigrator.api.status import (
    MAX_WARNING_DETAILS,
    AppliedMigrationStatus,
    BackupStatus,
    CheckFailureStatus,
    Condition,
    DatabaseMigrationStatus,
    LastJob,
    PerformanceStatus,
    PhaseStatus,
    PlannedStep,
    PlanStatus,
    RunFailure,
    RunState,
    RunStepRecord,
    ValidationStatus,
)
from dbmigrator.controller.gate import describe_plan
from dbmigrator.controller.jobs import backup_relative_path, build_log_hint
from dbmigrator.controller.messages import (
    clip,
    format_size,
    plural,
    redact,
    render_engine_error,
    summarize_validation,
)
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.runs import backoff_seconds, format_time, recovery_step
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import RecordResult
from dbmigrator.engine.results import RunResult, ValidationSummary


def apply_record(
    status: DatabaseMigrationStatus, observed: Observed, rec: RecordResult, now: str
) -> DatabaseMigrationStatus:
    run, result, job = rec.run, rec.result, rec.job
    kind = rec.step.kind
    planned = _planned(run, rec.step)
    ns = observed.resource.namespace
    hint = build_log_hint(job.name, ns)
    updates: dict[str, Any] = {
        "last_job": LastJob(name=job.name, step=str(rec.step), log_hint=hint)
    }
    conditions = list(status.conditions)
    current = status.current_version
    after = db_version_after(kind, result)
    if after is not None:
        current = after
    if result is not None and kind != "rehearse":  # a rehearsal runs on a scratch copy
        updates["applied"] = _merge_applied(status.applied, result)
        if result.validation is not None:
            updates["validation"] = _validation_status(result.validation, now)
            conditions = _validated_condition(conditions, result.validation, observed, now)
        if result.performance:
            updates["performance"] = [
                PerformanceStatus.model_validate(p.model_dump()) for p in result.performance
            ]
    elif result is None and rec.outcome == "succeeded" and kind in ("migrate", "down"):
        current = planned.target  # exit 0 means the target was reached
    elif result is None and rec.outcome == "succeeded" and kind == "restore" and status.backup:
        current = status.backup.version
    if kind == "backup":
        run, conditions, updates = _record_backup(
            run, result, rec, conditions, updates, observed, now
        )
    updates["current_version"] = current
    message = _record_message(rec, result, planned, current, run, ns, status.plan)
    run = _record_run(run, rec, result, message, after, observed, now)
    updates["run"] = run
    updates["conditions"] = conditions
    updates["phases"] = _record_phase(status.phases, rec, message, now)
    updates["message"] = message
    return status.model_copy(update=updates)


def db_version_after(kind: str, result: RunResult | None) -> str | None:
    """The database version a step's result reports, or None when it does not say.

    A command that reached the database and reports no version found it empty ("0"); a
    rehearsal reports on a scratch copy; a transient error may not have reached it at all.
    """
    if result is None or kind == "rehearse":
        return None
    if kind == "plan":  # read the tracking table, changed nothing
        return result.current_version if result.ok else None
    if kind == "backup":
        version = result.backup.version if result.backup is not None else ""
        return result.current_version or version or None
    if result.error is not None and result.error.kind in ("database", "lock", "input"):
        return result.current_version
    return result.current_version or "0"


def _record_backup(
    run: RunState,
    result: RunResult | None,
    rec: RecordResult,
    conditions: list[Condition],
    updates: dict[str, Any],
    observed: Observed,
    now: str,
) -> tuple[RunState, list[Condition], dict[str, Any]]:
    gen = observed.generation
    if rec.outcome == "succeeded" and result is not None and result.backup is not None:
        b = result.backup
        backup = BackupStatus(
            file=backup_relative_path(b.file),
            size_bytes=b.size_bytes,
            sha256=b.sha256,
            version=b.version or result.current_version,
            completed_at=b.completed_at or now,
        )
        updates["backup"] = backup
        run = run.model_copy(update={"backup_file": backup.file})
        if run.start_version is None and backup.version:
            run = run.model_copy(update={"start_version": backup.version})
        text = (
            f"{backup.file} ({format_size(backup.size_bytes)}, version {backup.version or 'none'})"
        )
        conditions = set_condition(
            conditions,
            ConditionType.BACKUP_READY,
            "True",
            Reason.BACKUP_SUCCEEDED,
            text,
            generation=gen,
            now=now,
        )
    elif rec.outcome == "failed":
        text = render_engine_error(result, rec.job, observed.resource.namespace)
        conditions = set_condition(
            conditions,
            ConditionType.BACKUP_READY,
            "False",
            Reason.BACKUP_FAILED,
            text,
            generation=gen,
            now=now,
        )
    return run, conditions, updates


def _record_run(
    run: RunState,
    rec: RecordResult,
    result: RunResult | None,
    message: str,
    after: str | None,
    observed: Observed,
    now: str,
) -> RunState:
    if rec.outcome == "retry":
        attempt = run.attempt + 1
        retry_at = observed.now + timedelta(seconds=backoff_seconds(attempt))
        return run.model_copy(
            update={
                "attempt": attempt,
                "retry_after": format_time(retry_at),
                "last_error": message,
                "last_reason": rec.reason,
            }
        )
    applied = len(result.applied) if result is not None and rec.step.kind == "migrate" else 0
    reverted = len(result.reverted) if result is not None else 0
    record = RunStepRecord(
        step=str(rec.step),
        job=rec.job.name,
        succeeded=rec.outcome == "succeeded",
        reason=rec.reason,
        message=message,
        applied=applied,
        reverted=reverted,
        completed_at=now,
    )
    updates: dict[str, Any] = {
        "completed": [*run.completed, record],
        "attempt": 0,
        "retry_after": None,
        "last_error": None,
        "last_reason": None,
    }
    if (
        run.start_version is None
        and result is not None
        and result.from_version
        and rec.step.kind in ("plan", "migrate", "down")
        and not any(r.applied or r.reverted for r in run.completed)
    ):
        updates["start_version"] = result.from_version
    if rec.outcome == "failed" and run.failure is None:
        updates["failure"] = RunFailure(
            step=str(rec.step),
            job=rec.job.name,
            reason=rec.reason,
            message=message,
            version=after,
        )
    return run.model_copy(update=updates)


def _record_phase(
    phases: list[PhaseStatus], rec: RecordResult, message: str, now: str
) -> list[PhaseStatus]:
    index = rec.step.phase_index
    if index is None or index >= len(phases):
        return list(phases)
    out = list(phases)
    state: PhaseState
    match rec.outcome:
        case "retry":
            out[index] = out[index].model_copy(update={"state": "Running", "message": message})
            return out
        case "succeeded":
            state = "Succeeded"
        case "failed":
            state = "Failed"
        case _:
            assert_never(rec.outcome)
    out[index] = out[index].model_copy(
        update={"state": state, "completed_at": now, "job": rec.job.name, "message": message}
    )
    return out


def _record_message(
    rec: RecordResult,
    result: RunResult | None,
    planned: PlannedStep,
    current: str | None,
    run: RunState,
    namespace: str,
    status_plan: PlanStatus | None,
) -> str:
    kind = rec.step.kind
    if rec.outcome != "succeeded":
        text = render_engine_error(result, rec.job, namespace)
        if rec.outcome == "retry":
            return f"{text} (will retry)"
        if kind == "down" and run.failure is not None:
            return f"rollback failed: {text}"
        if kind == "restore":
            return f"restore failed: {text}"
        return text
    if kind == "plan":
        return _plan_message(status_plan, result)
    if kind == "backup":
        if result is not None and result.backup is not None:
            file = backup_relative_path(result.backup.file)
            return f"backed up to {file} ({format_size(result.backup.size_bytes)})"
        return "backup finished (no result reported)"
    if kind == "rehearse":
        count = len(result.applied) if result is not None else 0
        return f"rehearsal passed: {plural(count, 'migration')} applied on a scratch copy"
    if kind == "migrate":
        if result is None:
            return f"reached {planned.target} (no result reported)"
        if not result.applied:
            return f"nothing to apply; database at {current}"
        versions = [a.version for a in result.applied]
        span = versions[0] if len(versions) == 1 else f"{versions[0]}..{versions[-1]}"
        return f"applied {plural(len(versions), 'migration')} ({span})"
    if kind == "down":
        count = len(result.reverted) if result is not None else 0
        if run.failure is not None:
            return f"rolled back to {current} with down files ({plural(count, 'migration')})"
        return f"reverted {plural(count, 'migration')} to {current}"
    return f"restored {run.backup_file} (database at {current})"


def _plan_message(plan: PlanStatus | None, result: RunResult | None) -> str:
    if plan is None or result is None or result.plan is None or plan.hash != result.plan.hash:
        return "plan computed (no plan reported)"
    if plan.review_required:
        return f"{describe_plan(plan)}: needs approval ({ANNOTATION_APPROVE_PLAN})"
    return f"{describe_plan(plan)}: no approval needed"


def _merge_applied(
    applied: list[AppliedMigrationStatus], result: RunResult
) -> list[AppliedMigrationStatus]:
    by_version = {int(a.version): a for a in applied}
    for a in result.applied:
        by_version[int(a.version)] = AppliedMigrationStatus(
            version=a.version,
            name=a.name,
            checksum=a.checksum or None,
            applied_at=a.applied_at or None,
        )
    for r in result.reverted:
        by_version.pop(int(r.version), None)
    return [by_version[k] for k in sorted(by_version)]


def _validation_status(summary: ValidationSummary, now: str) -> ValidationStatus:
    return ValidationStatus(
        passed=summary.passed,
        checked_at=now,
        total=summary.total,
        failed=summary.failed,
        warnings=summary.warnings,
        failures=[
            CheckFailureStatus(check=f.check, target=f.target, message=redact(f.message))
            for f in summary.failures
        ],
        warning_details=[
            CheckFailureStatus(check=w.check, target=w.target, message=redact(w.message))
            for w in summary.warning_details[:MAX_WARNING_DETAILS]
        ],
    )


def _validated_condition(
    conditions: list[Condition], summary: ValidationSummary, observed: Observed, now: str
) -> list[Condition]:
    text = summarize_validation(summary.total, summary.failed)
    if summary.passed:
        return set_condition(
            conditions,
            ConditionType.VALIDATED,
            "True",
            Reason.CHECKS_PASSED,
            text,
            generation=observed.generation,
            now=now,
        )
    details = "; ".join(f"{f.check} {f.target}: {f.message}" for f in summary.failures[:3])
    text = f"{text}: {redact(details)}" if details else text
    return set_condition(
        conditions,
        ConditionType.VALIDATED,
        "False",
        Reason.VALIDATION_FAILED,
        clip(text),
        generation=observed.generation,
        now=now,
    )


def _planned(run: RunState, step: StepId) -> PlannedStep:
    name = str(step)
    for planned in run.plan:
        if planned.step == name:
            return planned
    recovery = recovery_step(run)
    if recovery is not None and recovery.step == name:
        return recovery
    return PlannedStep(step=name)
