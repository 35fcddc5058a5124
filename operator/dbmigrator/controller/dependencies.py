"""Inputs GitOps often delivers late: wait for them before calling the resource Stalled (pure).

A missing Secret, key or ConfigMap is waited for (Progressing, reason WaitingFor...) until
spec.dependencyTimeoutSeconds have passed since this generation began waiting
(status.waitingSince); then it is Blocked (Stalled=True) like any other input error.
"""

from __future__ import annotations

from dbmigrator.api.conditions import Reason, find_condition
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus
from dbmigrator.controller.delays import DEPENDENCY_POLL_SECONDS
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.runs import format_time, parse_time
from dbmigrator.controller.steps import Blocked, Wait

# A missing input that GitOps often delivers moments later: wait (Progressing) before Stalled.
LATE_DEPENDENCIES: dict[str, str] = {
    Reason.SECRET_NOT_FOUND: Reason.WAITING_FOR_SECRET,
    Reason.SECRET_KEY_NOT_FOUND: Reason.WAITING_FOR_SECRET_KEY,
    Reason.CONFIG_MAP_NOT_FOUND: Reason.WAITING_FOR_CONFIG_MAP,
}


def await_dependency(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    blocked: Blocked,
) -> Blocked | Wait:
    """A missing Secret, key or ConfigMap is waited for until spec.dependencyTimeoutSeconds have
    passed since this generation began waiting (status.waitingSince), then it is Blocked."""
    waiting = LATE_DEPENDENCIES.get(blocked.reason)
    if waiting is None:
        return blocked
    stalled = find_condition(status.conditions, "Stalled")
    if (
        stalled is not None
        and stalled.status == "True"
        and stalled.reason == blocked.reason
        and stalled.observed_generation == observed.generation
    ):
        return blocked  # this generation already waited its time
    # The clock runs while this generation waits: the Reconciling condition says which
    # generation the last wait was for (status.observedGeneration moves only when decided).
    reconciling = find_condition(status.conditions, "Reconciling")
    same_generation = (
        reconciling is not None
        and reconciling.reason in LATE_DEPENDENCIES.values()
        and reconciling.observed_generation == observed.generation
    )
    since = status.waiting_since if same_generation and status.waiting_since else None
    started = parse_time(since) if since else observed.now
    left = spec.dependency_timeout_seconds - (observed.now - started).total_seconds()
    if left <= 0:
        return blocked
    return Wait(
        waiting,
        f"waiting for it to appear: {blocked.message}; Stalled in {int(left + 0.999)}s "
        f"(spec.dependencyTimeoutSeconds {spec.dependency_timeout_seconds})",
        requeue_after=min(DEPENDENCY_POLL_SECONDS, left),
        waiting_since=format_time(started),
    )
