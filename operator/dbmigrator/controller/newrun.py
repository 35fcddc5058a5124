"""When a run starts and what it consists of (pure): the planner's first decision.

A new run starts when the resource has a new generation, the retry annotation changed after a
failed run, or the source changed after a failed run (or while its plan awaits approval):

    target == current                          -> Done (nothing to do)
    Secret, key or ConfigMap missing           -> Blocked(SecretNotFound | ...)
    target, phases, down files vs. the source  -> Blocked(TargetVersionNotFound | ...)
    Restore without backup                     -> Blocked(BackupRequired)
    otherwise                                  -> a new RunState with its plan of steps

Steps (`stepids.StepId`) of an upgrade run: plan (unless spec.safety.review is Never and
spec.safety.drift Ignore) -> backup (if enabled) -> rehearse (if enabled) -> migrate-<n> for
every phase with versions above the start version (a phase already covered by
`currentVersion` is skipped). A rollback run (target lowered below currentVersion): plan ->
backup (if enabled) -> down. The steps that undo a failure (down, restore) are not planned
here: `runs.current_step` adds them once a step fails. `planner.py` advances the run.
"""

from __future__ import annotations

from typing import Literal

from dbmigrator.api.conditions import Reason
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus, PlannedStep, RunState
from dbmigrator.controller.checks import check_inputs, check_spec
from dbmigrator.controller.dependencies import await_dependency
from dbmigrator.controller.gate import awaiting_approval
from dbmigrator.controller.observed import Observed
from dbmigrator.controller.runs import format_time, spec_phases, vint
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import Blocked, Done, Wait


def needs_new_run(status: DatabaseMigrationStatus, observed: Observed) -> bool:
    run = status.run
    if run is None or run.generation != observed.generation:
        return True
    waiting = awaiting_approval(status, run)  # a plan nobody approved yet: replan new files
    if run.state != "Failed" and not waiting:
        return False
    if observed.retry_token != run.retry_token and not waiting:
        return True
    digest = observed.source.digest if observed.source else None
    return digest is not None and run.source_digest is not None and digest != run.source_digest


def plan_new_run(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, observed: Observed
) -> RunState | Done | Blocked | Wait:
    current = status.current_version
    target = spec.target_version
    if vint(target) == vint(current) and (current is not None or vint(target) == 0):
        return Done(None)
    blocked = check_inputs(spec, observed) or check_spec(spec, status, observed.source)
    if blocked is not None:
        return await_dependency(spec, status, observed, blocked)
    operation: Literal["upgrade", "rollback"] = (
        "rollback" if current is not None and vint(target) < vint(current) else "upgrade"
    )
    if operation == "upgrade" and spec.rollback.on_failure == "Restore" and not spec.backup_enabled:
        return Blocked(
            Reason.BACKUP_REQUIRED,
            "spec.rollback.onFailure is Restore but spec.backup is not enabled: a restore needs "
            "this run's backup",
            "spec.rollback.onFailure",
        )
    old = status.run
    same_generation = old is not None and old.generation == observed.generation
    return RunState(
        generation=observed.generation,
        retry=old.retry + 1 if old is not None and same_generation else 0,
        operation=operation,
        state="Running",
        start_version=current,
        target_version=target,
        plan=plan_run_steps(spec, operation, current, target),
        on_failure=spec.rollback.on_failure,
        retry_token=observed.retry_token,
        source_digest=observed.source.digest if observed.source else None,
        started_at=format_time(observed.now),
    )


def plan_run_steps(
    spec: DatabaseMigrationSpec,
    operation: Literal["upgrade", "rollback"],
    current: str | None,
    target: str,
) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    if spec.plan_step_enabled:
        steps.append(PlannedStep(step=str(StepId("plan")), target=target))
    if spec.backup_enabled:
        steps.append(PlannedStep(step=str(StepId("backup")), target=current))
    if operation == "rollback":
        steps.append(PlannedStep(step=str(StepId("down")), target=target))
        return steps
    if spec.rehearsal.enabled:
        steps.append(PlannedStep(step=str(StepId("rehearse")), target=target))
    floor = vint(current)
    previous = -1
    for index, (name, through) in enumerate(spec_phases(spec), start=1):
        if previous >= vint(target):
            break  # phases beyond the target are not part of this run
        step_target = through if vint(through) <= vint(target) else target
        if vint(step_target) > floor:
            steps.append(
                PlannedStep(step=str(StepId.migrate(index)), target=step_target, phase=name)
            )
        previous = vint(through)
    return steps
