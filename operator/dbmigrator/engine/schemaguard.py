"""Schema drift around a run: the live schema against the last recorded snapshot before a run
changes anything, and a new snapshot after it (engine/snapshot.py reads and stores them,
engine/drift.py compares)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Literal

import psycopg

from dbmigrator.engine import interrupt, snapshot
from dbmigrator.engine.drift import Baseline, DriftReport, plan_drift, render_drift_lines
from dbmigrator.engine.errors import DriftDetected, EngineError
from dbmigrator.engine.progress import Progress


def read_drift(conn: psycopg.Connection[Any], exclude: Sequence[str]) -> DriftReport:
    """The live schema against the last recorded snapshot, over the schemas it covers; objects
    matching `exclude` are left out. No baseline yet: a report without one."""
    baseline = snapshot.read_baseline(conn)
    if baseline is None:
        return DriftReport(None, ())
    live = snapshot.fetch_snapshot(conn, baseline.snapshot.schemas)
    return DriftReport(baseline, tuple(plan_drift(baseline.snapshot, live, exclude)))


def drift_gate(report: DriftReport, mode: Literal["fail", "warn"], progress: Progress) -> None:
    """Before anything runs: `fail` stops on drift (DriftDetected), `warn` reports it."""
    if not report.changes or report.baseline is None:
        return
    since = report.baseline.described
    if mode == "fail":
        raise DriftDetected(
            f"{len(report.changes)} schema change(s) made outside migrations since {since}: "
            f"{render_drift_lines(report.changes)}; nothing ran",
            hint="review them with `dbmigrator drift`; put them in a migration or revert "
            "them, or accept them with `dbmigrator drift --accept`",
        )
    progress.warning(
        f"{len(report.changes)} schema change(s) made outside migrations since {since}"
    )
    for change in report.changes:
        progress.warning(f"drift: {change.message}")


def record_snapshot(
    conn: psycopg.Connection[Any], schemas: Sequence[str], version: str | None, operation: str
) -> Baseline:
    """The live schema of `schemas` as the new baseline, after `operation` left it at `version`."""
    return snapshot.record_snapshot(
        conn, snapshot.fetch_snapshot(conn, schemas), version, operation
    )


def record_after_failure(
    conn: psycopg.Connection[Any], schemas: Sequence[str], version: str | None, operation: str
) -> None:
    """Files that committed before a failure changed the schema through migrations: record it,
    so the next run does not call them drift. Best effort: the error is what matters, and
    after an interrupt nothing more is done."""
    if interrupt.received():
        return
    with contextlib.suppress(psycopg.Error, EngineError):
        record_snapshot(conn, schemas, version, operation)
