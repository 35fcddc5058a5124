"""The `status` of a `DatabaseMigration`: the operator's memory between reconciles.

Kubernetes prunes status fields the CRD does not declare, so everything the planner reads
(`status.run`) is declared here. `render_status_patch` turns a status into the merge patch that
replaces the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from dbmigrator.api import constants as c
from dbmigrator.api.fields import (
    ApiModel,
    OnFailure,
    Operation,
    Phase,
    PhaseState,
    RunOperation,
    RunOutcome,
)


class AppliedMigrationStatus(ApiModel):
    """A migration recorded as applied in the database."""

    version: str = Field(description="Version (the file name's leading digits).")
    name: str = Field(description="Name (the file name after the version).")
    checksum: str | None = Field(default=None, description="Checksum of the applied file.")
    applied_at: str | None = Field(default=None, description="When it was applied (RFC 3339).")


class PhaseStatus(ApiModel):
    """Progress of one phase of the current (or last) upgrade."""

    name: str = Field(description="Phase name from spec.phases ('all' without phases).")
    through: str = Field(description="Last version of the phase.")
    state: PhaseState = Field(description="Pending, Running, Succeeded, Failed or Skipped.")
    job: str | None = Field(default=None, description="Job that ran (or runs) this phase.")
    started_at: str | None = Field(default=None, description="When its Job started (RFC 3339).")
    completed_at: str | None = Field(default=None, description="When it ended (RFC 3339).")
    message: str | None = Field(default=None, description="What happened.")


class BackupStatus(ApiModel):
    """The newest backup taken by the operator."""

    file: str = Field(description="Dump file, relative to the backup volume (resource/file.dump).")
    size_bytes: int = Field(description="Size of the dump in bytes.")
    sha256: str = Field(description="SHA-256 of the dump.")
    version: str | None = Field(default=None, description="Database version when dumped.")
    completed_at: str | None = Field(default=None, description="When it finished (RFC 3339).")


MAX_WARNING_DETAILS = 20


class CheckFailureStatus(ApiModel):
    """One failed validation check."""

    check: str = Field(description="Check kind, e.g. rls, role-probe, object-exists.")
    target: str = Field(description="What was checked, e.g. a table or probe.")
    message: str = Field(description="Why it failed.")


class ValidationStatus(ApiModel):
    """Summary of the last validation."""

    passed: bool = Field(description="True when no check failed.")
    checked_at: str | None = Field(default=None, description="When it ran (RFC 3339).")
    total: int = Field(description="Checks run.")
    failed: int = Field(description="Checks failed.")
    warnings: int = Field(default=0, description="Checks with warnings.")
    failures: list[CheckFailureStatus] = Field(
        default_factory=list, description="The failed checks (possibly truncated)."
    )
    warning_details: list[CheckFailureStatus] = Field(
        default_factory=list,
        max_length=MAX_WARNING_DETAILS,
        description=f"The checks with warnings, each named (the first {MAX_WARNING_DETAILS}).",
    )


class PerformanceStatus(ApiModel):
    """Timing of a configured query against its baseline."""

    name: str = Field(description="Query check name.")
    baseline_ms: float | None = Field(default=None, description="Time before the migration.")
    current_ms: float | None = Field(default=None, description="Time after the migration.")
    degradation_percent: float | None = Field(default=None, description="Slowdown in percent.")
    max_degradation_percent: float | None = Field(default=None, description="Allowed slowdown.")
    passed: bool = Field(default=True, description="True when within the allowed slowdown.")


class PlanFileStatus(ApiModel):
    """One file the plan executes, in order."""

    version: str = Field(description="Version (the file name's leading digits).")
    name: str = Field(description="File name (the down file for a rollback).")
    checksum: str | None = Field(default=None, description="sha256: of the file's text.")


class LintFindingStatus(ApiModel):
    """One lint finding on a file of the plan."""

    file: str = Field(description="File the finding is in.")
    line: int | None = Field(default=None, description="Line of the statement.")
    rule: str = Field(description="Rule name, e.g. require-concurrent-index-creation.")
    level: Literal["error", "warning"] = Field(description="error or warning.")
    message: str = Field(description="What the rule found.")


class LintCountsStatus(ApiModel):
    """How many lint findings the plan has, by level (all of them, not only those listed)."""

    error: int = Field(default=0, description="Findings of level error.")
    warning: int = Field(default=0, description="Findings of level warning.")


class DriftItemStatus(ApiModel):
    """One change to the live schema made outside migrations."""

    object: str = Field(description="Object, e.g. public.categories.")
    kind: str | None = Field(default=None, description="Object kind, e.g. table or column.")
    change: str | None = Field(default=None, description="added, removed or changed.")
    message: str = Field(description="e.g. 'public.categories: column sneaky added'.")


class PlanStatus(ApiModel):
    """The plan of the current (or last) run: what it executes, its hash, what the gate saw."""

    hash: str = Field(
        description="sha256:<hex> over direction, versions and the files' names and checksums; "
        "approve it with the annotation dbmigrator.io/approve-plan=<hash>."
    )
    direction: Literal["up", "down"] = Field(description="up, or down for a rollback.")
    from_version: str | None = Field(default=None, description="Database version planned from.")
    target_version: str = Field(description="Version planned to.")
    files: list[PlanFileStatus] = Field(
        default_factory=list,
        max_length=c.PLAN_FILES_LIMIT,
        description=f"The files executed, in order (the first {c.PLAN_FILES_LIMIT}).",
    )
    file_count: int = Field(default=0, description="How many files the plan executes.")
    lint: list[LintFindingStatus] = Field(
        default_factory=list,
        max_length=c.PLAN_LINT_LIMIT,
        description=f"Lint findings on the plan's files (the first {c.PLAN_LINT_LIMIT}).",
    )
    lint_counts: LintCountsStatus = Field(
        default_factory=LintCountsStatus, description="Lint findings by level."
    )
    drift: list[DriftItemStatus] = Field(
        default_factory=list,
        max_length=c.PLAN_DRIFT_LIMIT,
        description=f"Live-schema changes made outside migrations (the first {c.PLAN_DRIFT_LIMIT}).",
    )
    drift_count: int = Field(default=0, description="How many live-schema changes were found.")
    review_required: bool = Field(
        default=False, description="True when spec.safety.review asks for an approval."
    )
    approved: bool = Field(default=False, description="True once the annotation matched the hash.")
    approved_at: str | None = Field(
        default=None,
        description="When the approval was acted on (RFC 3339); the run's deadline counts from "
        "here, not from the run's start, so the wait for a human is not held against it.",
    )
    generation: int = Field(description="metadata.generation the plan was computed for.")
    computed_at: str | None = Field(default=None, description="When it was computed (RFC 3339).")


class HistoryEntry(ApiModel):
    """One finished operation (the last 10 are kept, oldest first)."""

    operation: Operation = Field(description="upgrade, rollback or restore.")
    from_version: str | None = Field(
        default=None, alias="from", description="Database version before."
    )
    to_version: str | None = Field(default=None, alias="to", description="Version after.")
    result: str = Field(description="Succeeded, Failed or Superseded.")
    at: str = Field(description="When it ended (RFC 3339).")
    message: str | None = Field(default=None, description="Summary.")


class Condition(ApiModel):
    """A kstatus-style condition (Ready, Reconciling, Stalled, BackupReady, Validated)."""

    type: str = Field(description="Condition type.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="One-word CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was computed from."
    )


class LastJob(ApiModel):
    """The most recent Job, and where its log is."""

    name: str = Field(description="Job name.")
    step: str = Field(description="Step: plan, backup, rehearse, migrate-N, down or restore.")
    log_hint: str = Field(description="Command that shows the Job's log.")


class RunStepRecord(ApiModel):
    """A step of the run whose Job result has been recorded (exactly once)."""

    step: str = Field(description="Step name: plan, backup, rehearse, migrate-N, down or restore.")
    job: str = Field(description="Job whose result this is.")
    succeeded: bool = Field(description="Whether the step succeeded.")
    reason: str = Field(description="Condition reason of the outcome.")
    message: str | None = Field(default=None, description="Outcome summary.")
    applied: int = Field(default=0, description="Migrations applied by the step.")
    reverted: int = Field(default=0, description="Migrations reverted by the step.")
    completed_at: str | None = Field(default=None, description="When recorded (RFC 3339).")


class RunFailure(ApiModel):
    """The failure that ended the run's forward progress."""

    step: str = Field(description="Step that failed.")
    job: str | None = Field(default=None, description="Job that failed.")
    reason: str = Field(description="Condition reason.")
    message: str = Field(description="Error, with where to read the Job's log.")
    version: str | None = Field(
        default=None, description="Database version right after the failure, when known."
    )


