"""The planner's vocabulary: the one step a reconcile executes, as frozen values.

`plan()` returns exactly one of these. A handler executes CreateJob (build the manifest with
`jobs.build_job`) and DeleteJob, requeues after `status.Reconcile.requeue_after`, and otherwise
only writes the status. RecordResult is no action: it is a finished Job's outcome, as data, that
`status.fold_results` folds into status before `plan()` picks the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dbmigrator.api.status import RunState
from dbmigrator.controller.delays import JOB_POLL_SECONDS
from dbmigrator.controller.jobs import JobRequest
from dbmigrator.controller.observed import ObservedJob
from dbmigrator.controller.stepids import StepId
from dbmigrator.engine.results import RunResult

Outcome = Literal["succeeded", "retry", "failed"]


@dataclass(frozen=True)
class CreateJob:
    """Create the Job for `request` (build it with `jobs.build_job`); `run` is the run it serves."""

    request: JobRequest
    job_name: str
    run: RunState
    reason: str
    message: str
    approves: str | None = None  # the plan hash this Job's creation approves (status.plan)


@dataclass(frozen=True)
class Wait:
    """Nothing to do until a Job finishes or the backoff ends; look again after `requeue_after`."""

    reason: str
    message: str
    job_name: str | None = None
    step: StepId | None = None
    run: RunState | None = None
    requeue_after: float | None = JOB_POLL_SECONDS
    waiting_since: str | None = None  # set while waiting for a missing input (status.waitingSince)


@dataclass(frozen=True)
class RecordResult:
    """A finished Job's outcome, to fold into status exactly once before planning the next step."""

    job: ObservedJob
    step: StepId
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
class AwaitApproval:
    """The run's plan needs a human: no Job until the approve-plan annotation names its hash.

    Not a failure (Ready=False, Reconciling=False, Stalled=False): looked at again when the
    resource changes (the annotation is a watch event) and, slowly, for a changed source.
    """

    run: RunState
    plan_hash: str
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


Step = CreateJob | Wait | DeleteJob | Suspended | AwaitApproval | Done | Fail | Blocked
