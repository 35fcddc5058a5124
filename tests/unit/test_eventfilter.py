"""Which watch events get a reconcile: Job updates the planner cannot act on do not."""

from __future__ import annotations

from typing import Any

from dbmigrator.controller.eventfilter import JobSignatures, job_signature


def job(uid: str = "u1", **status: Any) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": "shop-g1-migrate-1"}, "status": status}


def test_only_terminal_conditions_and_deletion_matter() -> None:
    seen = JobSignatures()
    created = job()
    started = job(startTime="t", active=1)
    ready = job(startTime="t", active=1, ready=1)
    uncounted = job(startTime="t", active=0, ready=0, uncountedTerminatedPods={"succeeded": ["p"]})
    criteria = job(startTime="t", conditions=[{"type": "SuccessCriteriaMet", "status": "True"}])
    complete = job(startTime="t", conditions=[
        {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}])  # fmt: skip
    answers = [seen.changed(t, j) for t, j in (
        ("ADDED", created), ("MODIFIED", started), ("MODIFIED", ready), ("MODIFIED", uncounted),
        ("MODIFIED", criteria), ("MODIFIED", complete), ("MODIFIED", complete))]  # fmt: skip
    assert answers == [True, False, False, False, False, True, False]
    deleting = job(startTime="t", conditions=complete["status"]["conditions"])
    deleting["metadata"]["deletionTimestamp"] = "t"
    assert seen.changed("MODIFIED", deleting)
    assert seen.changed("DELETED", deleting), "a deleted Job is always worth a look"
    assert seen.changed("MODIFIED", deleting), "and forgotten, so a new one with its uid counts"


def test_jobs_are_told_apart_by_uid_and_failed_counts_as_terminal() -> None:
    seen = JobSignatures()
    assert seen.changed("ADDED", job("a")) and seen.changed("ADDED", job("b"))
    failed = job("a", conditions=[{"type": "Failed", "status": "True"}])
    assert job_signature(failed) == (("Failed",), False)
    assert seen.changed("MODIFIED", failed)
    assert not seen.changed("MODIFIED", job("b"))
    assert seen.changed("MODIFIED", {"metadata": {}}), "no uid: never filtered"
