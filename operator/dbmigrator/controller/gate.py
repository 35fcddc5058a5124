"""The safety gate between a run's plan step and everything else (pure).

The plan step's Job (`dbmigrator plan`) reports the run's files, their hash, lint findings and
live-schema drift; `build_plan_status` turns that into `status.plan`. Before the next Job of the
run, `plan_gate` decides, first matching row wins:

    status.plan already approved (this run)                 -> go on
    spec.safety.drift Fail and drift found                  -> Fail(SchemaDriftDetected)
    review not required (Never; OnWarning without findings;
      OnError without an error finding)                     -> go on
    annotation dbmigrator.io/approve-plan == status.plan.hash -> go on (PlanApproved)
    otherwise                                               -> AwaitApproval (no Job, no backup)

Every Job after an approved (or unreviewed) plan carries `--expect-plan`, so the files that run
are the ones planned: the engine refuses (PlanChanged) when they are not.
"""

from __future__ import annotations

from dbmigrator.api import constants as c
from dbmigrator.api.conditions import Reason
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import (
    DatabaseMigrationStatus,
    DriftItemStatus,
    LintCountsStatus,
    LintFindingStatus,
    PlanFileStatus,
    PlanStatus,
    RunState,
)
from dbmigrator.controller.messages import plural
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import AwaitApproval, Fail
from dbmigrator.engine.planhash import short_hash
from dbmigrator.engine.results import PlanInfo, RunResult


def has_plan_step(run: RunState) -> bool:
    """True when the run starts with a plan step (spec.safety asked for one at its start)."""
    return bool(run.plan) and StepId.parse(run.plan[0].step).kind == "plan"


def review_required(spec: DatabaseMigrationSpec, plan: PlanStatus) -> bool:
    """Whether spec.safety.review asks a human to approve this plan."""
    match spec.safety.review:
        case "Never":
            return False
        case "Always":
            return True
        case "OnWarning":
            return plan.lint_counts.error + plan.lint_counts.warning > 0
        case "OnError":
            return plan.lint_counts.error > 0


def build_plan_status(
    spec: DatabaseMigrationSpec, info: PlanInfo, result: RunResult, generation: int, now: str
) -> PlanStatus:
    """status.plan from the plan step's result (lists bounded, counts kept; no drift when
    spec.safety.drift is Ignore)."""
    drift_on = spec.safety.drift != "Ignore"
    drift = result.drift if drift_on else []
    plan = PlanStatus(
        hash=info.hash,
        direction=info.direction,
        from_version=info.from_version,
        target_version=info.target_version,
        files=[
            PlanFileStatus(version=f.version, name=f.name, checksum=f.checksum or None)
            for f in info.files[: c.PLAN_FILES_LIMIT]
        ],
        file_count=max(info.file_count, len(info.files)),
        lint=[
            LintFindingStatus(
                file=f.file, line=f.line, rule=f.rule, level=f.level, message=f.message
            )
            for f in info.lint[: c.PLAN_LINT_LIMIT]
        ],
        lint_counts=LintCountsStatus(
            error=info.lint_counts.error, warning=info.lint_counts.warning
        ),
        drift=[
            DriftItemStatus(
                object=d.object, kind=d.kind or None, change=d.change or None, message=d.message
            )
            for d in drift[: c.PLAN_DRIFT_LIMIT]
        ],
        drift_count=max(result.drift_count or 0, len(drift)) if drift_on else 0,
        generation=generation,
        computed_at=now,
    )
    return plan.model_copy(update={"review_required": review_required(spec, plan)})


def describe_plan(plan: PlanStatus) -> str:
    """`plan sha256:ab12cd34ef56 (up 008 -> 009, 1 file; 2 lint errors, 3 warnings)`."""
    facts = [
        f"{plan.direction} {plan.from_version or '0'} -> {plan.target_version}, "
        f"{plural(plan.file_count, 'file')}"
    ]
    lint = plan.lint_counts
    if lint.error or lint.warning:
        facts.append(f"{plural(lint.error, 'lint error')}, {plural(lint.warning, 'warning')}")
    if plan.drift_count:
        facts.append(f"{plural(plan.drift_count, 'drift change')}")
    return f"plan {short_hash(plan.hash)} ({'; '.join(facts)})"


def describe_drift(plan: PlanStatus) -> str:
    """The first live-schema changes and how many there are."""
    shown = "; ".join(d.message for d in plan.drift[:3])
    more = f" (and {plan.drift_count - 3} more)" if plan.drift_count > 3 else ""
    return (
        f"{plural(plan.drift_count, 'change')} to the live schema outside migrations: {shown}{more}"
    )


def plan_gate(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    observed: Observed,
    run: RunState,
    step: StepId,
) -> AwaitApproval | Fail | None:
    """What the gate says before `step`'s Job is created: None lets it run."""
    plan = gated_plan(status, run, step)
    if plan is None or plan.approved:
        return None
    if spec.safety.drift == "Fail" and plan.drift_count:
        return Fail(
            run, Reason.SCHEMA_DRIFT_DETECTED, f"{describe_plan(plan)}: {describe_drift(plan)}"
        )
    if not plan.review_required or observed.approval == plan.hash:
        return None
    annotate = (
        f"kubectl annotate dbm {observed.resource.name} -n {observed.resource.namespace} "
        f"{c.ANNOTATION_APPROVE_PLAN}={plan.hash} --overwrite"
    )
    if observed.approval:
        message = (
            f"{describe_plan(plan)} needs approval; the annotation {c.ANNOTATION_APPROVE_PLAN} "
            f"approves another plan ({short_hash(observed.approval)}, not "
            f"{short_hash(plan.hash)}): {annotate}"
        )
    else:
        message = f"{describe_plan(plan)} needs approval: {annotate}"
    return AwaitApproval(run, plan.hash, message)


def gated_plan(status: DatabaseMigrationStatus, run: RunState, step: StepId) -> PlanStatus | None:
    """This run's recorded plan when `step` is the run's next step after it (None otherwise:
    no plan step, the plan itself, or a recovery step after a failure)."""
    if not has_plan_step(run) or step.kind == "plan" or run.failure is not None:
        return None  # a down/restore after a failure undoes; it is not the plan
    if status.plan is None or status.plan.generation != run.generation:
        return None
    return status.plan


def approves(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, run: RunState, step: StepId
) -> str | None:
    """The hash the creation of `step`'s Job approves (the first Job after a reviewed plan)."""
    plan = gated_plan(status, run, step)
    if plan is None or plan.approved or not plan.review_required:
        return None
    return plan.hash


def awaiting_approval(status: DatabaseMigrationStatus, run: RunState) -> bool:
    """True while `run` has only its plan recorded and that plan waits for a human."""
    plan = status.plan
    return (
        run.state == "Running"
        and has_plan_step(run)
        and [r.step for r in run.completed] == ["plan"]
        and plan is not None
        and plan.generation == run.generation
        and plan.review_required
        and not plan.approved
    )


def plan_binding(
    status: DatabaseMigrationStatus, run: RunState, step: StepId
) -> tuple[str, str, str] | None:
    """(hash, from, target) that `step`'s Job must run exactly: the run's own rehearse,
    migrate and down steps after its plan (never the recovery down/restore after a failure)."""
    plan = gated_plan(status, run, step)
    if plan is None or step.kind not in ("rehearse", "migrate", "down"):
        return None
    return plan.hash, plan.from_version or "0", plan.target_version
