"""The planner's vocabulary: the one step a reconcile executes, as frozen values.

`plan()` returns exactly one of these. A handler executes CreateJob (build the manifest with
`jobs.build_job`) and DeleteJob, requeues after `Wait.requeue_after`, and otherwise only writes
the status; `status.plan_reconcile` folds every RecordResult in before returning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbmigrator.api.models import RunState
from dbmigrator.controller.jobs import JobRequest
from dbmigrator.controller.observed import ObservedJob
from dbmigrator.engine.results import RunResult

# A running Job is looked at again after this long even if no watch event came: Job events
# (new, finished, deleted) do the work; the poll catches a pod that cannot start (whose grace
# then gets a recheck of its own) and anything a dropped watch missed. At 1,000 resources a
# 30 s poll was half of all the operator's requests (docs/benchmarks.md).
JOB_POLL_SECONDS = 60.0
Outcome = Literal["succeeded", "retry", "failed"]


@dataclass(frozen=True)
class CreateJob:
    """Create the Job for `request` (build it with `jobs.build_job`); `run` is the run it serves."""

    request: JobRequest
    job_name: str
    run: RunState
    reason: str
    message: str


@dataclass(frozen=True)
class Wait:
    """Nothing to do until a Job finishes or the backoff ends; look again after `requeue_after`."""

    reason: str
    message: str
    job_name: str | None = None
    step: str | None = None
    run: RunState | None = None
    requeue_after: float | None = JOB_POLL_SECONDS
    waiting_since: str | None = None  # set while waiting for a missing input (status.waitingSince)


@dataclass(frozen=True)
class RecordResult:
    """Fold a finished Job's result into status (exactly once), then plan again."""

    job: ObservedJob
    step: str
    run: RunState
    result: RunResult | None
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class DeleteJob:
    """Delete a running Job (propagationPolicy Background) because the resource is suspended."""

    job_name: str
    reason: str
    message: str


@dataclass(frozen=True)
class Suspended:
    """spec.suspend is true and no Job runs."""

    message: str


@dataclass(frozen=True)
class Done:
    """The generation's outcome is success; `run` None means nothing had to run."""

    run: RunState | None


@dataclass(frozen=True)
class Fail:
    """The run failed and needs a human (Stalled=True)."""

    run: RunState
    reason: str
    message: str


@dataclass(frozen=True)
class Blocked:
    """Input the user must fix (Stalled=True); `field` names the offending spec field."""

    reason: str
    message: str
    field: str | None = None


Step = CreateJob | Wait | RecordResult | DeleteJob | Suspended | Done | Fail | Blocked
