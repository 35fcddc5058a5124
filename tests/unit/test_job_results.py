"""Job results are read without trust: only from the Job's own pods, and only when the document
keeps to its contract (hostile documents are rejected before they reach status or a restore).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbmigrator.api.spec import parse_spec
from dbmigrator.api.status import DatabaseMigrationStatus, PlannedStep, RunState
from dbmigrator.controller.observed import (
    Observed,
    ObservedJob,
    ResourceRef,
    build_pod_selector,
    observe_job,
    pods_of_job,
)
from dbmigrator.controller.planner import next_result
from dbmigrator.controller.results import RejectedResult, check_backup_path, read_job_result
from dbmigrator.controller.status import plan_reconcile
from dbmigrator.controller.stepids import StepId
from dbmigrator.controller.steps import RecordResult
from dbmigrator.engine.results import RunResult, render_compact

SHA = "0123456789abcdef" * 4
GOOD_BACKUP: dict[str, Any] = {
    "file": "shop/shop_db-20261128T200000Z-003.dump",
    "sizeBytes": 2048,
    "sha256": SHA,
    "version": "003",
    "completedAt": "2026-11-28T20:00:01Z",
}


def doc(**fields: Any) -> str:
    base: dict[str, Any] = {"command": "backup", "ok": True, "exitCode": 0}
    return json.dumps({**base, **fields}, separators=(",", ":"))


def test_a_good_document_is_read() -> None:
    result = read_job_result(
        doc(backup=GOOD_BACKUP, currentVersion="003"), StepId.parse("backup"), "shop"
    )
    assert isinstance(result, RunResult) and result.backup is not None
    assert result.backup.sha256 == SHA
    up = RunResult(command="up", ok=True, exit_code=0, current_version="005",
                   applied=[{"version": "004", "name": "a", "checksum": "sha256:" + SHA,
                             "appliedAt": "2026-11-28T20:00:01.123456+00:00"}])  # fmt: skip
    assert isinstance(
        read_job_result(render_compact(up), StepId.parse("migrate-2"), "shop"), RunResult
    )


def test_only_a_backup_step_reports_a_backup() -> None:
    """A rehearsal reports its scratch dump (a temporary file): dropped, never a restore path."""
    scratch = {**GOOD_BACKUP, "file": "/tmp/tmpab12/backup.dump"}  # noqa: S108 - a path in a document
    result = read_job_result(
        doc(command="rehearse", backup=scratch), StepId.parse("rehearse"), "shop"
    )
    assert isinstance(result, RunResult) and result.backup is None
    rejected = read_job_result(doc(backup=scratch), StepId.parse("backup"), "shop")
    assert isinstance(rejected, RejectedResult) and "backup.file" in rejected.problem


def test_text_that_is_no_document_is_no_result() -> None:
    assert read_job_result(None, StepId.parse("backup"), "shop") is None
    assert (
        read_job_result("Traceback (most recent call last): ...", StepId.parse("backup"), "shop")
        is None
    )


HOSTILE: list[tuple[str, str, str]] = [
    ("traversal", doc(backup={**GOOD_BACKUP, "file": "shop/../other/x.dump"}), "backup.file"),
    ("traversal above the volume", doc(backup={**GOOD_BACKUP, "file": "../../etc/passwd"}),
     "backup.file"),
    ("absolute outside the volume", doc(backup={**GOOD_BACKUP, "file": "/etc/shadow"}),
     "backup.file"),
    ("another resource's backup", doc(backup={**GOOD_BACKUP, "file": "crm/crm-1.dump"}),
     "backup.file"),
    ("odd characters", doc(backup={**GOOD_BACKUP, "file": "shop/x;rm -rf.dump"}), "backup.file"),
    ("a newline in the path", doc(backup={**GOOD_BACKUP, "file": "shop/x\n.dump"}),
     "backup.file"),
    ("huge path", doc(backup={**GOOD_BACKUP, "file": "shop/" + "a" * 2000}), "backup.file"),
    ("short sha256", doc(backup={**GOOD_BACKUP, "sha256": "f00"}), "backup.sha256"),
    ("sha256 not hex", doc(backup={**GOOD_BACKUP, "sha256": "z" * 64}), "backup.sha256"),
    ("uppercase sha256", doc(backup={**GOOD_BACKUP, "sha256": SHA.upper()}), "backup.sha256"),
    ("negative size", doc(backup={**GOOD_BACKUP, "sizeBytes": -1}), "backup.sizeBytes"),
    ("backup version not digits", doc(backup={**GOOD_BACKUP, "version": "3; drop"}),
     "backup.version"),
    ("current version not digits", doc(currentVersion="008 or 1=1"), "currentVersion"),
    ("version too long", doc(currentVersion="9" * 19), "currentVersion"),
    ("wrong command for the step", doc(command="restore"), "command"),
    ("applied version not digits", doc(command="up", applied=[{"version": "x", "name": "a"}]),
     "applied[0].version"),
    ("control characters in a name", doc(command="up", applied=[{"version": "1",
     "name": "a\x1b[2J"}]), "applied[0].name"),
    ("huge name", doc(command="up", applied=[{"version": "1", "name": "n" * 300}]),
     "applied[0].name"),
    ("bad timestamp", doc(command="up", applied=[{"version": "1", "name": "a",
     "appliedAt": "<script>"}]), "applied[0].appliedAt"),
    ("too many items", doc(command="up", reverted=[{"version": "1", "name": ""}] * 501),
     "reverted"),
    ("not a SQLSTATE", doc(ok=False, exitCode=1, error={"kind": "backup", "message": "m",
     "sqlstate": "drop table"}), "error.sqlstate"),
    ("infinite number", doc(durationMs=1e999), "durationMs"),
    ("oversized document", doc(database="d" * 20_000), "larger than"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "where"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_documents_are_rejected(text: str, where: str) -> None:
    step = "migrate-1" if '"command":"up"' in text else "backup"
    result = read_job_result(text, StepId.parse(step), "shop")
    assert isinstance(result, RejectedResult), result
    assert where in result.problem
    assert "passwd" not in result.problem and "drop" not in result.problem, "no content echoed"


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/backups/shop/a.dump", True),
        ("shop/a.dump", True),
        ("shop/sub/a-1_2.dump", True),
        ("shop", False),
        ("shop/", False),
        ("shop//a.dump", False),
        ("shop/./a.dump", False),
        ("/backups/../shop/a.dump", False),
        ("/backupsx/shop/a.dump", False),
        ("shop/.hidden", False),
    ],
)
def test_backup_paths(path: str, ok: bool) -> None:
    assert (check_backup_path(path, "shop") is None) is ok


# --------------------------------------------------------------------------- in the planner

RUN = RunState(
    generation=1, operation="upgrade", state="Running", target_version="003",
    plan=[PlannedStep(step="backup", target=None), PlannedStep(step="migrate-1", target="003")],
    on_failure="Restore",
)  # fmt: skip


def _observed(message: str, state: str = "Succeeded") -> Observed:
    job = ObservedJob("shop-g1-backup", state, step="backup", termination_message=message)  # type: ignore[arg-type]
    return Observed(ResourceRef("shop", "ns", "uid"), 1, datetime(2026, 11, 28, tzinfo=UTC),
                    jobs=(job,))  # fmt: skip


def test_a_rejected_result_fails_the_step_and_never_becomes_a_restore_path() -> None:
    spec = parse_spec({
        "database": {"secretRef": {"name": "db"}}, "source": {"configMap": {"name": "m"}},
        "targetVersion": "003", "backup": {"volumeClaimName": "pvc"},
        "rollback": {"onFailure": "Restore", "allowDataLoss": True},
    })  # fmt: skip
    hostile = doc(backup={**GOOD_BACKUP, "file": "shop/../../other-team/prod.dump"})
    status = DatabaseMigrationStatus(run=RUN)
    step = next_result(spec, status, _observed(hostile))
    assert isinstance(step, RecordResult)
    assert (step.outcome, step.reason, step.result) == ("failed", "JobFailed", None)
    result = plan_reconcile(spec, status, _observed(hostile))
    st = result.status
    assert st.backup is None and st.run is not None and st.run.backup_file is None
    assert "result document was rejected: backup.file" in (st.message or "")
    assert "other-team" not in (st.message or "") and "other-team" not in str(result.events)
    stalled = next(c for c in st.conditions if c.type == "Stalled")
    assert (stalled.status, stalled.reason) == ("True", "JobFailed")


# --------------------------------------------------------------------------- whose pods


def _job(uid: str = "job-uid") -> dict[str, Any]:
    return {
        "metadata": {"name": "shop-g1-backup", "uid": uid, "labels": {"dbmigrator.io/step": "backup"}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }  # fmt: skip


def _pod(uid_label: str | None, owner_uid: str | None, message: str, *, controller: bool = True,
         created: str = "2026-11-28T20:00:00Z") -> dict[str, Any]:  # fmt: skip
    labels = {"job-name": "shop-g1-backup", "app.kubernetes.io/instance": "shop"}
    if uid_label is not None:
        labels["batch.kubernetes.io/controller-uid"] = uid_label
    refs = [] if owner_uid is None else [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "shop-g1-backup", "uid": owner_uid,
         "controller": controller}
    ]  # fmt: skip
    terminated = {"exitCode": 0, "message": message}
    return {
        "metadata": {"name": f"p-{owner_uid}-{uid_label}", "labels": labels,
                     "ownerReferences": refs, "creationTimestamp": created},
        "status": {"containerStatuses": [{"name": "dbmigrator", "state": {"terminated": terminated}}]},
    }  # fmt: skip


def test_only_the_jobs_own_pods_count() -> None:
    real = _pod("job-uid", "job-uid", "real", created="2026-11-28T20:00:00Z")
    planted = [  # all newer than the real one, all with the Job's name and instance labels
        _pod(None, None, "labels only", created="2026-11-28T21:00:00Z"),
        _pod("job-uid", None, "uid label, no owner", created="2026-11-28T21:00:01Z"),
        _pod("job-uid", "other-uid", "another owner", created="2026-11-28T21:00:02Z"),
        _pod("other-uid", "job-uid", "owner without the label", created="2026-11-28T21:00:03Z"),
        _pod("job-uid", "job-uid", "not the controller", controller=False,
             created="2026-11-28T21:00:04Z"),
    ]  # fmt: skip
    pods = [real, *planted]
    assert pods_of_job(_job(), pods) == [real]
    assert observe_job(_job(), pods_of_job(_job(), pods)).termination_message == "real"
    assert pods_of_job({"metadata": {}}, pods) == []


def test_the_pod_selector_names_only_these_jobs() -> None:
    jobs = [_job("b-uid"), _job("a-uid"), _job("a-uid")]
    assert build_pod_selector(jobs) == "batch.kubernetes.io/controller-uid in (a-uid,b-uid)"
    assert build_pod_selector([]) is None


@settings(max_examples=400, deadline=None)
@given(
    file=st.one_of(
        st.text(max_size=80),
        st.lists(st.sampled_from(["shop", "..", ".", "", "/", "a.dump", "crm", "/backups", "%2e"]),
                 max_size=6).map("/".join),
    ),
    version=st.text(max_size=20),
)  # fmt: skip
def test_whatever_a_pod_writes_an_accepted_backup_stays_inside_its_directory(
    file: str, version: str
) -> None:
    result = read_job_result(doc(backup={**GOOD_BACKUP, "file": file, "version": version}),
                             StepId("backup"), "shop")  # fmt: skip
    if not isinstance(result, RunResult):
        return
    assert result.backup is not None
    relative = result.backup.file.removeprefix("/backups/")
    parts = relative.split("/")
    assert parts[0] == "shop" and len(parts) >= 2
    assert not {"..", ".", ""} & set(parts) and not relative.startswith("/")
    assert all(ch.isalnum() or ch in "._-/" for ch in relative) and relative.isascii()
    assert version == "" or version.isdigit()
