"""Prometheus metrics of the operator: steps started, failures, durations, current version, and
the health of every resource as the reconciler last wrote it (phase, conditions, the running
run's start and deadline budget), which the chart's PrometheusRule and dashboard read.

Per-resource series carry `namespace` and `name`; `forget` drops them when the resource is gone.
"""

from __future__ import annotations

import threading
from calendar import timegm
from time import strptime
from typing import get_args

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

from dbmigrator.api.fields import Phase
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus

STEPS = Counter(
    "dbmigrator_steps_started_total", "Jobs created, by step kind.", ["namespace", "name", "kind"]
)
FAILURES = Counter(
    "dbmigrator_failures_total", "Runs that ended Failed or Blocked, by reason.",
    ["namespace", "name", "reason"],
)  # fmt: skip
RECONCILE_SECONDS = Histogram(
    "dbmigrator_reconcile_duration_seconds", "Time of one reconcile (fetch, plan, act, write)."
)
JOB_SECONDS = Histogram(
    "dbmigrator_job_duration_seconds", "Duration of finished Jobs, by step kind.", ["kind"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)  # fmt: skip
CURRENT_VERSION = Gauge(
    "dbmigrator_current_version", "The database's current migration version (as a number).",
    ["namespace", "name"],
)  # fmt: skip
READY = Gauge("dbmigrator_ready", "1 when the resource is Ready.", ["namespace", "name"])
PHASE = Gauge(
    "dbmigrator_phase", "1 for the resource's status.phase, 0 for every other phase.",
    ["namespace", "name", "phase"],
)  # fmt: skip
CONDITION = Gauge(
    "dbmigrator_condition", "1 when the condition (Ready, Reconciling, Stalled) is True, else 0.",
    ["namespace", "name", "condition"],
)  # fmt: skip
RUN_STARTED = Gauge(
    "dbmigrator_run_started_timestamp_seconds", "Start of the running run (Unix time).",
    ["namespace", "name"],
)  # fmt: skip
RUN_DEADLINE = Gauge(
    "dbmigrator_run_deadline_timestamp_seconds",
    "When the running run exhausts its budget: start + planned steps x spec.job."
    "activeDeadlineSeconds (Unix time).",
    ["namespace", "name"],
)  # fmt: skip
# The chart's drift alert: 1 when the last plan step found live-schema changes made outside
# migrations (status.plan.driftCount), 0 when it found none; no series before a plan step ran.
DRIFT = Gauge(
    "dbmigrator_drift_detected", "1 when the database schema drifted from the applied migrations.",
    ["namespace", "name"],
)  # fmt: skip

PHASES: tuple[str, ...] = get_args(Phase)
HEALTH_CONDITIONS = ("Ready", "Reconciling", "Stalled")
PER_RESOURCE: tuple[MetricWrapperBase, ...] = (
    STEPS, FAILURES, CURRENT_VERSION, READY, PHASE, CONDITION, RUN_STARTED, RUN_DEADLINE, DRIFT,
)  # fmt: skip

_series: dict[tuple[str, str], set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}
_series_lock = threading.Lock()


def _labels(metric: MetricWrapperBase, *values: str) -> MetricWrapperBase:
    """metric.labels(*values), remembered so that `forget` can remove the series."""
    with _series_lock:
        _series.setdefault((values[0], values[1]), set()).add((metric, values))
    return metric.labels(*values)


def count_step(namespace: str, name: str, kind: str) -> None:
    _labels(STEPS, namespace, name, kind).inc()  # type: ignore[attr-defined]


def count_failure(namespace: str, name: str, reason: str) -> None:
    _labels(FAILURES, namespace, name, reason).inc()  # type: ignore[attr-defined]


def _timestamp(rfc3339: str | None) -> float | None:
    if not rfc3339:
        return None
    try:
        return float(timegm(strptime(rfc3339.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")))
    except ValueError:
        return None


def export(
    namespace: str,
    name: str,
    status: DatabaseMigrationStatus,
    spec: DatabaseMigrationSpec | None = None,
) -> None:
    """Set the resource's series from the status the reconciler just wrote."""
    version = status.current_version
    if version and version.isdigit():
        _labels(CURRENT_VERSION, namespace, name).set(int(version))  # type: ignore[attr-defined]
    true = {c.type for c in status.conditions or [] if c.status == "True"}
    _labels(READY, namespace, name).set(1 if "Ready" in true else 0)  # type: ignore[attr-defined]
    for condition in HEALTH_CONDITIONS:
        gauge = _labels(CONDITION, namespace, name, condition)
        gauge.set(1 if condition in true else 0)  # type: ignore[attr-defined]
    for phase in PHASES:
        gauge = _labels(PHASE, namespace, name, phase)
        gauge.set(1 if status.phase == phase else 0)  # type: ignore[attr-defined]
    if status.plan is not None:
        _labels(DRIFT, namespace, name).set(1 if status.plan.drift_count else 0)  # type: ignore[attr-defined]
    run = status.run
    started = _timestamp(run.started_at) if run and run.state == "Running" else None
    if run is None or started is None or status.phase == "AwaitingApproval":
        # A plan waiting for a human is no run past its deadline (its own alert watches it).
        _remove(namespace, name, RUN_STARTED, RUN_DEADLINE)
        return
    _labels(RUN_STARTED, namespace, name).set(started)  # type: ignore[attr-defined]
    if spec is not None:
        # After an approval the budget counts from it: the wait for a human is not the run's.
        plan = status.plan
        approved = _timestamp(plan.approved_at) if plan and plan.approved_at else None
        clock = max(started, approved) if approved is not None else started
        budget = max(1, len(run.plan)) * spec.job.active_deadline_seconds
        _labels(RUN_DEADLINE, namespace, name).set(clock + budget)  # type: ignore[attr-defined]


def _remove(namespace: str, name: str, *metrics: MetricWrapperBase) -> None:
    with _series_lock:
        known = _series.get((namespace, name), set())
        for metric, values in [s for s in known if s[0] in metrics]:
            metric.remove(*values)
            known.discard((metric, values))


def forget(namespace: str, name: str) -> None:
    """Drop every series of a deleted resource (dashboards and alerts must not show ghosts)."""
    _remove(namespace, name, *PER_RESOURCE)
    with _series_lock:
        _series.pop((namespace, name), None)


def serve(port: int) -> None:
    """Expose /metrics on `port` (0 disables)."""
    if port:
        start_http_server(port)
