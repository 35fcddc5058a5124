"""Validation after a migration: the guide's four checks and more, run against the live database.

Tracking rows; every object the applied files create (found by parsing them; objectchecks.py);
RLS on tables that have policies; tables reachable by anon/authenticated without RLS; foreign
keys without a covering index (here); role probes and timed queries from the checks file
(probes.py). Validation never changes data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.engine.checkresult import CheckResult, Outcome, ValidationReport
from dbmigrator.engine.files import MigrationSet, SqlFile
from dbmigrator.engine.objectchecks import check_objects
from dbmigrator.engine.planning import AppliedRow
from dbmigrator.engine.probes import check_query, run_probe, time_query
from dbmigrator.engine.sqlobjects import DbObject
from dbmigrator.engine.sqlparse import ParsedFile, plan_expected_objects

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class ValidationInput:
    """What validation compares the database with."""

    expected_versions: Sequence[str]
    expected_objects: Sequence[DbObject]
    applied_keys: frozenset[int]
    checks: ChecksConfig
    baselines: dict[str, float | None]
    final: bool = True


def validate_applied(
    conn: psycopg.Connection[Any],
    migrations: MigrationSet,
    parsed: Callable[[SqlFile], ParsedFile],
    applied: dict[str, AppliedRow],
    checks: ChecksConfig,
    baselines: dict[str, float | None],
    final: bool,
) -> ValidationReport:
    """Validate the database with `applied` of `migrations` run (`parsed` gives a file's tree)."""
    keys = {r.key for r in applied.values()}
    done = [m for m in migrations if m.key in keys]
    return validate(conn, ValidationInput(
        expected_versions=[m.version for m in done],
        expected_objects=plan_expected_objects(parsed(m.up) for m in done),
        applied_keys=frozenset(keys),
        checks=checks,
        baselines=baselines,
        # Probes and queries may name objects of later migrations: until every migration is
        # applied, a missing object means "not yet" (skipped), not a failure.
        final=final and all(m.key in keys for m in migrations),
    ))  # fmt: skip


def validate(conn: psycopg.Connection[Any], what: ValidationInput) -> ValidationReport:
    report = ValidationReport()
    report.results += _check_tracking(conn, what.expected_versions)
    report.results += check_objects(
        conn, what.expected_objects, what.checks.publications, final=what.final
    )
    schemas = _schemas_of(what.expected_objects)
    report.results += _check_rls(conn, schemas, what.checks)
    report.results += _check_fk_indexes(conn, schemas)
    for probe in what.checks.role_probes:
        if probe.since is not None and int(probe.since) not in what.applied_keys:
            continue
        report.results.append(run_probe(conn, probe, final=what.final))
    for query in what.checks.queries:
        result, timing = check_query(conn, query, what.baselines.get(query.name), final=what.final)
        report.results.append(result)
        if timing is not None:
            report.timings.append(timing)
    return report


def measure_baselines(
    conn: psycopg.Connection[Any], checks: ChecksConfig
) -> dict[str, float | None]:
    """Median execution time of each configured query now; None where it cannot run yet."""
    out: dict[str, float | None] = {}
    for query in checks.queries:
        try:
            out[query.name] = time_query(conn, query)
        except psycopg.Error:
            out[query.name] = None
    return out


def _check_tracking(conn: psycopg.Connection[Any], versions: Sequence[str]) -> list[CheckResult]:
    if not versions:
        return []
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        present: set[str] = set()
        if row and row[0]:
            cur.execute("SELECT version FROM supabase_migrations.schema_migrations")
            present = {str(r[0]) for r in cur.fetchall()}
    keys = {int(v) for v in present if v.isdigit()}
    return [
        CheckResult("tracking", v, "pass" if int(v) in keys else "fail",
                    "" if int(v) in keys else "no row in supabase_migrations.schema_migrations")
        for v in versions
    ]  # fmt: skip


def _schemas_of(objects: Iterable[DbObject]) -> list[str]:
    schemas = {"public"}
    for obj in objects:
        if obj.kind in ("table", "view", "materialized view"):
            schemas.add(obj.schema or "public")
    return sorted(s for s in schemas if s not in SYSTEM_SCHEMAS)


def _check_rls(
    conn: psycopg.Connection[Any], schemas: list[str], checks: ChecksConfig
) -> list[CheckResult]:
    out: list[CheckResult] = []
    with conn.cursor() as cur:
        cur.execute(
            "SELECT n.nspname, c.relname, c.relrowsecurity, count(p.polname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_policy p ON p.polrelid = c.oid "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2",
            [schemas],
        )
        tables = cur.fetchall()
        cur.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
            [list(checks.security.exposed_roles)],
        )
        roles = [str(r[0]) for r in cur.fetchall()]
        exposed: set[tuple[str, str]] = set()
        for role in roles:
            cur.execute(
                "SELECT n.nspname, c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) "
                "AND has_schema_privilege(%s, n.oid, 'USAGE') "
                "AND has_table_privilege(%s, c.oid, 'SELECT,INSERT,UPDATE,DELETE')",
                [schemas, role, role],
            )
            exposed |= {(str(r[0]), str(r[1])) for r in cur.fetchall()}
    for schema, table, rls, policies in tables:
        name = f"{schema}.{table}"
        if policies and not rls:
            out.append(
                CheckResult(
                    "rls-enabled",
                    name,
                    "fail",
                    f"{policies} polic(ies) defined but row level security is off",
                )
            )
        elif policies:
            out.append(CheckResult("rls-enabled", name, "pass"))
        if (schema, table) in exposed and not rls:
            outcome: Outcome = "fail" if checks.security.require_rls_on_exposed_tables else "warn"
            out.append(
                CheckResult(
                    "rls-exposed",
                    name,
                    outcome,
                    f"reachable by {', '.join(roles)} without row level security",
                )
            )
    return out  # fmt: skip


def _check_fk_indexes(conn: psycopg.Connection[Any], schemas: list[str]) -> list[CheckResult]:
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname,
                   array(SELECT a.attname::text FROM unnest(c.conkey) k
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k)
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE c.contype = 'f' AND n.nspname = ANY(%s)
              AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND (SELECT array_agg(x ORDER BY x) FROM unnest(
                         (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]) x)
                      = (SELECT array_agg(x ORDER BY x) FROM unnest(c.conkey) x))
            ORDER BY 1, 2
            """,
            [schemas],
        )
        missing = cur.fetchall()
    return [
        CheckResult("fk-index", f"{table}.{name}", "warn",
                    f"foreign key ({', '.join(cols)}) has no covering index; deletes on the "
                    "referenced table will scan it")
        for table, name, cols in missing
    ]  # fmt: skip
