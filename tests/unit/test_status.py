"""Status computation: kstatus conditions, messages, history, backup/validation, exactly-once."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from dbmigrator.api.schema import build_openapi_schema
from dbmigrator.api.spec import DatabaseMigrationSpec, parse_spec
from dbmigrator.api.status import (
    DatabaseMigrationStatus,
    HistoryEntry,
    RunState,
    render_status_patch,
)
from dbmigrator.controller.delays import (
    BLOCKED_RECHECK_SECONDS,
    JOB_POLL_SECONDS,
    SUSPEND_POLL_SECONDS,
)
from dbmigrator.controller.jobs import JobRequest
from dbmigrator.controller.messages import (
    redact,
    render_engine_error,
    render_spec_problems,
    summarize_validation,
)
from dbmigrator.controller.observed import (
    Observed,
    ObservedJob,
    ResourceRef,
    parse_source_listing,
)
from dbmigrator.controller.recording import db_version_after
from dbmigrator.controller.status import (
    Reconcile,
    apply_step,
    plan_invalid_spec,
    plan_reconcile,
    plan_requeue,
)
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import Blocked, CreateJob, DeleteJob, Done, Fail, Suspended, Wait
from dbmigrator.engine.results import (
    AppliedMigration,
    BackupInfo,
    CheckFailure,
    ErrorInfo,
    QueryTiming,
    RevertedMigration,
    RunResult,
    ValidationSummary,
    render_compact,
)

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
OWNER = ResourceRef(name="shop", namespace="shop-ns", uid="uid")
SOURCE = parse_source_listing(
    [f"{v:03d}_m.sql" for v in range(1, 9)] + [f"{v:03d}_m.down.sql" for v in range(1, 9)]
)
PHASES = [
    {"name": "core", "through": "003"},
    {"name": "payments", "through": "005"},
    {"name": "advanced", "through": "008"},
]
CHECKS = ValidationSummary(passed=True, total=14, failed=0)


def make_spec(**patch: Any) -> DatabaseMigrationSpec:
    base = {
        "database": {"secretRef": {"name": "db"}},
        "source": {"configMap": {"name": "m"}},
        "targetVersion": "008",
        "phases": PHASES,
        "safety": {"review": "Never", "drift": "Ignore"},  # the gate: test_gate.py
    }
    return parse_spec({**base, **patch})


def applied(*versions: int) -> list[AppliedMigration]:
    return [AppliedMigration(version=f"{v:03d}", name=f"m{v}", checksum="c") for v in versions]


def up(frm: int, to: int, **kw: Any) -> RunResult:
    fields: dict[str, Any] = {
        "command": "up", "ok": True, "exit_code": 0,
        "from_version": f"{frm:03d}" if frm else None, "current_version": f"{to:03d}",
        "applied": applied(*range(frm + 1, to + 1)), "validation": CHECKS,
    }  # fmt: skip
    fields.update(kw)
    return RunResult(**fields)


class Sim:
    """Drives plan_reconcile; Jobs are finished by hand with a given result."""

    def __init__(self, spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus | None = None):
        self.spec = spec
        self.status = status or DatabaseMigrationStatus()
        self.jobs: dict[str, ObservedJob] = {}
        self.generation = 1
        self.now = NOW
        self.last: Reconcile | None = None

    def observed(self, **kw: Any) -> Observed:
        return Observed(
            resource=OWNER, generation=self.generation, now=self.now,
            jobs=tuple(self.jobs.values()), source=SOURCE, **kw,
        )  # fmt: skip

    def reconcile(self, **kw: Any) -> Reconcile:
        r = plan_reconcile(self.spec, self.status, self.observed(**kw))
        if isinstance(r.step, CreateJob):
            self.jobs[r.step.job_name] = ObservedJob(r.step.job_name, "Active")
        self.status = r.status
        self.last = r
        self.now += timedelta(seconds=10)
        return r

    def finish(self, name: str, result: RunResult | None, ok: bool | None = None) -> None:
        succeeded = result.ok if ok is None and result is not None else bool(ok)
        self.jobs[name] = ObservedJob(
            name,
            "Succeeded" if succeeded else "Failed",
            termination_message=render_compact(result) if result is not None else None,
            failure_reason=None if result is not None else "DeadlineExceeded: too slow",
        )


def conditions(status: DatabaseMigrationStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def kstatus(status: DatabaseMigrationStatus) -> tuple[str, str, str]:
    c = conditions(status)
    return c["Ready"][0], c["Reconciling"][0], c["Stalled"][0]


def upgrade_to_005(sim: Sim) -> None:
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    sim.reconcile()
    sim.finish("shop-g1-migrate-2", up(3, 5))


# --------------------------------------------------------------------------- kstatus


def test_in_progress_is_reconciling_and_not_ready() -> None:
    sim = Sim(make_spec())
    r = sim.reconcile()
    assert isinstance(r.step, CreateJob)
    assert kstatus(r.status) == ("False", "True", "False")
    assert conditions(r.status)["Reconciling"][1] == "Migrating"
    assert r.status.phase == "Migrating"
    assert r.status.observed_generation is None  # the outcome is not decided yet
    assert all(c.observed_generation == 1 for c in r.status.conditions)
    assert r.status.message == "migrating phase 1/3 core to 003 (job shop-g1-migrate-1)"
    assert r.status.last_job is not None
    assert r.status.last_job.log_hint == "kubectl logs job/shop-g1-migrate-1 -n shop-ns"
    assert [p.state for p in r.status.phases] == ["Running", "Pending", "Pending"]


def test_success_is_ready_with_a_summary() -> None:
    sim = Sim(make_spec())
    upgrade_to_005(sim)
    sim.reconcile()
    sim.finish("shop-g1-migrate-3", up(5, 8))
    r = sim.reconcile()
    assert isinstance(r.step, Done)
    assert kstatus(r.status) == ("True", "False", "False")
    assert r.status.phase == "Succeeded" and r.status.observed_generation == 1
    assert r.status.message == "8 migrations applied in 3 phases; 14/14 checks passed"
    assert r.status.current_version == "008" and r.status.target_version == "008"
    assert [a.version for a in r.status.applied] == [f"{v:03d}" for v in range(1, 9)]
    assert conditions(r.status)["Validated"] == ("True", "ChecksPassed")
    (entry,) = r.status.history
    assert (entry.operation, entry.from_version, entry.to_version, entry.result) == (
        "upgrade", None, "008", "Succeeded"
    )  # fmt: skip
    assert r.status.run is not None and r.status.run.state == "Succeeded"


def test_failure_is_stalled_with_the_engine_error() -> None:
    sim = Sim(make_spec())
    upgrade_to_005(sim)
    sim.reconcile()
    error = ErrorInfo(kind="migration", message='relation "x" does not exist',
                      file="006_create_payment_system.sql", line=12, sqlstate="42P01",
                      hint="create x first")  # fmt: skip
    sim.finish("shop-g1-migrate-3", up(5, 5, ok=False, exit_code=1, applied=[], error=error,
                                       validation=None))  # fmt: skip
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "MigrationFailed"
    assert kstatus(r.status) == ("False", "False", "True")
    assert conditions(r.status)["Stalled"][1] == "MigrationFailed"
    assert r.status.phase == "Failed" and r.status.observed_generation == 1
    expected = (
        '006_create_payment_system.sql:12: ERROR 42P01: relation "x" does not exist '
        "(hint: create x first); details: kubectl logs job/shop-g1-migrate-3 -n shop-ns"
    )
    assert r.status.message == expected
    assert r.status.phases[2].state == "Failed" and r.status.phases[2].message == expected
    assert r.status.history[-1].result == "Failed" and r.status.history[-1].to_version == "005"
    events = [(e.type, e.reason) for e in r.events]
    assert ("Warning", "MigrationFailed") in events


def test_blocked_is_stalled_and_decided() -> None:
    sim = Sim(make_spec(dependencyTimeoutSeconds=0))
    r = sim.reconcile(secret_found=False)
    assert isinstance(r.step, Blocked)
    assert kstatus(r.status) == ("False", "False", "True")
    assert conditions(r.status)["Ready"][1] == "SecretNotFound"
    assert r.status.observed_generation == 1 and r.status.phase == "Failed"
    assert r.events and r.events[0].type == "Warning"
    again = sim.reconcile(secret_found=False)
    assert again.events == ()  # no Event storm while nothing changes
    assert again.status.conditions == r.status.conditions


def test_suspended() -> None:
    sim = Sim(make_spec(suspend=True))
    r = sim.reconcile()
    assert isinstance(r.step, Suspended)
    assert kstatus(r.status) == ("False", "False", "False")
    assert conditions(r.status)["Ready"][1] == "Suspended"
    assert r.status.phase == "Suspended" and r.status.observed_generation == 1


def test_transient_failure_keeps_reconciling_and_never_stalls() -> None:
    sim = Sim(make_spec())
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", RunResult(command="up", ok=False, exit_code=1,
               error=ErrorInfo(kind="database", message="connection refused")))  # fmt: skip
    r = sim.reconcile()
    assert isinstance(r.step, Wait) and r.step.reason == "DatabaseUnreachable"
    assert kstatus(r.status) == ("False", "True", "False")
    assert r.status.message is not None and r.status.message.startswith("retrying migrate-1 in 30s")
    assert "connection refused" in r.status.message
    assert r.status.run is not None and r.status.run.attempt == 1
    assert r.status.run.retry_after == "2026-11-24T22:00:40Z"
    assert r.status.phase == "Migrating" and r.status.phases[0].state == "Running"
    assert [(e.type, e.reason) for e in r.events] == [("Warning", "DatabaseUnreachable")]


# --------------------------------------------------------------------------- time


def test_last_transition_time_only_moves_when_a_condition_status_changes() -> None:
    sim = Sim(make_spec())
    first = sim.reconcile()
    ready_since = first.status.conditions[0].last_transition_time
    sim.finish("shop-g1-migrate-1", up(0, 3))
    second = sim.reconcile()  # records, creates migrate-2: Ready stays False
    assert second.status.conditions[0].last_transition_time == ready_since
    assert conditions(second.status)["Ready"] == ("False", "Migrating")
    sim.finish("shop-g1-migrate-2", up(3, 5))
    sim.reconcile()
    sim.finish("shop-g1-migrate-3", up(5, 8))
    done = sim.reconcile()
    ready = done.status.conditions[0]
    assert ready.status == "True" and ready.last_transition_time != ready_since
    stalled = next(c for c in done.status.conditions if c.type == "Stalled")
    assert stalled.last_transition_time == ready_since  # False all along


def test_reconciling_again_changes_nothing() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    done = sim.reconcile().status
    for _ in range(3):
        r = sim.reconcile()
        assert isinstance(r.step, Done) and r.events == ()
        assert r.status == done


def test_a_failed_run_stays_failed_without_changes() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 1, ok=False, exit_code=1,
               error=ErrorInfo(kind="migration", message="boom")))  # fmt: skip
    failed = sim.reconcile().status
    for _ in range(3):
        r = sim.reconcile()
        assert isinstance(r.step, Fail) and r.events == ()
        assert r.status == failed


def test_a_finished_job_is_recorded_exactly_once() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    obs = sim.observed()
    once = plan_reconcile(sim.spec, sim.status, obs)
    twice = plan_reconcile(sim.spec, once.status, obs)
    assert once.status.run is not None and len(once.status.run.completed) == 1
    assert twice.status == once.status
    assert len(twice.status.history) == 1


# --------------------------------------------------------------------------- steps


def test_backup_ready_and_the_relative_backup_file() -> None:
    sim = Sim(make_spec(backup={"volumeClaimName": "pvc"}, targetVersion="003"))
    r = sim.reconcile()
    assert r.status.phase == "BackingUp" and conditions(r.status)["Reconciling"][1] == "BackingUp"
    info = BackupInfo(file="/backups/shop/shop-20261124T220501Z-000.dump", size_bytes=1_048_576,
                      sha256="ab" * 32, completed_at="2026-11-24T22:05:01Z")  # fmt: skip
    sim.finish("shop-g1-backup", RunResult(command="backup", ok=True, exit_code=0, backup=info))
    r = sim.reconcile()
    assert r.status.backup is not None
    assert r.status.backup.file == "shop/shop-20261124T220501Z-000.dump"
    assert r.status.backup.size_bytes == 1_048_576 and r.status.backup.sha256 == "ab" * 32
    ready = next(c for c in r.status.conditions if c.type == "BackupReady")
    assert (ready.status, ready.reason) == ("True", "BackupSucceeded")
    assert ready.message == "shop/shop-20261124T220501Z-000.dump (1.0 MiB, version none)"
    assert r.status.run is not None and r.status.run.backup_file == r.status.backup.file


def test_backup_failure_sets_backup_ready_false() -> None:
    sim = Sim(make_spec(backup={"volumeClaimName": "pvc"}))
    sim.reconcile()
    sim.finish("shop-g1-backup", RunResult(command="backup", ok=False, exit_code=1,
               error=ErrorInfo(kind="backup", message="pg_dump: error: permission denied")))  # fmt: skip
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "BackupFailed"
    assert conditions(r.status)["BackupReady"] == ("False", "BackupFailed")
    assert "pg_dump: error: permission denied" in (r.status.message or "")


def test_validation_failure_and_performance_are_reported() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    summary = ValidationSummary(passed=False, total=14, failed=2, failures=[
        CheckFailure(check="rls", target="public.orders", message="RLS is disabled"),
        CheckFailure(check="role-probe", target="anon: orders", message="returned 3 rows"),
    ])  # fmt: skip
    timing = QueryTiming(name="parts", baseline_ms=2.0, current_ms=4.0, degradation_percent=100,
                         passed=False)  # fmt: skip
    result = up(0, 3, ok=False, exit_code=1, validation=summary, performance=[timing],
                error=ErrorInfo(kind="validation", message="2 checks failed"))  # fmt: skip
    sim.finish("shop-g1-migrate-1", result)
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "ValidationFailed"
    validated = next(c for c in r.status.conditions if c.type == "Validated")
    assert (validated.status, validated.reason) == ("False", "ValidationFailed")
    assert validated.message.startswith("2/14 checks failed: rls public.orders: RLS is disabled")
    assert r.status.validation is not None and r.status.validation.failed == 2
    assert r.status.performance[0].degradation_percent == 100
    assert r.status.current_version == "003"  # onFailure None leaves the migrations applied


def test_rollback_after_failure_adds_two_history_entries() -> None:
    sim = Sim(make_spec(rollback={"onFailure": "Down"}))
    upgrade_to_005(sim)
    sim.reconcile()
    sim.finish("shop-g1-migrate-3", up(5, 7, ok=False, exit_code=1,
               error=ErrorInfo(kind="migration", message="boom", file="008_m.sql")))  # fmt: skip
    r = sim.reconcile()
    assert isinstance(r.step, CreateJob) and r.step.request.step == StepId("down")
    assert r.status.phase == "RollingBack"
    assert conditions(r.status)["Reconciling"] == ("True", "RollingBack")
    down = RunResult(command="down", ok=True, exit_code=0, from_version="007",
                     current_version=None, reverted=[RevertedMigration(version=f"{v:03d}", name="m")
                                                     for v in range(7, 0, -1)])  # fmt: skip
    sim.finish("shop-g1-down", down)
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "MigrationFailed"
    assert r.status.current_version == "0"  # an empty database, as the engine reported
    assert r.status.message is not None
    assert r.status.message.startswith(
        "008_m.sql: boom; details: kubectl logs job/shop-g1-migrate-3"
    )
    assert r.status.message.endswith("; then rolled back to 0 with down files (7 migrations)")
    assert [(h.operation, h.from_version, h.to_version, h.result) for h in r.status.history] == [
        ("upgrade", None, "007", "Failed"),
        ("rollback", "007", "0", "Succeeded"),
    ]
    assert r.status.applied == []


def test_lowered_target_summary_and_history() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    sim.reconcile()
    sim.spec = make_spec(targetVersion="001")
    sim.generation = 2
    r = sim.reconcile()
    assert isinstance(r.step, CreateJob) and r.step.job_name == "shop-g2-down"
    assert r.status.phase == "RollingBack" and r.status.phases == []
    assert r.status.target_version == "001"
    sim.finish("shop-g2-down", RunResult(command="down", ok=True, exit_code=0, from_version="003",
               current_version="001", reverted=[RevertedMigration(version="003", name="m"),
               RevertedMigration(version="002", name="m")], validation=CHECKS))  # fmt: skip
    r = sim.reconcile()
    assert isinstance(r.step, Done)
    assert r.status.message == "2 migrations reverted (003 -> 001); 14/14 checks passed"
    assert r.status.history[-1].operation == "rollback"
    assert [a.version for a in r.status.applied] == ["001"]


def test_a_superseded_run_is_recorded_in_history() -> None:
    sim = Sim(make_spec())
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    sim.reconcile()  # migrate-2 running
    sim.spec = make_spec(targetVersion="005")
    sim.generation = 2
    sim.finish("shop-g1-migrate-2", up(3, 5))
    r = sim.reconcile()
    assert isinstance(r.step, Done) and r.step.run is None
    assert [(h.result, h.message) for h in r.status.history] == [
        ("Superseded", "superseded by generation 2")
    ]
    assert r.status.observed_generation == 2 and r.status.phase == "Succeeded"
    assert r.status.run is not None and r.status.run.state == "Superseded"


def test_spec_change_while_running_shows_the_running_step() -> None:
    sim = Sim(make_spec())
    sim.reconcile()
    sim.spec = make_spec(targetVersion="005")
    sim.generation = 2
    r = sim.reconcile()
    assert isinstance(r.step, Wait) and r.status.phase == "Migrating"
    assert "generation 2 is applied after it" in (r.status.message or "")
    assert r.status.observed_generation is None


def test_delete_job_marks_the_phase_interrupted() -> None:
    sim = Sim(make_spec())
    sim.reconcile()
    sim.spec = make_spec(suspend=True)
    sim.generation = 2
    r = sim.reconcile()
    assert r.status.phase == "Suspended" and kstatus(r.status) == ("False", "True", "False")
    assert r.status.phases[0].state == "Pending"
    assert r.status.phases[0].message == "interrupted by spec.suspend"


def test_database_ahead_of_an_unknown_target_fails_without_rolling_back() -> None:
    sim = Sim(make_spec(targetVersion="003", phases=[]))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(5, 5, applied=[], from_version="005"))
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "TargetNotReached"
    assert "the database is at 005, above spec.targetVersion 003" in r.step.message
    assert kstatus(r.status) == ("False", "False", "True")


def test_history_keeps_the_last_ten() -> None:
    entries = [HistoryEntry(operation="upgrade", result="Succeeded", at=str(i)) for i in range(10)]
    sim = Sim(make_spec(targetVersion="003"), DatabaseMigrationStatus(history=entries))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    r = sim.reconcile()
    assert len(r.status.history) == 10
    assert r.status.history[0].at == "1" and r.status.history[-1].to_version == "003"


def test_no_op_generation_keeps_the_success_message() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(0, 3))
    message = sim.reconcile().status.message
    sim.generation = 2
    r = sim.reconcile()
    assert isinstance(r.step, Done) and r.status.message == message
    assert r.status.observed_generation == 2
    fresh = apply_step(make_spec(targetVersion="003"),
                       DatabaseMigrationStatus(current_version="003"), sim.observed(), Done(None))  # fmt: skip
    assert fresh.message == "database is at version 003"


def test_a_job_without_a_result() -> None:
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", None, ok=False)
    r = sim.reconcile()
    assert isinstance(r.step, Fail) and r.step.reason == "JobFailed"
    assert r.status.message == (
        "the job failed without a result (DeadlineExceeded: too slow); "
        "details: kubectl logs job/shop-g1-migrate-1 -n shop-ns"
    )
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", None, ok=True)
    r = sim.reconcile()
    assert isinstance(r.step, Done) and r.status.current_version == "003"


# --------------------------------------------------------------------------- text and schema


def test_render_engine_error_variants() -> None:
    job = ObservedJob("j", "Failed", failure_reason="BackoffLimitExceeded",
                      termination_message="line 1\nFATAL: password authentication failed")  # fmt: skip
    assert render_engine_error(None, job, "ns") == (
        "the job failed without a result (BackoffLimitExceeded): FATAL: password "
        "authentication failed; details: kubectl logs job/j -n ns"
    )
    bare = RunResult(command="down", ok=False, exit_code=2)
    assert render_engine_error(bare, job, "ns").startswith("down failed with exit code 2;")
    only_file = RunResult(command="up", ok=False, exit_code=1,
                          error=ErrorInfo(kind="input", message="bad", file="001_a.sql"))  # fmt: skip
    assert render_engine_error(only_file, job, "ns").startswith("001_a.sql: bad; details:")


def test_database_uris_are_redacted_everywhere() -> None:
    assert redact("connect postgresql://u:p@h/db failed") == (
        "connect postgresql://[redacted] failed"
    )
    sim = Sim(make_spec(targetVersion="003"))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", RunResult(command="up", ok=False, exit_code=1,
               error=ErrorInfo(kind="migration", message="cannot reach postgres://a:secret@x/db")))  # fmt: skip
    r = sim.reconcile()
    dumped = str(render_status_patch(r.status)) + str(r.events)
    assert "secret@" not in dumped and "[redacted]" in dumped


def test_summaries() -> None:
    assert summarize_validation(14, 0) == "14/14 checks passed"
    assert summarize_validation(14, 2) == "2/14 checks failed"
    assert db_version_after("up", up(0, 3)) == "003"
    assert db_version_after("down", RunResult(command="down", ok=True, exit_code=0)) == "0"
    assert db_version_after("rehearse", up(0, 3)) is None
    transient = RunResult(command="up", ok=False, exit_code=1,
                          error=ErrorInfo(kind="database", message="x"))  # fmt: skip
    assert db_version_after("up", transient) is None
    assert db_version_after("backup", RunResult(command="backup", ok=True, exit_code=0)) is None


def _nullable(schema: Any) -> Any:
    """OpenAPI `nullable` for jsonschema: allow null where the CRD does."""
    if isinstance(schema, dict):
        out = {k: _nullable(v) for k, v in schema.items()}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_nullable(v) for v in schema]
    return schema


def test_every_status_written_fits_the_crd_schema() -> None:
    """Kubernetes prunes undeclared status fields: every field we write must be declared."""
    schema = _nullable(copy.deepcopy(build_openapi_schema()["properties"]["status"]))

    def forbid_unknown(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("object", ["object", "null"]) and "properties" in node:
                node["additionalProperties"] = False
            for v in node.values():
                forbid_unknown(v)

    forbid_unknown(schema)
    validator = jsonschema.Draft4Validator(schema)
    sim = Sim(make_spec(rollback={"onFailure": "Down"}, backup={"volumeClaimName": "p"}))
    statuses: list[DatabaseMigrationStatus] = []
    sim.reconcile()
    statuses.append(sim.status)
    sim.finish("shop-g1-backup", RunResult(command="backup", ok=True, exit_code=0,
               backup=BackupInfo(file="/backups/shop/x.dump", size_bytes=1, sha256="5" * 64)))  # fmt: skip
    statuses.append(sim.reconcile().status)
    sim.finish("shop-g1-migrate-1", up(0, 3, performance=[QueryTiming(name="q")]))
    statuses.append(sim.reconcile().status)
    sim.finish("shop-g1-migrate-2", up(3, 4, ok=False, exit_code=1,
               error=ErrorInfo(kind="migration", message="x")))  # fmt: skip
    statuses.append(sim.reconcile().status)
    sim.finish("shop-g1-down", RunResult(command="down", ok=True, exit_code=0))
    statuses.append(sim.reconcile().status)
    for status in statuses:
        body = render_status_patch(status)
        errors = [e.message for e in validator.iter_errors(body)]
        assert errors == []


def test_run_state_is_restart_safe_data_only() -> None:
    sim = Sim(make_spec())
    r = sim.reconcile()
    run = r.status.run
    assert isinstance(run, RunState)
    assert [p.step for p in run.plan] == ["migrate-1", "migrate-2", "migrate-3"]
    assert (run.generation, run.retry, run.attempt, run.state) == (1, 0, 0, "Running")
    # The same inputs give the same status: nothing depends on hidden state.
    again = plan_reconcile(sim.spec, DatabaseMigrationStatus(), replace(sim.observed(), now=NOW,
                           jobs=()))  # fmt: skip
    assert again.status == r.status


@pytest.mark.parametrize("phase_count", [1, 2])
def test_pluralisation(phase_count: int) -> None:
    phases = PHASES[:1] if phase_count == 1 else [PHASES[0], {"name": "x", "through": "004"}]
    sim = Sim(make_spec(targetVersion="003" if phase_count == 1 else "004", phases=phases))
    sim.reconcile()
    sim.finish("shop-g1-migrate-1", up(2, 3, validation=None))
    r = sim.reconcile()
    if phase_count == 1:
        assert r.status.message == "1 migration applied in 1 phase"
    else:
        sim.finish("shop-g1-migrate-2", up(3, 4, validation=None))
        assert sim.reconcile().status.message == "2 migrations applied in 2 phases"


# --------------------------------------------------------------------------- edges through the core


def test_an_invalid_spec_is_stalled_through_the_core_and_announced_once() -> None:
    first = plan_invalid_spec(DatabaseMigrationStatus(), "spec.targetVersion: bad", 3, NOW)
    st = first.status
    assert (st.phase, st.observed_generation, kstatus(st)) == (
        "Failed",
        3,
        ("False", "False", "True"),
    )
    assert {c.reason for c in st.conditions} == {"InvalidSpec"}
    assert all(c.last_transition_time == "2026-11-24T22:00:00Z" for c in st.conditions)
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "InvalidSpec")]
    assert first.step is None and first.requeue_after is None
    later = NOW + timedelta(minutes=5)
    again = plan_invalid_spec(st, "spec.targetVersion: bad", 3, later)
    assert again.status == st and again.events == ()  # nothing to write, no second Event
    fixed_other = plan_invalid_spec(st, "spec.phases: bad", 3, later)
    assert [e.reason for e in fixed_other.events] == ["InvalidSpec"]  # a new problem is news
    unchanged = {c.type: c.last_transition_time for c in fixed_other.status.conditions}
    assert set(unchanged.values()) == {"2026-11-24T22:00:00Z"}  # statuses did not change


def test_every_action_says_when_to_look_again() -> None:
    run = RunState(generation=1, operation="upgrade", state="Running", target_version="003")
    request = JobRequest(step=StepId.migrate(1), generation=1, target="003")
    assert plan_requeue(CreateJob(request, "j", run, "Migrating", "m")) == JOB_POLL_SECONDS
    assert plan_requeue(DeleteJob("j", "Suspending", "m")) == SUSPEND_POLL_SECONDS
    assert plan_requeue(Wait("Migrating", "m", requeue_after=7.5)) == 7.5
    assert plan_requeue(Wait("Migrating", "m", requeue_after=None)) is None
    assert plan_requeue(Blocked("SecretNotFound", "m")) == BLOCKED_RECHECK_SECONDS
    assert plan_requeue(Done(None)) is None
    assert plan_requeue(Suspended("m")) is None
    assert plan_requeue(Fail(run, "MigrationFailed", "m")) is None


def test_spec_problems_name_their_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        make_spec(targetVersion="abc", phases=[{"name": "Bad Name", "through": "003"}])
    text = render_spec_problems(caught.value.errors())
    assert "spec.targetVersion" in text and "spec.phases.0.name" in text
