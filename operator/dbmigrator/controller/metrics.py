"""Prometheus metrics of the operator: steps started, failures, durations, current version."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


def serve(port: int) -> None:
    """Expose /metrics on `port` (0 disables)."""
    if port:
        start_http_server(port)
