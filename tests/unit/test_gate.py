"""The safety gate: the plan step, approvals bound to the plan's hash, drift (pure, table tests).

`World` (tests/unit/test_planner.py) plays the operator, the cluster and the engine; here its
plan step reports lint findings and drift, and its Jobs refuse a plan hash their files do not
give (the real engine's refusal: tests/integration/test_plan_binding.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbmigrator.api.conditions import ConditionType, find_condition
from dbmigrator.api.spec import parse_spec
from dbmigrator.api.status import PlanStatus
from dbmigrator.controller.gate import review_required
from dbmigrator.controller.status import plan_reconcile
from dbmigrator.controller.steps import AwaitApproval, CreateJob, Done, Fail
from dbmigrator.engine.planhash import short_hash
from dbmigrator.engine.results import render_compact
from tests.unit.test_planner import BASE, PHASES, World, listing

GATED = {"safety": {"review": "OnError", "drift": "Warn"}}


def world(db: int = 8, **patch: Any) -> World:
    spec = parse_spec({**BASE, **GATED, "targetVersion": "009", **patch})
    return World(spec, db=db, source=listing([f"{v:03d}" for v in range(1, 10)]))


def events(w: World) -> list[tuple[str, str]]:
    result = plan_reconcile(w.spec, w.status, w.observed())
    return [(e.reason, e.message) for e in result.events]


# ---------------------------------------------------------------------------- review table


@pytest.mark.parametrize(
    ("review", "errors", "warnings", "required"),
    [
        ("Never", 3, 3, False),
        ("OnError", 0, 5, False),
        ("OnError", 1, 0, True),
        ("OnWarning", 0, 0, False),
        ("OnWarning", 0, 1, True),
        ("OnWarning", 1, 0, True),
        ("Always", 0, 0, True),
    ],
)
def test_review_is_required_by_level(
    review: str, errors: int, warnings: int, required: bool
) -> None:
    spec = parse_spec({**BASE, "safety": {"review": review}})
    plan = PlanStatus.model_validate({
        "hash": "sha256:" + "0" * 64, "direction": "up", "targetVersion": "009",
        "lintCounts": {"error": errors, "warning": warnings}, "generation": 1,
    })  # fmt: skip
    assert review_required(spec, plan) is required


def test_defaults_let_a_clean_plan_flow_with_its_hash_in_status() -> None:
    w = world(db=0, targetVersion="008")
    assert isinstance(w.run(), Done)
    assert w.created_steps() == ["plan", "migrate-1"]
    plan = w.status.plan
    assert plan is not None and plan.hash.startswith("sha256:") and len(plan.hash) == 71
    assert (plan.direction, plan.from_version, plan.target_version) == ("up", None, "008")
    assert plan.file_count == 8 and [f.version for f in plan.files][:2] == ["001", "002"]
    assert not plan.review_required and not plan.approved
    # Every later Job runs exactly that plan.
    args = w.manifests["shop-g1-migrate-1"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--expect-plan") + 1] == plan.hash
    assert args[args.index("--plan-from") + 1] == "0"
    assert args[args.index("--plan-target") + 1] == "008"


def test_without_review_and_drift_no_plan_step_runs() -> None:
    w = world(safety={"review": "Never", "drift": "Ignore"})
    assert isinstance(w.run(), Done)
    assert w.created_steps() == ["migrate-1"] and w.status.plan is None
    args = w.manifests["shop-g1-migrate-1"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--expect-plan" not in args and args[args.index("--drift") + 1] == "ignore"


# ---------------------------------------------------------------------------- awaiting approval


def test_a_risky_plan_waits_without_a_job_until_the_right_hash_is_annotated() -> None:
    w = world(backup={"volumeClaimName": "pvc"}, rehearsal={"enabled": True})
    w.lint = (2, 3)
    step = w.run()
    assert isinstance(step, AwaitApproval)
    plan = w.status.plan
    assert plan is not None and plan.review_required and step.plan_hash == plan.hash
    assert w.created_steps() == ["plan"]  # no backup, no Job
    assert w.status.phase == "AwaitingApproval" and w.db == 8
    ready = find_condition(w.status.conditions, ConditionType.READY)
    reconciling = find_condition(w.status.conditions, ConditionType.RECONCILING)
    stalled = find_condition(w.status.conditions, ConditionType.STALLED)
    assert ready is not None and reconciling is not None and stalled is not None
    assert (ready.status, ready.reason) == ("False", "AwaitingApproval")
    assert reconciling.status == "False" and stalled.status == "False"
    assert w.status.observed_generation == 1
    assert f"dbmigrator.io/approve-plan={plan.hash}" in ready.message
    assert "2 lint errors, 3 warnings" in ready.message and short_hash(plan.hash) in ready.message
    # Waiting changes nothing and asks for no quick requeue (the annotation is a watch event).
    result = plan_reconcile(w.spec, w.status, w.observed())
    assert result.status == w.status and result.events == () and result.requeue_after == 60.0

    w.approval = "sha256:" + "f" * 64  # another plan's approval
    step = w.run()
    assert isinstance(step, AwaitApproval) and w.created_steps() == ["plan"]
    assert "approves another plan (sha256:ffffffffffff, not " in step.message

    w.approval = plan.hash
    assert [r for r, _ in events(w)] == ["PlanApproved", "BackingUp"]
    assert isinstance(w.run(), Done)
    assert w.created_steps() == ["plan", "backup", "rehearse", "migrate-1"]
    assert w.db == 9 and w.status.plan is not None and w.status.plan.approved
    assert w.status.plan.approved_at is not None  # the run budget counts from here
    for name in ("shop-g1-rehearse", "shop-g1-migrate-1"):
        args = w.manifests[name]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--expect-plan") + 1] == plan.hash
    assert "--expect-plan" not in str(w.manifests["shop-g1-backup"])


def test_a_rollback_goes_through_the_same_gate_with_a_down_plan() -> None:
    w = world(safety={"review": "Always"})
    assert isinstance(w.run(), AwaitApproval) and w.status.plan is not None
    w.approval = w.status.plan.hash
    assert isinstance(w.run(), Done) and w.db == 9
    w.set_spec(targetVersion="005")
    step = w.run()
    assert isinstance(step, AwaitApproval) and w.created_steps()[2:] == ["plan"]
    plan = w.status.plan
    assert plan is not None and plan.direction == "down" and plan.from_version == "009"
    assert "approves another plan" in step.message  # the upgrade's approval is still there
    plan_args = w.manifests["shop-g2-plan"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--down" in plan_args
    w.approval = plan.hash
    assert isinstance(w.run(), Done) and w.db == 5
    args = w.manifests["shop-g2-down"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--expect-plan") + 1] == plan.hash


def test_changed_files_while_waiting_get_a_fresh_plan_and_the_old_approval_does_not_apply() -> None:
    w = world()
    w.lint = (1, 0)
    assert isinstance(w.run(), AwaitApproval)
    old = w.status.plan
    assert old is not None
    w.revision += 1  # the ConfigMap changed: other files, another hash
    w.source = listing([f"{v:03d}" for v in range(1, 10)] + ["010"])
    w.approval = old.hash
    w.now += timedelta(seconds=60)
    step = w.run()
    assert isinstance(step, AwaitApproval)
    new = w.status.plan
    assert new is not None and new.hash != old.hash
    assert w.created_steps() == ["plan", "plan"] and w.created[-1] == "shop-g1-plan-r1"
    assert "approves another plan" in step.message


def test_files_changed_after_approval_make_the_job_refuse_and_the_run_fail() -> None:
    w = world(backup={"volumeClaimName": "pvc"})
    w.lint = (1, 0)
    assert isinstance(w.run(), AwaitApproval)
    assert w.status.plan is not None
    w.approval = w.status.plan.hash
    w.reconcile()  # the backup Job is created: approved
    w.revision += 1  # an image source changed under the resource (no digest to notice it)
    step = w.run()
    assert isinstance(step, Fail) and step.reason == "PlanChanged"
    assert w.db == 8 and w.created_steps() == ["plan", "backup", "migrate-1"]


# ---------------------------------------------------------------------------- drift


def test_drift_warn_reports_and_goes_on_drift_fail_stops_before_any_job() -> None:
    w = world(db=8)
    w.drift = ("public.categories: column sneaky added",)
    w.reconcile()
    w.finish()
    reasons = events(w)
    assert ("Warning", "SchemaDriftDetected") in [
        (e.type, e.reason) for e in plan_reconcile(w.spec, w.status, w.observed()).events
    ]
    assert "PlanComputed" in [r for r, _ in reasons]
    assert isinstance(w.run(), Done) and w.db == 9
    assert w.status.plan is not None and w.status.plan.drift_count == 1
    assert w.status.plan.drift[0].message == "public.categories: column sneaky added"

    w2 = world(db=8, safety={"drift": "Fail"})
    w2.drift = ("public.categories: column sneaky added",)
    step = w2.run()
    assert isinstance(step, Fail) and step.reason == "SchemaDriftDetected"
    assert "public.categories: column sneaky added" in step.message and "1 change" in step.message
    assert w2.created_steps() == ["plan"] and w2.db == 8
    stalled = find_condition(w2.status.conditions, ConditionType.STALLED)
    assert stalled is not None and stalled.status == "True"


def test_drift_ignore_hides_what_the_plan_step_saw() -> None:
    w = world(db=8, safety={"review": "Always", "drift": "Ignore"})
    w.drift = ("public.x: table added",)
    assert isinstance(w.run(), AwaitApproval)
    assert w.status.plan is not None and w.status.plan.drift_count == 0


def test_the_plan_result_keeps_its_hash_and_counts_through_compaction() -> None:
    w = world(db=0, targetVersion="009")
    w.lint = (40, 40)
    w.drift = tuple(
        f"public.t{i}: table added with a long explanation {'x' * 80}" for i in range(20)
    )
    args = ["plan", "--dir", "/migrations", "--target", "009"]
    ok, result = w._engine(args, None)
    assert ok and result is not None
    text = render_compact(result)
    assert len(text.encode()) <= 4096
    assert result.plan is not None and result.plan.hash in text
    assert '"lintCounts":{"error":40,"warning":40}' in text and '"driftCount":20' in text
    assert '"fileCount":9' in text


# ---------------------------------------------------------------------------- property


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("reconcile"), st.booleans()),
        st.tuples(st.just("finish"), st.none()),
        st.tuples(st.just("approve"), st.sampled_from(["right", "wrong", "none"])),
        st.tuples(st.just("lint"), st.tuples(st.integers(0, 2), st.integers(0, 2))),
        st.tuples(st.just("files"), st.none()),
        st.tuples(st.just("target"), st.sampled_from([3, 5, 9])),
        st.tuples(st.just("time"), st.integers(1, 200)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    review=st.sampled_from(["Never", "OnWarning", "OnError", "Always"]),
    phases=st.sampled_from([[], [*PHASES, {"name": "late", "through": "009"}]]),
    actions=ACTIONS,
)
def test_no_job_but_the_plan_runs_while_a_plan_awaits_approval(
    review: str, phases: list[dict[str, str]], actions: list[tuple[str, Any]]
) -> None:
    """Whatever happens, a Job after the plan step is created only for a plan that needs no
    review or whose hash the annotation names, and it carries that hash."""
    w = world(db=8, safety={"review": review, "drift": "Warn"}, phases=phases)
    for action, arg in actions:
        if action == "reconcile":
            planned = plan_reconcile(w.spec, w.status, w.observed()).status
            step = w.reconcile(crash=arg)
            if isinstance(step, CreateJob) and step.request.kind != "plan":
                plan = planned.plan
                assert plan is not None, "a Job before the plan step"
                assert plan.approved or not plan.review_required or w.approval == plan.hash
                if (
                    step.request.kind in ("rehearse", "migrate", "down")
                    and not step.request.recovery
                ):
                    assert step.request.plan is not None and step.request.plan[0] == plan.hash
            if isinstance(step, AwaitApproval):
                assert not w.observed().active_jobs
        elif action == "finish":
            w.finish()
        elif action == "approve":
            plan = w.status.plan
            w.approval = {"right": plan.hash if plan else None, "wrong": "sha256:" + "e" * 64,
                          "none": None}[arg]  # fmt: skip
        elif action == "lint":
            w.lint = arg
        elif action == "files":
            w.revision += 1
        elif action == "target":
            w.set_spec(targetVersion=f"{arg:03d}", phases=phases if arg == 9 else [])
        else:
            w.now += timedelta(seconds=arg)