class PlannedStep(ApiModel):
    """A step of a run, fixed when the run starts (so a changed spec cannot reshape it)."""

    step: str = Field(description="Step name: plan, backup, rehearse, migrate-N, down or restore.")
    target: str | None = Field(default=None, description="Version the step works toward.")
    phase: str | None = Field(default=None, description="Phase name, for migrate-N steps.")


class RunState(ApiModel):
    """The operator's memory of the run toward status.targetVersion (restart-safe)."""

    generation: int = Field(description="metadata.generation this run serves.")
    retry: int = Field(
        default=0, description="Manual retries of this generation (part of Job names)."
    )
    operation: RunOperation = Field(description="upgrade or rollback (a lowered target).")
    state: RunOutcome = Field(description="Running, Succeeded, Failed or Superseded.")
    start_version: str | None = Field(
        default=None, description="Database version when the run started, when known."
    )
    target_version: str = Field(description="Version this run works toward.")
    plan: list[PlannedStep] = Field(
        default_factory=list, description="Steps planned at the start, in order."
    )
    on_failure: OnFailure = Field(default="None", description="spec.rollback.onFailure at start.")
    completed: list[RunStepRecord] = Field(
        default_factory=list, description="Steps whose results are recorded."
    )
    attempt: int = Field(default=0, description="Attempt of the current step (transient retries).")
    retry_after: str | None = Field(
        default=None, description="No new attempt before this time (RFC 3339)."
    )
    last_error: str | None = Field(default=None, description="Last transient error.")
    last_reason: str | None = Field(
        default=None, description="The reason of the last transient error (e.g. Interrupted)."
    )
    failure: RunFailure | None = Field(default=None, description="The failure, if any.")
    backup_file: str | None = Field(
        default=None, description="This run's backup, relative to the volume (for Restore)."
    )
    retry_token: str | None = Field(
        default=None, description="Value of the dbmigrator.io/retry annotation at start."
    )
    source_digest: str | None = Field(
        default=None, description="Digest of the migration source at start."
    )
    started_at: str | None = Field(default=None, description="When the run started (RFC 3339).")
    finished_at: str | None = Field(default=None, description="When it ended (RFC 3339).")


