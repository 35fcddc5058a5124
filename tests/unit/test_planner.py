"""The pure planner: a transition table, restarts in the middle of every step, and properties.

`World` is a hand-written fake of everything around the planner: it executes the planner's
steps (creating and deleting Jobs), plays the engine inside the Jobs against a fake database
(`db` = the highest applied version), and can "crash" the operator between executing a step
and writing the status.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbmigrator.api.spec import DatabaseMigrationSpec, parse_spec
from dbmigrator.api.status import DatabaseMigrationStatus, PlannedStep, RunFailure, RunState
from dbmigrator.controller.delays import JOB_POLL_SECONDS
from dbmigrator.controller.jobs import build_job
from dbmigrator.controller.observed import (
    JobPolicy,
    JobState,
    Observed,
    ObservedJob,
    ResourceRef,
    SourceListing,
    inputs_unneeded,
    observe_job,
    parse_source_listing,
)
from dbmigrator.controller.planner import next_result, plan
from dbmigrator.controller.runs import backoff_seconds, current_step, vint
from dbmigrator.controller.status import fold_results, plan_reconcile
from dbmigrator.controller.stepids import StepId
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
from dbmigrator.engine.results import (
    AppliedMigration,
    BackupInfo,
    DriftItem,
    ErrorInfo,
    ErrorKind,
    LintCounts,
    PlanFileInfo,
    PlanInfo,
    PlanLintItem,
    RevertedMigration,
    RunResult,
    ValidationSummary,
    render_compact,
)

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
OWNER = ResourceRef(name="shop", namespace="shop-ns", uid="uid-1")
ALL = [f"{v:03d}" for v in range(1, 9)]
PHASES = [
    {"name": "core", "through": "003"},
    {"name": "payments", "through": "005"},
    {"name": "advanced", "through": "008"},
]
BASE: dict[str, Any] = {
    "database": {"secretRef": {"name": "db"}},
    "source": {"configMap": {"name": "migrations"}},
    "targetVersion": "008",
    # The runs as they are without the gate; its plan step is tested in test_gate.py.
    "safety": {"review": "Never", "drift": "Ignore"},
}


def make_spec(**patch: Any) -> DatabaseMigrationSpec:
    return parse_spec({**BASE, **patch})


def listing(versions: list[str] = ALL, downs: list[str] | None = None) -> SourceListing:
    downs = versions if downs is None else downs
    keys = [f"{v}_m{v}.sql" for v in versions] + [f"{v}_m{v}.down.sql" for v in downs]
    return parse_source_listing(keys, digest="sha256:" + "-".join(versions + downs))


@dataclass
class Fault:
    """The next Job of a kind fails: kind is an engine error kind, or "crash" (no result)."""

    kind: str
    at: int | None = None


@dataclass
class World:
    spec: DatabaseMigrationSpec
    db: int = 0
    generation: int = 1
    source: SourceListing = field(default_factory=listing)
    status: DatabaseMigrationStatus = field(default_factory=DatabaseMigrationStatus)
    jobs: dict[str, ObservedJob] = field(default_factory=dict)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    backups: dict[str, int] = field(default_factory=dict)
    now: datetime = NOW
    retry_token: str | None = None
    secret_found: bool = True
    config_map_found: bool = True
    steps: list[Step] = field(default_factory=list)
    # The gate (test_gate.py): the approve-plan annotation, the lint findings (errors,
    # warnings) and live-schema changes the plan step reports, and a revision of the files.
    approval: str | None = None
    lint: tuple[int, int] = (0, 0)
    drift: tuple[str, ...] = ()
    revision: int = 0

    # ----------------------------------------------------------------- the operator

    def observed(self) -> Observed:
        return Observed(
            resource=OWNER,
            generation=self.generation,
            now=self.now,
            jobs=tuple(self.jobs.values()),
            secret_found=self.secret_found,
            config_map_found=self.config_map_found,
            source=self.source if self.spec.source.config_map else None,
            retry_token=self.retry_token,
            approval=self.approval,
        )

    def reconcile(self, *, crash: bool = False) -> Step:
        """One reconcile; with crash=True the step is executed but the status is not written."""
        obs = self.observed()
        result = plan_reconcile(self.spec, self.status, obs)
        assert plan_reconcile(self.spec, self.status, obs) == result  # deterministic
        folded, _ = fold_results(self.spec, self.status, obs)
        assert next_result(self.spec, folded, obs) is None, "a finished Job left unrecorded"
        status_json = self.status.model_dump(by_alias=True, mode="json")
        if inputs_unneeded(status_json, obs.generation, obs.jobs, obs.now):
            # Kube.observe skips the Secret and ConfigMap reads while a Job runs: the planner
            # must decide exactly the same without them.
            unread = replace(obs, secret_found=True, secret_key_found=True,
                             config_map_found=True, source=None)  # fmt: skip
            assert plan_reconcile(self.spec, self.status, unread) == result
        step = result.step
        assert step is not None
        if isinstance(step, CreateJob):
            self._check_create(step, obs, result.status)
            self.manifests[step.job_name] = build_job(step.request, self.spec, OWNER, "img")
            self.jobs[step.job_name] = ObservedJob(
                step.job_name, "Active", step=str(step.request.step), generation=step.run.generation
            )
            self.created.append(step.job_name)
        elif isinstance(step, DeleteJob):
            assert step.job_name in self.jobs
            del self.jobs[step.job_name]
        if not crash:
            self.status = result.status
            names = [r.job for r in self.status.run.completed] if self.status.run else []
            assert len(names) == len(set(names)), "a Job's result was recorded twice"
        self.steps.append(step)
        self.now += timedelta(seconds=5)
        return step

    def _check_create(
        self, step: CreateJob, obs: Observed, status: DatabaseMigrationStatus
    ) -> None:
        assert not obs.active_jobs, "a second Job while one runs"
        assert step.job_name not in self.jobs, "re-created an existing Job instead of adopting it"
        kind = step.request.kind
        run = step.run
        if kind == "migrate" and status.current_version is not None:
            assert vint(step.request.target) > vint(status.current_version), "re-applies"
        if run.start_version is not None and vint(run.target_version) < vint(run.start_version):
            assert run.operation == "rollback"
        if run.operation == "rollback":
            assert kind in ("plan", "backup", "down"), (
                "a lowered target ran something else than downs"
            )
        if kind == "down" and run.operation == "upgrade":
            assert run.failure is not None and run.on_failure == "Down"
        if kind == "restore":
            assert run.failure is not None and run.on_failure == "Restore"

    # ----------------------------------------------------------------- the cluster + engine

    def finish(self, fault: Fault | None = None) -> None:
        """Every active Job runs to completion (the first one with `fault`, if given)."""
        for name, job in list(self.jobs.items()):
            if job.state != "Active":
                continue
            args = self.manifests[name]["spec"]["template"]["spec"]["containers"][0]["args"]
            ok, result = self._engine(args, fault or self._pop_fault(args))
            fault = None
            self.jobs[name] = ObservedJob(
                name,
                "Succeeded" if ok else "Failed",
                step=job.step,
                generation=job.generation,
                termination_message=render_compact(result) if result else "Traceback...",
                failure_reason=None if ok or result else "DeadlineExceeded",
            )

    def _pop_fault(self, args: list[str]) -> Fault | None:
        """The next fault for this command; one with `at` waits for a Job that reaches it."""
        queue = self.faults[args[0]]
        if not queue:
            return None
        at = queue[0].at
        if at is not None and args[0] == "up":
            target = int(args[args.index("--target") + 1])
            if not self.db < at <= target:
                return None
        return queue.pop(0)

    def _engine(self, args: list[str], fault: Fault | None) -> tuple[bool, RunResult | None]:
        command = args[0]
        target = int(args[args.index("--target") + 1]) if "--target" in args else None
        start = self.db

        def v(n: int) -> str | None:
            return f"{n:03d}" if n else None

        def done(ok: bool, **kw: Any) -> tuple[bool, RunResult]:
            return ok, RunResult(
                command=command, ok=ok, exit_code=0 if ok else 1, from_version=v(start),
                current_version=v(self.db), **kw,
            )  # fmt: skip

        if fault is not None and fault.kind == "crash":
            return False, None
        if "--expect-plan" in args:
            frm, to = (int(args[args.index(flag) + 1]) for flag in ("--plan-from", "--plan-target"))
            direction = "down" if command == "down" else "up"
            if args[args.index("--expect-plan") + 1] != self.plan_hash(direction, frm, to):
                return done(False, error=ErrorInfo(kind="plan", message="not the approved plan"))
        if command == "plan":
            return done(True, **self.plan_facts(args, target))
        if fault is not None and fault.kind in ("database", "lock", "input"):
            return done(False, error=ErrorInfo(kind=fault.kind, message=f"{fault.kind} trouble"))
        if command == "backup":
            if fault is not None:
                return done(False, error=ErrorInfo(kind="backup", message="disk full"))
            file = f"/backups/shop/db-{len(self.backups)}-{self.db:03d}.dump"
            self.backups[file] = self.db
            sha = hashlib.sha256(file.encode()).hexdigest()
            info = BackupInfo(file=file, size_bytes=1 << 20, sha256=sha, version=v(self.db) or "")
            return done(True, backup=info)
        if command == "rehearse":
            if fault is not None:
                return done(False, error=ErrorInfo(kind="migration", message="rehearsal broke"))
            return done(True)
        if command == "restore":
            self.db = self.backups[args[args.index("--from") + 1]]
            return done(True)
        assert target is not None
        if command == "down":
            reverted = [RevertedMigration(version=f"{n:03d}", name=f"m{n:03d}")
                        for n in range(self.db, target, -1)]  # fmt: skip
            self.db = min(self.db, target)
            return done(True, reverted=reverted, validation=ValidationSummary(
                passed=True, total=10, failed=0))  # fmt: skip
        applied: list[AppliedMigration] = []
        for n in range(self.db + 1, target + 1):
            if fault is not None and (fault.at is None or fault.at == n):
                if "--on-failure" in args and args[args.index("--on-failure") + 1] == "down":
                    self.db = start
                    applied = []
                failed_validation = fault.kind == "validation"
                return done(
                    False,
                    applied=applied,
                    validation=ValidationSummary(passed=False, total=14, failed=1)
                    if failed_validation else None,
                    error=ErrorInfo(kind=fault.kind, message=f'relation "t{n}" does not exist',
                                    file=f"{n:03d}_m{n:03d}.sql", line=12, sqlstate="42P01",
                                    hint="create it first"),
                )  # fmt: skip
            self.db = n
            applied.append(AppliedMigration(version=f"{n:03d}", name=f"m{n:03d}", checksum="c"))
        return done(True, applied=applied, validation=ValidationSummary(
            passed=True, total=14, failed=0))  # fmt: skip

    def plan_hash(self, direction: str, frm: int, to: int) -> str:
        text = f"{direction}:{frm}:{to}:{self.revision}"
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def plan_facts(self, args: list[str], target: int | None) -> dict[str, Any]:
        """What the plan step reports (the real engine: tests/integration/test_plan_binding.py)."""
        assert target is not None
        down = "--down" in args
        direction: Literal["up", "down"] = "down" if down else "up"
        versions = range(self.db, target, -1) if down else range(self.db + 1, target + 1)
        errors, warnings = self.lint
        lint = [PlanLintItem(file="009_x.sql", line=1, rule=f"rule-{i}",
                             level="error" if i < errors else "warning", message="risky")
                for i in range(errors + warnings)]  # fmt: skip
        info = PlanInfo(
            direction=direction, from_version=f"{self.db:03d}" if self.db else None,
            target_version=f"{target:03d}", hash=self.plan_hash(direction, self.db, target),
            files=[PlanFileInfo(version=f"{n:03d}", name=f"{n:03d}_m{n:03d}.sql") for n in versions],
            file_count=len(versions), lint=lint,
            lint_counts=LintCounts(error=errors, warning=warnings),
        )  # fmt: skip
        drift = [DriftItem(object=d.split(":")[0], kind="column", change="added", message=d)
                 for d in self.drift]  # fmt: skip
        return {"plan": info, "drift": drift, "drift_count": len(drift)}

    # ----------------------------------------------------------------- driving

    def set_spec(self, **patch: Any) -> None:
        data = self.spec.model_dump(by_alias=True, exclude_none=True)
        self.spec = parse_spec({**data, **patch})
        self.generation += 1

    def run(self, limit: int = 60) -> Step:
        """Reconcile and let Jobs finish until an outcome (Done, Fail, Blocked, Suspended)."""
        for _ in range(limit):
            step = self.reconcile()
            if isinstance(step, Done | Fail | Blocked | Suspended | AwaitApproval):
                return step
            if isinstance(step, Wait) and not self.observed().active_jobs:
                self.now += timedelta(seconds=step.requeue_after or 1)
            self.finish()
        raise AssertionError(f"no outcome after {limit} reconciles: {self.steps[-5:]}")

    def created_steps(self) -> list[str]:
        return [self.manifests[n]["metadata"]["labels"]["dbmigrator.io/step"] for n in self.created]


def world(**patch: Any) -> World:
    db = patch.pop("db", 0)
    return World(make_spec(**patch), db=db)


# =========================================================================== flows


def test_full_upgrade_runs_backup_rehearsal_then_each_phase() -> None:
    w = world(phases=PHASES, backup={"volumeClaimName": "pvc"}, rehearsal={"enabled": True})
    step = w.run()
    assert isinstance(step, Done)
    assert w.created_steps() == ["backup", "rehearse", "migrate-1", "migrate-2", "migrate-3"]
    assert w.created[0] == "shop-g1-backup"
    assert w.db == 8 and w.status.current_version == "008"
    assert [p.state for p in w.status.phases] == ["Succeeded"] * 3


def test_without_phases_one_implicit_phase_runs_through_the_target() -> None:
    w = world()
    assert isinstance(w.run(), Done)
    assert w.created_steps() == ["migrate-1"]
    assert [(p.name, p.through) for p in w.status.phases] == [("all", "008")]


def test_phases_already_applied_are_skipped() -> None:
    w = world(phases=PHASES, targetVersion="005")
    assert isinstance(w.run(), Done)
    w.set_spec(targetVersion="008")
    assert isinstance(w.run(), Done)
    assert w.created_steps() == ["migrate-1", "migrate-2", "migrate-3"]
    assert [p.state for p in w.status.phases] == ["Skipped", "Skipped", "Succeeded"]


def test_target_inside_a_phase_stops_at_the_target() -> None:
    w = world(phases=PHASES, targetVersion="004")
    assert isinstance(w.run(), Done)
    assert w.db == 4
    assert (
        w.manifests["shop-g1-migrate-2"]["metadata"]["annotations"]["dbmigrator.io/target-version"]
        == "004"
    )
    assert [p.state for p in w.status.phases] == ["Succeeded", "Succeeded", "Skipped"]


def test_unknown_current_version_is_learned_from_the_backup() -> None:
    w = world(phases=PHASES, backup={"volumeClaimName": "pvc"}, db=4)
    assert isinstance(w.run(), Done)
    # The backup reported version 004, so phase 1 (through 003) was never run.
    assert w.created_steps() == ["backup", "migrate-2", "migrate-3"]
    assert w.status.run is not None and w.status.run.start_version == "004"


def test_lowered_target_runs_one_down_job() -> None:
    w = world(backup={"volumeClaimName": "pvc"})
    assert isinstance(w.run(), Done)
    w.set_spec(targetVersion="003")
    assert isinstance(w.run(), Done)
    assert w.created_steps()[-2:] == ["backup", "down"]
    down = w.manifests[w.created[-1]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert down[:5] == ["down", "--dir", "/migrations", "--target", "003"]
    assert w.db == 3 and w.status.current_version == "003"
    assert w.status.history[-1].operation == "rollback"
    assert w.status.phases == []


def test_versions_compare_as_numbers_not_text() -> None:
    versions = [str(n) for n in range(1, 13)]
    w = World(make_spec(targetVersion="9"), source=listing(versions))
    assert isinstance(w.run(), Done) and w.db == 9
    w.set_spec(targetVersion="12")  # "12" < "9" as text
    assert isinstance(w.run(), Done)
    assert w.created_steps()[-1] == "migrate-1" and w.db == 12


def test_target_equal_to_current_is_done_without_a_job() -> None:
    w = world()
    assert isinstance(w.run(), Done)
    before = list(w.created)
    w.set_spec(validation={"queries": [{"name": "q", "sql": "select 1"}]})
    step = w.run()
    assert isinstance(step, Done) and step.run is None
    assert w.created == before
    assert w.status.observed_generation == 2


def test_failure_stops_the_flow_without_rollback() -> None:
    w = world(phases=PHASES)
    w.faults["up"].append(Fault("migration", at=4))
    step = w.run()
    assert isinstance(step, Fail) and step.reason == "MigrationFailed"
    assert w.created_steps() == ["migrate-1", "migrate-2"]
    assert w.db == 3
    assert [p.state for p in w.status.phases] == ["Succeeded", "Failed", "Pending"]
    # Reconciling again changes nothing and creates nothing.
    assert isinstance(w.run(), Fail) and len(w.created) == 2


def test_failure_with_down_rolls_back_to_the_start_of_the_run() -> None:
    w = world(phases=PHASES, targetVersion="003")
    assert isinstance(w.run(), Done)
    w.set_spec(targetVersion="008", rollback={"onFailure": "Down"})
    w.faults["up"].append(Fault("validation", at=7))
    step = w.run()
    assert isinstance(step, Fail) and step.reason == "ValidationFailed"
    assert w.created_steps()[-3:] == ["migrate-2", "migrate-3", "down"]
    up = w.manifests[w.created[-2]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert up[up.index("--on-failure") + 1] == "down"
    down = w.manifests[w.created[-1]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert down[down.index("--target") + 1] == "003"
    assert w.db == 3 and w.status.current_version == "003"
    assert "then rolled back to 003" in step.message


def test_failure_in_the_first_phase_with_down_needs_no_down_job() -> None:
    w = world(rollback={"onFailure": "Down"})
    w.faults["up"].append(Fault("migration", at=2))
    assert isinstance(w.run(), Fail)
    assert w.created_steps() == ["migrate-1"]  # the engine's --on-failure down reverted it


def test_failure_with_restore_restores_this_runs_backup() -> None:
    w = world(
        phases=PHASES, backup={"volumeClaimName": "pvc"},
        rollback={"onFailure": "Restore", "allowDataLoss": True},
    )  # fmt: skip
    w.faults["up"].append(Fault("migration", at=6))
    step = w.run()
    assert isinstance(step, Fail)
    assert w.created_steps() == ["backup", "migrate-1", "migrate-2", "migrate-3", "restore"]
    restore = w.manifests[w.created[-1]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert restore[:3] == ["restore", "--from", "/backups/shop/db-0-000.dump"]
    expected = hashlib.sha256(b"/backups/shop/db-0-000.dump").hexdigest()
    assert restore[restore.index("--expect-sha256") + 1] == expected  # what status recorded
    assert w.db == 0


def test_backup_and_rehearsal_failures_stop_before_the_database_changes() -> None:
    for command, reason in (("backup", "BackupFailed"), ("rehearse", "RehearsalFailed")):
        w = world(backup={"volumeClaimName": "pvc"}, rehearsal={"enabled": True},
                  rollback={"onFailure": "Down"})  # fmt: skip
        w.faults[command].append(Fault("migration"))
        step = w.run()
        assert isinstance(step, Fail) and step.reason == reason
        assert w.db == 0 and "migrate-1" not in w.created_steps()


def test_a_job_without_a_result_fails_with_job_failed() -> None:
    w = world()
    w.faults["up"].append(Fault("crash"))
    step = w.run()
    assert isinstance(step, Fail) and step.reason == "JobFailed"
    assert "DeadlineExceeded" in step.message


def test_transient_errors_are_retried_with_backoff_then_fail() -> None:
    w = world(job={"maxRetries": 2})
    w.faults["up"] += [Fault("database"), Fault("database")]
    assert isinstance(w.run(), Done)
    assert w.created == ["shop-g1-migrate-1", "shop-g1-migrate-1-a1", "shop-g1-migrate-1-a2"]

    w = world(job={"maxRetries": 1})
    w.faults["up"] += [Fault("lock"), Fault("lock")]
    step = w.run()
    assert isinstance(step, Fail) and step.reason == "DatabaseLocked"
    assert len(w.created) == 2


def test_retry_waits_for_the_backoff() -> None:
    w = world()
    w.reconcile()
    w.finish(Fault("database"))
    step = w.reconcile()
    assert isinstance(step, Wait) and step.reason == "DatabaseUnreachable"
    assert step.requeue_after == pytest.approx(backoff_seconds(1))
    assert "attempt 2 of 4" in step.message
    w.now += timedelta(seconds=10)
    step = w.reconcile()
    assert isinstance(step, Wait) and step.requeue_after is not None and step.requeue_after < 30
    w.now += timedelta(seconds=30)
    step = w.reconcile()
    assert isinstance(step, CreateJob) and step.job_name == "shop-g1-migrate-1-a1"


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(20) == 600


def test_retry_annotation_or_a_changed_source_retries_a_failed_run() -> None:
    w = world()
    w.faults["up"].append(Fault("migration", at=5))
    assert isinstance(w.run(), Fail)
    assert isinstance(w.run(), Fail) and len(w.created) == 1
    w.retry_token = "1"
    assert isinstance(w.run(), Done)
    assert w.created[-1] == "shop-g1-migrate-1-r1"

    w = world()
    w.faults["up"].append(Fault("migration", at=5))
    assert isinstance(w.run(), Fail)
    w.source = listing([*ALL, "009"])  # the ConfigMap was fixed
    assert isinstance(w.run(), Done) and w.db == 8


def test_spec_change_while_a_job_runs_waits_for_it() -> None:
    w = world(phases=PHASES)
    assert isinstance(w.reconcile(), CreateJob)
    w.set_spec(targetVersion="005")
    step = w.reconcile()
    assert isinstance(step, Wait) and step.job_name == "shop-g1-migrate-1"
    assert "generation 2" in step.message
    w.finish()
    step = w.reconcile()  # records gen 1's job, then starts gen 2's run
    assert isinstance(step, CreateJob) and step.job_name == "shop-g2-migrate-2"
    assert isinstance(w.run(), Done) and w.db == 5


def test_a_foreign_active_job_blocks_new_jobs() -> None:
    w = world()
    w.jobs["shop-g0-backup"] = ObservedJob("shop-g0-backup", "Active", generation=0)
    step = w.reconcile()
    assert isinstance(step, Wait) and step.reason == "WaitingForJob"
    assert "generation 0" in step.message


def test_suspend_deletes_the_running_job_then_resumes_it() -> None:
    w = world(phases=PHASES)
    w.reconcile()
    w.set_spec(suspend=True)
    step = w.reconcile()
    assert isinstance(step, DeleteJob) and step.job_name == "shop-g1-migrate-1"
    assert isinstance(w.reconcile(), Suspended)
    assert w.status.phase == "Suspended" and w.status.phases[0].state == "Pending"
    w.set_spec(suspend=False)
    step = w.reconcile()
    assert isinstance(step, CreateJob) and step.job_name == "shop-g3-migrate-1"
    assert isinstance(w.run(), Done)


def test_suspend_waits_for_a_job_that_is_being_deleted() -> None:
    w = world(suspend=True)
    w.jobs["x"] = ObservedJob("x", "Active", deleting=True)
    step = w.reconcile()
    assert isinstance(step, Suspended) and "x" in step.message


# =========================================================================== restarts


def _flow_world() -> World:
    return world(phases=PHASES, backup={"volumeClaimName": "pvc"}, rehearsal={"enabled": True})


STEPS = ["backup", "rehearse", "migrate-1", "migrate-2", "migrate-3"]


@pytest.mark.parametrize("index", range(len(STEPS)))
def test_restart_after_creating_a_job_adopts_it(index: int) -> None:
    w = _flow_world()
    for _ in range(index):  # get to the step normally
        w.reconcile()
        w.finish()
    step = w.reconcile(crash=True)  # Job created, status not written
    assert isinstance(step, CreateJob) and str(step.request.step) == STEPS[index]
    adopted = w.reconcile()
    assert isinstance(adopted, Wait) and adopted.job_name == step.job_name
    assert w.status.last_job is not None and w.status.last_job.name == step.job_name
    assert isinstance(w.run(), Done)
    assert w.created_steps() == STEPS


@pytest.mark.parametrize("index", range(len(STEPS)))
def test_restart_after_a_job_finished_records_it_once(index: int) -> None:
    w = _flow_world()
    for _ in range(index + 1):
        w.reconcile()
        w.finish()
    w.reconcile(crash=True)  # result recorded and next Job created, status lost
    w.reconcile(crash=True)  # and again
    assert isinstance(w.run(), Done)
    assert w.created_steps() == STEPS
    assert w.status.run is not None
    assert [r.step for r in w.status.run.completed] == STEPS


@pytest.mark.parametrize("fault", ["migration", "database"])
def test_restart_in_the_middle_of_recovery_and_retry(fault: str) -> None:
    w = world(phases=PHASES, rollback={"onFailure": "Down"}, targetVersion="005")
    assert isinstance(w.run(), Done)
    w.set_spec(targetVersion="008")
    w.faults["up"].append(Fault(fault, at=7))
    for _ in range(8):
        w.reconcile(crash=True)
        w.reconcile()
        w.finish()
        if w.now > NOW + timedelta(seconds=10):
            w.now += timedelta(seconds=60)
    step = w.run()
    if fault == "migration":
        assert isinstance(step, Fail) and w.db == 5
    else:
        assert isinstance(step, Done) and w.db == 8


# =========================================================================== table


def status_with(current: str | None, run: RunState | None = None) -> DatabaseMigrationStatus:
    return DatabaseMigrationStatus(current_version=current, run=run)


def observed(**kw: Any) -> Observed:
    args: dict[str, Any] = {"resource": OWNER, "generation": 1, "now": NOW, "source": listing()}
    return Observed(**{**args, **kw})


BLOCKED_CASES: list[tuple[str, dict[str, Any], str | None, dict[str, Any], str, str]] = [
    ("secret missing", {"dependencyTimeoutSeconds": 0}, None, {"secret_found": False}, "SecretNotFound",
     "spec.database.secretRef.name"),
    ("key missing", {"dependencyTimeoutSeconds": 0}, None, {"secret_key_found": False}, "SecretKeyNotFound",
     "spec.database.secretRef.key"),
    ("configmap missing", {"dependencyTimeoutSeconds": 0}, None, {"config_map_found": False}, "ConfigMapNotFound",
     "spec.source.configMap.name"),
    ("target not in source", {"targetVersion": "009"}, None, {}, "TargetVersionNotFound",
     "spec.targetVersion"),
    ("phase through not a version", {"phases": [{"name": "a", "through": "003"},
     {"name": "b", "through": "004"}, {"name": "c", "through": "008"}]}, None,
     {"source": listing([v for v in ALL if v != "004"])}, "InvalidPhases",
     "spec.phases[1].through"),
    ("phases not increasing", {"phases": [{"name": "a", "through": "005"},
     {"name": "b", "through": "003"}, {"name": "c", "through": "008"}]}, None, {},
     "InvalidPhases", "spec.phases[1].through"),
    ("last phase below target", {"phases": [{"name": "a", "through": "003"}]}, None, {},
     "InvalidPhases", "spec.phases[0].through"),
    ("duplicate phase names", {"phases": [{"name": "a", "through": "003"},
     {"name": "a", "through": "008"}]}, None, {}, "InvalidPhases", "spec.phases[1].name"),
    ("lowered target without downs", {"targetVersion": "003"}, "006",
     {"source": listing(downs=["001", "002", "003", "004"])}, "DownFileMissing",
     "spec.targetVersion"),
    ("onFailure Down without downs", {"rollback": {"onFailure": "Down"}}, "003",
     {"source": listing(downs=["001", "002", "003", "004", "005", "006"])}, "DownFileMissing",
     "spec.rollback.onFailure"),
    ("Restore without backup", {"rollback": {"onFailure": "Restore", "allowDataLoss": True}},
     None, {}, "BackupRequired", "spec.rollback.onFailure"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("patch", "current", "obs", "reason", "field"),
    [case[1:] for case in BLOCKED_CASES],
    ids=[case[0] for case in BLOCKED_CASES],
)
def test_blocked(
    patch: dict[str, Any], current: str | None, obs: dict[str, Any], reason: str, field: str
) -> None:
    step = plan(make_spec(**patch), status_with(current), observed(**obs))
    assert isinstance(step, Blocked)
    assert (step.reason, step.field) == (reason, field)
    assert field in step.message or field.endswith("onFailure") or "Secret" in step.message


def test_blocked_messages_name_what_is_wrong() -> None:
    step = plan(make_spec(targetVersion="003"), status_with("006"),
                observed(source=listing(downs=["001", "002", "003", "004"])))  # fmt: skip
    assert isinstance(step, Blocked) and "005, 006" in step.message
    step = plan(make_spec(targetVersion="009"), status_with(None), observed())
    assert isinstance(step, Blocked) and "001, 002" in step.message


def test_an_image_source_skips_source_checks() -> None:
    spec = make_spec(source={"image": {"reference": "r/m:1"}}, targetVersion="999")
    allowed = JobPolicy(allowed_source_images=("r/",))
    step = plan(
        spec, status_with(None), observed(source=None, config_map_found=False, policy=allowed)
    )
    assert isinstance(step, CreateJob) and step.request.target == "999"


RUNNING = RunState(
    generation=1, operation="upgrade", state="Running", start_version="003",
    target_version="008", plan=[PlannedStep(step="migrate-1", target="008", phase="all")],
)  # fmt: skip


TABLE: list[tuple[str, DatabaseMigrationSpec, DatabaseMigrationStatus, Observed, type, str]] = [
    ("fresh resource starts a run", make_spec(), status_with(None), observed(),
     CreateJob, "shop-g1-migrate-1"),
    ("backup first when enabled", make_spec(backup={"volumeClaimName": "p"}), status_with(None),
     observed(), CreateJob, "shop-g1-backup"),
    ("rehearsal before migrating", make_spec(rehearsal={"enabled": True}), status_with("001"),
     observed(), CreateJob, "shop-g1-rehearse"),
    ("up to date", make_spec(), status_with("008"), observed(), Done, ""),
    ("running job is waited for", make_spec(), status_with("003", RUNNING),
     observed(jobs=(ObservedJob("shop-g1-migrate-1", "Active"),)), Wait, "shop-g1-migrate-1"),
    ("finished job is recorded", make_spec(), status_with("003", RUNNING),
     observed(jobs=(ObservedJob("shop-g1-migrate-1", "Succeeded"),)), RecordResult,
     "shop-g1-migrate-1"),
    ("missing job is created", make_spec(), status_with("003", RUNNING), observed(), CreateJob,
     "shop-g1-migrate-1"),
    ("deleting job is waited for", make_spec(), status_with("003", RUNNING),
     observed(jobs=(ObservedJob("shop-g1-migrate-1", "Failed", deleting=True),)), Wait,
     "shop-g1-migrate-1"),
    ("suspended while idle", make_spec(suspend=True), status_with("003", RUNNING), observed(),
     Suspended, ""),
    ("suspended while running", make_spec(suspend=True), status_with("003", RUNNING),
     observed(jobs=(ObservedJob("shop-g1-migrate-1", "Active"),)), DeleteJob,
     "shop-g1-migrate-1"),
    ("failed run stays failed", make_spec(), status_with("004", RUNNING.model_copy(update={
        "state": "Failed", "failure": RunFailure(step="migrate-1", reason="MigrationFailed",
                                                 message="boom")})), observed(), Fail, ""),
    ("a new generation supersedes a run", make_spec(targetVersion="005"),
     status_with("003", RUNNING), observed(generation=2), CreateJob, "shop-g2-migrate-1"),
    ("lowered target plans a down", make_spec(targetVersion="003"), status_with("008"),
     observed(), CreateJob, "shop-g1-down"),
    ("lowered target backs up first", make_spec(targetVersion="003",
     backup={"volumeClaimName": "p"}), status_with("008"), observed(), CreateJob,
     "shop-g1-backup"),
    ("secret gone in the middle of a run", make_spec(dependencyTimeoutSeconds=0),
     status_with("003", RUNNING), observed(secret_found=False), Blocked, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "status", "obs", "kind", "job"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_transition_table(
    spec: DatabaseMigrationSpec,
    status: DatabaseMigrationStatus,
    obs: Observed,
    kind: type,
    job: str,
) -> None:
    step = next_result(spec, status, obs) or plan(spec, status, obs)
    assert isinstance(step, kind), step
    if job:
        name = getattr(step, "job_name", None) or getattr(getattr(step, "job", None), "name", "")
        assert name == job


def test_plan_refuses_a_status_with_a_finished_job_not_folded_in() -> None:
    finished = observed(jobs=(ObservedJob("shop-g1-migrate-1", "Succeeded"),))
    status = status_with("003", RUNNING)
    with pytest.raises(ValueError, match="shop-g1-migrate-1 finished but its result"):
        plan(make_spec(), status, finished)
    folded, events = fold_results(make_spec(), status, finished)
    assert next_result(make_spec(), folded, finished) is None
    assert isinstance(plan(make_spec(), folded, finished), Done)
    assert [e.reason for e in events] == ["Succeeded"]


def test_the_fold_records_several_finished_jobs_in_one_reconcile() -> None:
    two = RUNNING.model_copy(update={"plan": [
        PlannedStep(step="migrate-1", target="005", phase="a"),
        PlannedStep(step="migrate-2", target="008", phase="b"),
    ]})  # fmt: skip
    jobs = (
        ObservedJob("shop-g1-migrate-1", "Succeeded"),
        ObservedJob("shop-g1-migrate-2", "Succeeded"),
    )
    spec = make_spec(phases=[{"name": "a", "through": "005"}, {"name": "b", "through": "008"}])
    result = plan_reconcile(spec, status_with("003", two), observed(jobs=jobs))
    assert isinstance(result.step, Done) and result.requeue_after is None
    assert result.status.run is not None
    assert [r.step for r in result.status.run.completed] == ["migrate-1", "migrate-2"]
    assert result.status.current_version == "008"


def test_recorded_outcomes_classify_engine_errors() -> None:
    def record(
        kind: ErrorKind | None, state: JobState = "Failed", step: str = "migrate-1"
    ) -> RecordResult:
        run = RUNNING.model_copy(update={"plan": [PlannedStep(step=step, target="008")]})
        error = ErrorInfo(kind=kind, message="m") if kind else None
        command = {"backup": "backup", "rehearse": "rehearse", "down": "down"}.get(step, "up")
        result = RunResult(command=command, ok=False, exit_code=1, error=error)
        job = ObservedJob(f"shop-g1-{step}", state, termination_message=render_compact(result))
        out = next_result(make_spec(), status_with("003", run), observed(jobs=(job,)))
        assert isinstance(out, RecordResult)
        return out

    assert (record("migration").outcome, record("migration").reason) == (
        "failed",
        "MigrationFailed",
    )
    assert record("validation").reason == "ValidationFailed"
    assert record("drift").reason == "DriftDetected"
    assert record("schema-drift").reason == "SchemaDriftDetected"
    assert record("input").reason == "InvalidMigrations"
    assert (record("database").outcome, record("database").reason) == (
        "retry",
        "DatabaseUnreachable",
    )
    assert record("lock").outcome == "retry"
    assert record(None, "Succeeded").outcome == "succeeded"
    assert record("migration", step="backup").reason == "BackupFailed"
    assert record("validation", step="rehearse").reason == "RehearsalFailed"
    assert record("migration", step="down").reason == "RollbackFailed"


def test_current_step_skips_covered_phases_and_follows_recovery() -> None:
    run = RunState(
        generation=1, operation="upgrade", state="Running", start_version=None,
        target_version="008", on_failure="Down",
        plan=[PlannedStep(step="backup"), PlannedStep(step="migrate-1", target="003"),
              PlannedStep(step="migrate-2", target="008")],
    )  # fmt: skip
    step = current_step(run, None)
    assert step is not None and step.step == "backup"
    step = current_step(run, "004")
    assert step is not None and step.step == "backup"
    from dbmigrator.api.status import RunStepRecord

    done_backup = run.model_copy(update={"completed": [
        RunStepRecord(step="backup", job="j", succeeded=True, reason="Succeeded")]})  # fmt: skip
    step = current_step(done_backup, "004")
    assert step is not None and step.step == "migrate-2"  # migrate-1 is covered by 004
    failed = done_backup.model_copy(update={
        "start_version": "004",
        "failure": RunFailure(step="migrate-2", reason="MigrationFailed", message="x",
                              version="006")})  # fmt: skip
    step = current_step(failed, "006")
    assert step is not None and (step.step, step.target) == ("down", "004")
    nothing_applied = failed.model_copy(update={"failure": failed.failure.model_copy(  # type: ignore[union-attr]
        update={"version": "004"})})  # fmt: skip
    assert current_step(nothing_applied, "004") is None


# =========================================================================== properties

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("reconcile"), st.booleans()),
        st.tuples(
            st.just("finish"), st.sampled_from(["ok", "ok", "migration", "database", "crash"])
        ),
        st.tuples(st.just("target"), st.integers(0, 8)),
        st.tuples(st.just("suspend"), st.booleans()),
        st.tuples(st.just("retry"), st.none()),
        st.tuples(st.just("time"), st.integers(1, 700)),
        st.tuples(st.just("ttl"), st.none()),
        st.tuples(st.just("secret"), st.booleans()),
    ),
    max_size=40,
)
SPECS = st.fixed_dictionaries(
    {
        "phases": st.sampled_from([[], PHASES]),
        "backup": st.sampled_from([None, {"volumeClaimName": "pvc"}]),
        "rehearsal": st.sampled_from([{"enabled": False}, {"enabled": True}]),
        "rollback": st.sampled_from(
            [
                {"onFailure": "None"},
                {"onFailure": "Down"},
                {"onFailure": "Restore", "allowDataLoss": True},
            ]
        ),
        "targetVersion": st.sampled_from(["003", "005", "008"]),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patch=SPECS, db=st.integers(0, 8), actions=ACTIONS)
def test_planner_invariants_hold_under_any_interleaving(
    patch: dict[str, Any], db: int, actions: list[tuple[str, Any]]
) -> None:
    """Never two Jobs, never re-create or re-record, never re-apply, lowered targets only go down.

    The checks run inside World.reconcile on every step; at the end, with faults cleared, the
    operator must converge to the target.
    """
    if patch["rollback"]["onFailure"] == "Restore":
        patch = {**patch, "backup": {"volumeClaimName": "pvc"}}
    w = World(make_spec(**{k: v for k, v in patch.items() if v is not None}), db=db)
    for action, arg in actions:
        if action == "reconcile":
            w.reconcile(crash=arg)
        elif action == "finish":
            w.finish(None if arg == "ok" else Fault(arg))
        elif action == "target":
            # Target 0 only means something once the operator has seen the database's version:
            # with an unknown version it is taken as already reached (no Job can tell).
            arg = arg or (0 if w.status.current_version is not None else 1)
            w.set_spec(targetVersion=f"{arg:03d}")
        elif action == "suspend":
            w.set_spec(suspend=arg)
        elif action == "retry":
            w.retry_token = str(len(w.steps))
        elif action == "ttl":  # finished Jobs expire (or a human deletes them)
            w.jobs = {n: j for n, j in w.jobs.items() if not j.finished}
        elif action == "secret":
            w.secret_found = arg
        else:
            w.now += timedelta(seconds=arg)
    w.secret_found = True
    if w.spec.suspend:
        w.set_spec(suspend=False)
    target = vint(w.spec.target_version)
    for _ in range(6):
        step = w.run(limit=80)
        assert not isinstance(step, Blocked | Suspended), step
        if isinstance(step, Done) and w.db == target:
            break
        w.retry_token = f"final-{len(w.steps)}"  # a human retries a failed run
    assert w.db == target
    assert vint(w.status.current_version) == target
    assert w.status.observed_generation == w.generation
    ready = {c.type: c.status for c in w.status.conditions}
    assert (ready["Ready"], ready["Reconciling"], ready["Stalled"]) == ("True", "False", "False")


def test_each_created_job_step_matches_its_kind() -> None:
    w = _flow_world()
    w.run()
    for name in w.created:
        labels = w.manifests[name]["metadata"]["labels"]
        assert (
            labels["app.kubernetes.io/component"] == StepId.parse(labels["dbmigrator.io/step"]).kind
        )


# ---- pods that cannot start, containers the kernel killed -------------------------------------


def _pod(waiting: str | None = None, oom: bool = False) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": "image x is not present"}}
    if oom:
        state = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    since = "2026-11-24T22:00:00Z"
    return {
        "metadata": {"creationTimestamp": since},
        "status": {
            "startTime": since,
            "containerStatuses": [{"name": "dbmigrator", "state": state}],
        },
    }


def _job_json(failed: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    return {
        "metadata": {"name": "shop-g1-migrate-1", "labels": {
            "dbmigrator.io/step": "migrate-1", "dbmigrator.io/generation": "1"}},
        "status": {"conditions": conditions} if failed else {},
    }  # fmt: skip


def test_a_pod_that_cannot_start_fails_the_step_after_its_grace_and_the_job_goes() -> None:
    stuck = observe_job(_job_json(), [_pod("ErrImageNeverPull")])
    assert stuck.state == "Active" and stuck.stuck is not None
    assert stuck.stuck.reason == "ErrImageNeverPull"
    early, late = NOW + timedelta(seconds=10), NOW + timedelta(seconds=30)
    assert not stuck.given_up(early) and stuck.given_up(late)
    backoff = observe_job(_job_json(), [_pod("ImagePullBackOff")])
    assert not backoff.given_up(late), "a registry hiccup gets a longer grace"
    assert observe_job(_job_json(), [_pod("ContainerCreating")]).stuck is None

    s = make_spec(phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
    empty = DatabaseMigrationStatus()

    def observed(at: datetime, *jobs: ObservedJob) -> Observed:
        return Observed(OWNER, 1, at, jobs=jobs, source=listing())

    first = plan_reconcile(s, empty, observed(NOW))
    assert isinstance(first.step, CreateJob) and first.step.job_name == "shop-g1-migrate-1"
    waiting = plan_reconcile(s, first.status, observed(early, stuck))
    assert isinstance(waiting.step, Wait)
    assert "ErrImageNeverPull" in waiting.step.message
    # A stuck pod changes nothing a watch sees: looked at again when its grace (20 s) ends.
    assert waiting.requeue_after == pytest.approx(10.0)
    healthy = observe_job(_job_json(), [_pod("ContainerCreating")])
    running = plan_reconcile(s, first.status, observed(early, healthy))
    assert isinstance(running.step, Wait) and running.requeue_after == JOB_POLL_SECONDS
    obs = observed(late, stuck)
    assert obs.active_jobs == () and obs.jobs_to_delete == ("shop-g1-migrate-1",)
    gave_up = plan_reconcile(s, first.status, obs)
    assert isinstance(gave_up.step, Fail) and gave_up.step.reason == "ErrImageNeverPull"
    conditions = {c.type: (c.status, c.reason) for c in gave_up.status.conditions}
    assert conditions["Stalled"] == ("True", "ErrImageNeverPull")
    assert "could not start" in (gave_up.status.message or "")
    deleting = replace(stuck, deleting=True)
    again = plan_reconcile(s, gave_up.status, observed(late, deleting))
    assert isinstance(again.step, Fail), "stays Stalled while the Job is deleted"
    assert observed(late, deleting).jobs_to_delete == ()


def test_an_oom_killed_engine_is_reported_as_such() -> None:
    job = observe_job(_job_json(failed=True), [_pod(oom=True)])
    assert job.oom_killed and job.state == "Failed"
    assert job.failure_reason is not None and job.failure_reason.startswith("OOMKilled")
    s = make_spec(phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
    first = plan_reconcile(s, DatabaseMigrationStatus(), Observed(OWNER, 1, NOW, source=listing()))
    done = plan_reconcile(s, first.status, Observed(OWNER, 1, NOW, jobs=(job,), source=listing()))
    assert isinstance(done.step, Fail) and done.step.reason == "OOMKilled"
    assert "limits.memory" in (done.status.message or "")


def test_an_interrupted_step_is_retried_unless_its_deadline_stopped_it() -> None:
    """A pod deleted or evicted mid-migration: the engine rolled back and said `interrupted`."""
    s = make_spec(phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
    first = plan_reconcile(s, DatabaseMigrationStatus(), Observed(OWNER, 1, NOW, source=listing()))
    assert isinstance(first.step, CreateJob)
    interrupted = RunResult(
        command="up", ok=False, exit_code=143,
        error=ErrorInfo(kind="interrupted", message="stopped by SIGTERM"),
    )  # fmt: skip
    message = render_compact(interrupted)

    def after(failure_reason: str | None) -> Any:
        job = ObservedJob(first.step.job_name, "Failed", step="migrate-1", generation=1,
                          termination_message=message, exit_code=143,
                          failure_reason=failure_reason)  # fmt: skip
        return plan_reconcile(
            s, first.status, Observed(OWNER, 1, NOW, jobs=(job,), source=listing())
        )

    retried = after("BackoffLimitExceeded: Job has reached the specified backoff limit")
    assert isinstance(retried.step, Wait) and retried.step.reason == "Interrupted"
    assert "attempt 2" in retried.step.message
    stopped = after("DeadlineExceeded: Job was active longer than specified deadline")
    assert isinstance(stopped.step, Fail)


@pytest.mark.parametrize(
    ("obs", "waiting", "stalled"),
    [
        ({"secret_found": False}, "WaitingForSecret", "SecretNotFound"),
        ({"secret_key_found": False}, "WaitingForSecretKey", "SecretKeyNotFound"),
        ({"config_map_found": False}, "WaitingForConfigMap", "ConfigMapNotFound"),
    ],
)
def test_a_late_dependency_is_waited_for_then_stalls(
    obs: dict[str, Any], waiting: str, stalled: str
) -> None:
    """GitOps often delivers the Secret moments later (External Secrets, a later wave)."""
    spec = make_spec(dependencyTimeoutSeconds=60)
    first = plan_reconcile(spec, status_with(None), observed(**obs))
    assert isinstance(first.step, Wait) and first.step.reason == waiting
    assert "Stalled in 60s" in first.step.message and first.step.requeue_after == 5.0
    assert first.status.waiting_since == "2026-11-24T22:00:00Z"
    ready = {c.type: (c.status, c.reason) for c in first.status.conditions}
    assert ready["Reconciling"] == ("True", waiting) and ready["Stalled"][0] == "False"
    later = replace(observed(**obs), now=NOW + timedelta(seconds=30))
    second = plan_reconcile(spec, first.status, later)
    assert isinstance(second.step, Wait) and "Stalled in 30s" in second.step.message
    assert second.status.waiting_since == first.status.waiting_since, "the clock is not reset"
    late = replace(observed(**obs), now=NOW + timedelta(seconds=61))
    third = plan_reconcile(spec, second.status, late)
    assert isinstance(third.step, Blocked) and third.step.reason == stalled
    still = plan_reconcile(spec, third.status, replace(late, now=late.now + timedelta(seconds=10)))
    assert isinstance(still.step, Blocked), "it stays Stalled; no new wait begins"
    arrived = plan_reconcile(spec, third.status, replace(observed(), now=late.now))
    assert isinstance(arrived.step, CreateJob)
    assert arrived.status.waiting_since is None


def test_a_new_generation_waits_anew() -> None:
    spec = make_spec(dependencyTimeoutSeconds=60)
    first = plan_reconcile(spec, status_with(None), observed(secret_found=False))
    late = replace(observed(secret_found=False), now=NOW + timedelta(seconds=90), generation=2)
    again = plan_reconcile(spec, first.status, late)
    assert isinstance(again.step, Wait) and "Stalled in 60s" in again.step.message


def test_a_job_whose_pod_was_taken_away_without_a_result_is_retried() -> None:
    """`kubectl delete pod` mid-run: the Job fails at once and its pod may be gone before the
    engine's `interrupted` result could be read. A crash that leaves its pod is not retried."""
    s = make_spec(phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
    first = plan_reconcile(s, DatabaseMigrationStatus(), Observed(OWNER, 1, NOW, source=listing()))
    assert isinstance(first.step, CreateJob)
    terminating = _pod("ContainerCreating")
    terminating["metadata"]["deletionTimestamp"] = "2026-11-24T22:00:05Z"
    evicted = _pod("ContainerCreating")
    evicted["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True"}]
    crashed = _pod("ContainerCreating")

    def after(pods: list[dict[str, Any]], reason: str = "BackoffLimitExceeded") -> Any:
        body = _job_json(failed=True)
        body["status"]["conditions"][0]["reason"] = reason
        job = observe_job(body, pods)
        return job, plan_reconcile(
            s, first.status, Observed(OWNER, 1, NOW, jobs=(job,), source=listing())
        )

    for pods in ([], [terminating], [evicted]):
        job, retried = after(pods)
        assert job.interrupted, pods
        assert isinstance(retried.step, Wait) and retried.step.reason == "Interrupted"
        assert "deleted or evicted" in (retried.status.message or "")
    job, failed = after([crashed])
    assert not job.interrupted
    assert isinstance(failed.step, Fail) and failed.step.reason == "JobFailed"
    job, deadline = after([], reason="DeadlineExceeded")
    assert not job.interrupted and isinstance(deadline.step, Fail)
