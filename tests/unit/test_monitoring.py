"""The chart's alerts and dashboard against what the operator really exports.

promtool (Debian's `prometheus` package, hack/install-deps.sh) checks the shipped rule file and
runs its unit tests (tests/unit/promtool/rules_test.yaml). Every series name in the rules, their
tests and the dashboard must be one that prometheus_client's real registry exposes after the
reconciler's export of real statuses (testdata the operator wrote in e2e runs).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

from dbmigrator.api.spec import parse_spec
from dbmigrator.api.status import parse_status
from dbmigrator.controller import metrics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "charts" / "dbmigration-operator" / "files" / "prometheus-rules.yaml"
DASHBOARD = REPO / "charts" / "dbmigration-operator" / "files" / "grafana-dashboard.json"
RULE_TESTS = Path(__file__).parent / "promtool" / "rules_test.yaml"
TESTDATA = REPO / "deploy/argocd/resource_customizations/dbmigrator.io/DatabaseMigration/testdata"
SERIES = re.compile(r"\bdbmigrator_[a-z_]+\b")
# Declared in the registry but without series in the fixture's status (none pending now).
NOT_YET_EXPORTED: set[str] = set()
# A phase the rules watch that the operator's Phase type lacks (none since issue 14).
NOT_YET_A_PHASE: set[str] = set()


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: bash hack/install-deps.sh (Debian package prometheus)"
    return path


def run_promtool(*args: str) -> str:
    out = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_promtool_checks_the_shipped_rules() -> None:
    assert "SUCCESS: 4 rules found" in run_promtool("check", "rules", str(RULES))


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    assert "SUCCESS" in run_promtool("test", "rules", str(RULE_TESTS))


def _export(namespace: str, name: str, testdata: str) -> None:
    obj = yaml.safe_load((TESTDATA / testdata).read_text())
    spec, status = parse_spec(obj["spec"]), parse_status(obj.get("status"))
    metrics.export(namespace, name, status, spec)


@pytest.fixture
def exported() -> dict[str, set[str]]:
    """{sample name: label values seen} of the real registry after exporting real statuses."""
    _export("mon-a", "running", "e2e_shop_4_Migrating.yaml")  # a run in progress
    _export("mon-b", "stalled", "degraded_secretNotFound.yaml")
    _export("mon-e", "done", "healthy_succeeded.yaml")
    _export("mon-f", "waiting", "suspended_awaitingApproval.yaml")  # has a plan: drift gauge
    metrics.count_step("mon-a", "running", "migrate")
    metrics.count_failure("mon-b", "stalled", "SecretNotFound")
    metrics.JOB_SECONDS.labels("migrate").observe(3.0)
    samples: dict[str, set[str]] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels.values())
    yield samples
    metrics.forget("mon-a", "running")
    metrics.forget("mon-b", "stalled")
    metrics.forget("mon-e", "done")
    metrics.forget("mon-f", "waiting")


def _families() -> set[str]:
    return {family.name for family in REGISTRY.collect()}


def test_every_series_in_rules_tests_and_dashboard_is_exported(
    exported: dict[str, set[str]],
) -> None:
    used = set(SERIES.findall(RULES.read_text() + RULE_TESTS.read_text()))
    used |= set(SERIES.findall(DASHBOARD.read_text()))
    assert used, "no dbmigrator_ series found"
    pending = used & NOT_YET_EXPORTED
    assert pending <= _families(), "declared in operator/dbmigrator/controller/metrics.py"
    histograms = {n.removesuffix("_bucket") for n in exported if n.endswith("_bucket")}
    missing = sorted(n for n in used - pending if n not in exported and n not in histograms)
    assert not missing, f"not exported by the operator: {missing}; exported: {sorted(exported)}"
    for name in pending:
        assert name not in exported, f"{name} is exported now: drop it from NOT_YET_EXPORTED"


def test_every_label_value_the_rules_select_is_one_the_operator_sets(
    exported: dict[str, set[str]],
) -> None:
    text = RULES.read_text()
    phases = set(re.findall(r'dbmigrator_phase\{phase="([A-Za-z]+)"\}', text))
    conditions = set(re.findall(r'dbmigrator_condition\{condition="([A-Za-z]+)"\}', text))
    assert phases and conditions
    assert phases - NOT_YET_A_PHASE <= exported["dbmigrator_phase"]
    assert not (NOT_YET_A_PHASE & set(metrics.PHASES)), "issue 14 landed: update NOT_YET_A_PHASE"
    assert conditions <= exported["dbmigrator_condition"]


def test_export_reads_phase_conditions_and_the_run_budget() -> None:
    _export("mon-c", "run", "e2e_shop_4_Migrating.yaml")
    try:
        get = REGISTRY.get_sample_value
        labels = {"namespace": "mon-c", "name": "run"}
        assert get("dbmigrator_phase", {**labels, "phase": "Migrating"}) == 1
        assert get("dbmigrator_phase", {**labels, "phase": "Succeeded"}) == 0
        assert get("dbmigrator_condition", {**labels, "condition": "Reconciling"}) == 1
        assert get("dbmigrator_condition", {**labels, "condition": "Stalled"}) == 0
        obj = yaml.safe_load((TESTDATA / "e2e_shop_4_Migrating.yaml").read_text())
        run = obj["status"]["run"]
        started = get("dbmigrator_run_started_timestamp_seconds", labels)
        deadline = get("dbmigrator_run_deadline_timestamp_seconds", labels)
        assert started is not None and deadline is not None
        budget = len(run["plan"]) * parse_spec(obj["spec"]).job.active_deadline_seconds
        assert deadline - started == budget
        # The run ends: its start and deadline series go, the others stay.
        _export("mon-c", "run", "e2e_shop_6_Succeeded.yaml")
        assert get("dbmigrator_run_deadline_timestamp_seconds", labels) is None
        assert get("dbmigrator_phase", {**labels, "phase": "Succeeded"}) == 1
    finally:
        metrics.forget("mon-c", "run")


def test_a_deleted_resource_leaves_no_series() -> None:
    _export("mon-d", "gone", "e2e_shop_4_Migrating.yaml")
    metrics.count_failure("mon-d", "gone", "JobFailed")
    assert b'namespace="mon-d"' in generate_latest(REGISTRY)
    metrics.forget("mon-d", "gone")
    assert b'namespace="mon-d"' not in generate_latest(REGISTRY)


def test_the_dashboard_shows_phase_versions_durations_and_failures() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for series in ("dbmigrator_phase", "dbmigrator_current_version",
                   "dbmigrator_job_duration_seconds_bucket", "dbmigrator_failures_total"):  # fmt: skip
        assert series in exprs, series
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_after_an_approval_the_run_budget_counts_from_the_approval() -> None:
    """A plan that waited hours for a human must not trip the deadline alert at once."""
    obj = yaml.safe_load((TESTDATA / "e2e_approval_4_BackingUp.yaml").read_text())
    spec, status = parse_spec(obj["spec"]), parse_status(obj["status"])
    assert status.run is not None and status.plan is not None and status.run.started_at
    started = status.run.started_at
    later = "2099-01-01T00:00:00Z"  # approved long after the run (and its plan) started
    status = status.model_copy(
        update={"plan": status.plan.model_copy(update={"approved": True, "approved_at": later})}
    )
    labels = {"namespace": "mon-e", "name": "approved"}
    try:
        metrics.export("mon-e", "approved", status, spec)
        get = REGISTRY.get_sample_value
        budget = max(1, len(status.run.plan)) * spec.job.active_deadline_seconds
        assert get("dbmigrator_run_started_timestamp_seconds", labels) == metrics._timestamp(
            started
        )
        deadline = get("dbmigrator_run_deadline_timestamp_seconds", labels)
        assert deadline == metrics._timestamp(later) + budget  # type: ignore[operator]
    finally:
        metrics.forget("mon-e", "approved")