class DatabaseMigrationStatus(ApiModel):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation whose outcome this status reports."
    )
    phase: Phase | None = Field(
        default=None,
        description="Pending, Planning, AwaitingApproval, BackingUp, Rehearsing, Migrating, "
        "Validating, RollingBack, Succeeded, Failed or Suspended.",
    )
    current_version: str | None = Field(
        default=None, description="Highest version applied to the database, as last observed."
    )
    target_version: str | None = Field(
        default=None, description="Version the current (or last) run works toward."
    )
    message: str | None = Field(default=None, description="Human-readable summary.")
    applied: list[AppliedMigrationStatus] = Field(
        default_factory=list, description="Migrations applied, as reported by the engine."
    )
    phases: list[PhaseStatus] = Field(
        default_factory=list, description="Phases of the current (or last) upgrade."
    )
    backup: BackupStatus | None = Field(default=None, description="The newest backup.")
    plan: PlanStatus | None = Field(
        default=None, description="The plan of the current (or last) run and its gate."
    )
    validation: ValidationStatus | None = Field(default=None, description="Last validation.")
    performance: list[PerformanceStatus] = Field(
        default_factory=list, description="Last query timings against their baselines."
    )
    history: list[HistoryEntry] = Field(
        default_factory=list, description="The last 10 operations, oldest first."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Reconciling, Stalled, BackupReady, Validated."
    )
    last_job: LastJob | None = Field(default=None, description="The most recent Job.")
    waiting_since: str | None = Field(
        default=None,
        alias="waitingSince",
        description="Since when this generation waits for a missing Secret or ConfigMap.",
    )
    run: RunState | None = Field(
        default=None, description="The current (or last) run: the operator's memory."
    )


def parse_status(data: Mapping[str, Any] | None) -> DatabaseMigrationStatus:
    """Read a resource's `status`; unknown keys (e.g. written by other tools) are ignored."""
    return DatabaseMigrationStatus.model_validate(dict(data or {}))


def render_status_patch(status: DatabaseMigrationStatus) -> dict[str, Any]:
    """The status as a JSON merge patch body that replaces the stored status.

    Unset fields of objects are explicit nulls (so a merge patch deletes what was cleared);
    items of lists carry only their set fields (lists are replaced wholesale by a merge patch).
    """
    return _patch_object(status)


def _patch_object(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out[key] = _patch_object(value)
        elif isinstance(value, list):
            out[key] = [
                v.model_dump(by_alias=True, exclude_none=True) if isinstance(v, BaseModel) else v
                for v in value
            ]
        else:
            out[key] = value
    return out
