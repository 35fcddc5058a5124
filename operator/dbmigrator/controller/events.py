"""The Kubernetes Events a reconcile emits (pure): one per step, outcomes only when they change.

A recorded result says what its step did; a created or deleted Job says so; Done, Fail, Blocked
and Suspended (and an invalid spec) post an Event only when the Ready condition's status, reason
or message changes, so a resource that stays failed is not re-announced on every reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, assert_never

from dbmigrator.api.conditions import ConditionType, Reason, find_condition
from dbmigrator.api.constants import ANNOTATION_APPROVE_PLAN
from dbmigrator.api.status import DatabaseMigrationStatus
from dbmigrator.controller.gate import describe_drift
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
class Event:
    """A Kubernetes Event the handler should emit on the resource."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def build_record_events(rec: RecordResult, after: DatabaseMigrationStatus) -> list[Event]:
    """The Event of a folded-in result: what its step did."""
    text = f"{rec.step}: {after.message or ''}"
    match rec.outcome:
        case "succeeded" if rec.step.kind == "plan" and after.plan is not None:
            events = [Event("Normal", Reason.PLAN_COMPUTED, text)]
            if after.plan.drift_count:
                events.append(
                    Event("Warning", Reason.SCHEMA_DRIFT_DETECTED, describe_drift(after.plan))
                )
            return events
        case "succeeded":
            return [Event("Normal", Reason.SUCCEEDED, text)]
        case "retry" | "failed":
            return [Event("Warning", rec.reason, text)]
        case _:
            assert_never(rec.outcome)


def build_ready_change_events(
    before: DatabaseMigrationStatus, after: DatabaseMigrationStatus, *, warning: bool
) -> list[Event]:
    """One Event when the Ready condition changed (status, reason or message), else none."""
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
    return [Event("Warning" if warning else "Normal", new.reason, new.message)]


def build_step_events(
    step: Step, before: DatabaseMigrationStatus, after: DatabaseMigrationStatus
) -> list[Event]:
    """The Events of the planned action (after it was applied to status)."""
    match step:
        case CreateJob():
            created = Event("Normal", step.reason, f"created job {step.job_name}: {step.message}")
            if step.approves is None:
                return [created]
            approved = f"plan {step.approves} approved by the annotation {ANNOTATION_APPROVE_PLAN}"
            return [Event("Normal", Reason.PLAN_APPROVED, approved), created]
        case DeleteJob():
            return [Event("Normal", step.reason, step.message)]
        case Fail() | Blocked():
            return build_ready_change_events(before, after, warning=True)
        case Done() | Suspended() | AwaitApproval():
            return build_ready_change_events(before, after, warning=False)
        case Wait():
            return []
        case _:
            assert_never(step)


def dedupe_events(events: list[Event]) -> list[Event]:
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
