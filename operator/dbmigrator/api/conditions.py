"""Condition types and the closed set of reasons the operator writes, plus `set_condition`.

Conditions follow kstatus: `Reconciling` and `Stalled` are "abnormal-true" (present and True only
while work is in progress or a human must act), `Ready` is the summary. `BackupReady` and
`Validated` report the last backup and the last validation. Every reason names one step or one
problem, so `kubectl get dbm -o jsonpath='{..reason}'` tells what happened without the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from dbmigrator.api.status import Condition

ConditionStatus = Literal["True", "False", "Unknown"]


class ConditionType(StrEnum):
    """The conditions the operator maintains on `status.conditions`."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    BACKUP_READY = "BackupReady"
    VALIDATED = "Validated"


class Reason(StrEnum):
    """Every reason the operator writes on a condition (and on Events)."""

    # Work in progress (Reconciling=True).
    BACKING_UP = "BackingUp"
    REHEARSING = "Rehearsing"
    MIGRATING = "Migrating"
    ROLLING_BACK = "RollingBack"
    RESTORING = "Restoring"
    WAITING_FOR_JOB = "WaitingForJob"
    PLANNING = "Planning"
    # An input that may still arrive (spec.dependencyTimeoutSeconds), then its *NotFound reason.
    WAITING_FOR_SECRET = "WaitingForSecret"  # noqa: S105 - a reason, not a secret
    WAITING_FOR_SECRET_KEY = "WaitingForSecretKey"  # noqa: S105 - a reason, not a secret
    WAITING_FOR_CONFIG_MAP = "WaitingForConfigMap"
    SUSPENDING = "Suspending"
    # The plan needs a human: Ready=False, Reconciling=False, Stalled=False (not a failure).
    AWAITING_APPROVAL = "AwaitingApproval"
    # Outcomes.
    SUCCEEDED = "Succeeded"
    SUSPENDED = "Suspended"
    BACKUP_SUCCEEDED = "BackupSucceeded"
    CHECKS_PASSED = "ChecksPassed"
    PLAN_COMPUTED = "PlanComputed"
    PLAN_APPROVED = "PlanApproved"
    # Failures reported by a Job (Stalled=True, except the transient ones while retried).
    MIGRATION_FAILED = "MigrationFailed"
    VALIDATION_FAILED = "ValidationFailed"
    BACKUP_FAILED = "BackupFailed"
    REHEARSAL_FAILED = "RehearsalFailed"
    ROLLBACK_FAILED = "RollbackFailed"
    RESTORE_FAILED = "RestoreFailed"
    DRIFT_DETECTED = "DriftDetected"  # an applied migration's file changed
    SCHEMA_DRIFT_DETECTED = "SchemaDriftDetected"  # the schema changed outside migrations
    PLAN_FAILED = "PlanFailed"
    PLAN_CHANGED = "PlanChanged"  # the files are not the approved plan any more
    INVALID_MIGRATIONS = "InvalidMigrations"
    DATABASE_UNREACHABLE = "DatabaseUnreachable"
    DATABASE_LOCKED = "DatabaseLocked"
    INTERRUPTED = "Interrupted"  # the Job's pod was stopped (deleted, evicted): retried
    JOB_FAILED = "JobFailed"
    # What the kubelet reports about a Job's pod (its own reason words, Stalled=True).
    OOM_KILLED = "OOMKilled"
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    ERR_IMAGE_PULL = "ErrImagePull"
    INVALID_IMAGE_NAME = "InvalidImageName"
    CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
    CREATE_CONTAINER_ERROR = "CreateContainerError"
    TARGET_NOT_REACHED = "TargetNotReached"
    # Input the user must fix (Stalled=True, no retry until something changes).
    SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 - a reason, not a secret
    SECRET_KEY_NOT_FOUND = "SecretKeyNotFound"  # noqa: S105 - a reason, not a secret
    CONFIG_MAP_NOT_FOUND = "ConfigMapNotFound"
    TARGET_VERSION_NOT_FOUND = "TargetVersionNotFound"
    INVALID_PHASES = "InvalidPhases"
    DOWN_FILE_MISSING = "DownFileMissing"
    BACKUP_REQUIRED = "BackupRequired"
    INVALID_SPEC = "InvalidSpec"  # the models reject the spec (the CRD schema should have)
    IMAGE_NOT_ALLOWED = "ImageNotAllowed"
    SERVICE_ACCOUNT_NOT_ALLOWED = "ServiceAccountNotAllowed"


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of `type_`, or None."""
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: str,
) -> list[Condition]:
    """Return `conditions` with `type_` set; `lastTransitionTime` moves only when status changes.

    Order is kept stable (existing conditions stay in place, new ones are appended), so an
    unchanged reconcile writes an identical list.
    """
    old = find_condition(conditions, type_)
    since = old.last_transition_time if old is not None and old.status == status else now
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    if old is None:
        return [*conditions, new]
    return [new if c.type == type_ else c for c in conditions]
