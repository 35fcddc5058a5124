"""The checks file's queries against the live database: role probes under SET ROLE with
request.jwt.claims, as PostgREST runs them, and queries timed with EXPLAIN (ANALYZE) against a
baseline taken before the migration. Every probe and timing is one statement (checked when the
checks file is read) run in a transaction that is rolled back; timed queries also run READ ONLY
under their statement_timeout, so they never change data.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import psycopg
from psycopg import sql

from dbmigrator.api.checks import RoleProbe, TimedQuery
from dbmigrator.engine.checkresult import MISSING_OBJECT_STATES, CheckResult
from dbmigrator.engine.results import QueryTiming


def time_query(conn: psycopg.Connection[Any], query: TimedQuery) -> float:
    text = query.sql.strip().rstrip(";")
    samples = []
    for i in range(query.repeat + 1):
        # Read-only and always rolled back: EXPLAIN ANALYZE executes the query, and it runs as
        # the migrator. The checks file allows one SELECT only; this holds even if it wrote.
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute(
                "SELECT set_config('statement_timeout', %s, true)", [query.statement_timeout]
            )
            cur.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) " + text.encode())
            row = cur.fetchone()
        plan = row[0] if row else None
        if isinstance(plan, str):
            plan = json.loads(plan)
        if i == 0:
            continue  # warm-up: caches and plan
        samples.append(float(plan[0]["Execution Time"]) if plan else 0.0)
    return round(statistics.median(samples), 3)


def run_probe(conn: psycopg.Connection[Any], probe: RoleProbe, *, final: bool) -> CheckResult:
    target = probe.label
    rows: list[Any] = []
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', '10s', true)")
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(probe.role)))
            claims = dict(probe.claims or {})
            claims.setdefault("role", probe.role)
            cur.execute("SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            for key, value in claims.items():
                if isinstance(value, str | int | float | bool):
                    cur.execute(
                        "SELECT set_config(%s, %s, true)", [f"request.jwt.claim.{key}", str(value)]
                    )
            cur.execute(probe.sql.strip().rstrip(";").encode())
            rows = cur.fetchall() if cur.description else []
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        message = (exc.diag.message_primary or str(exc)).strip()
        if state == "42501":
            if probe.expect == "denied":
                return CheckResult("role-probe", target, "pass", f"denied as expected: {message}")
            return CheckResult(
                "role-probe", target, "fail", f"expected {probe.expect}, got denied: {message}"
            )
        if state in MISSING_OBJECT_STATES and not final:
            return CheckResult("role-probe", target, "skip", f"not yet: {message}")
        return CheckResult("role-probe", target, "fail", f"probe failed: ERROR {state}: {message}")
    if probe.expect == "denied":
        return CheckResult(
            "role-probe", target, "fail", f"expected denied, but it ran ({len(rows)} rows)"
        )
    if probe.expect == "empty" and rows:
        return CheckResult("role-probe", target, "fail", f"expected no rows, got {len(rows)}")
    if probe.expect == "allowed" and probe.min_rows is not None and len(rows) < probe.min_rows:
        return CheckResult(
            "role-probe",
            target,
            "fail",
            f"expected at least {probe.min_rows} rows, got {len(rows)}",
        )
    return CheckResult("role-probe", target, "pass", f"{probe.expect}: {len(rows)} rows")


def check_query(
    conn: psycopg.Connection[Any], query: TimedQuery, baseline: float | None, *, final: bool
) -> tuple[CheckResult, QueryTiming | None]:
    try:
        current = time_query(conn, query)
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        message = (exc.diag.message_primary or str(exc)).strip()
        if state in MISSING_OBJECT_STATES and not final:
            return CheckResult("performance", query.name, "skip", f"not yet: {message}"), None
        return CheckResult(
            "performance", query.name, "fail", f"query failed: ERROR {state}: {message}"
        ), None
    timing = QueryTiming(
        name=query.name,
        baseline_ms=baseline,
        current_ms=current,
        max_degradation_percent=query.max_degradation_percent,
    )
    if baseline is None:
        return CheckResult(
            "performance", query.name, "pass", f"{current:.3f} ms (no baseline)"
        ), timing
    degradation = (current - baseline) / baseline * 100 if baseline > 0 else 0.0
    too_slow = (
        degradation > query.max_degradation_percent and current - baseline > query.min_delta_ms
    )
    timing = timing.model_copy(
        update={"degradation_percent": round(degradation, 1), "passed": not too_slow}
    )
    message = f"{baseline:.3f} ms -> {current:.3f} ms ({degradation:+.1f}%, limit {query.max_degradation_percent:g}%)"
    return CheckResult("performance", query.name, "fail" if too_slow else "pass", message), timing
