"""Validation after a migration: the guide's four checks and more, run against the live database.

Tracking rows; every object the applied files create (found by parsing them); RLS on tables that
have policies; tables reachable by anon/authenticated without RLS; role probes under SET ROLE with
request.jwt.claims, as PostgREST runs them; foreign keys without a covering index; configured
queries timed with EXPLAIN (ANALYZE) against a baseline taken before the migration. Every probe
and timing is one statement (checked when the checks file is read) run in a transaction that is
rolled back; timed queries also run READ ONLY under their statement_timeout, so validation
never changes data.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

from dbmigrator.engine.checksfile import ChecksConfig, RoleProbe, TimedQuery
from dbmigrator.engine.results import CheckFailure, QueryTiming, ValidationSummary
from dbmigrator.engine.sqlobjects import DbObject

Outcome = Literal["pass", "fail", "warn", "skip"]
MISSING_OBJECT_STATES = ("42P01", "42883", "42703", "3F000", "42704")
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class CheckResult:
    check: str
    target: str
    outcome: Outcome
    message: str = ""


@dataclass
class ValidationReport:
    results: list[CheckResult] = field(default_factory=list)
    timings: list[QueryTiming] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> ValidationSummary:
        counted = [r for r in self.results if r.outcome != "skip"]
        return ValidationSummary(
            passed=self.passed,
            total=len([r for r in counted if r.outcome != "warn"]),
            failed=len(self.failures),
            warnings=len(self.warnings),
            failures=[
                CheckFailure(check=r.check, target=r.target, message=r.message)
                for r in self.failures
            ],
            warning_details=[
                CheckFailure(check=r.check, target=r.target, message=r.message)
                for r in self.warnings
            ],
        )

    def headline(self) -> str:
        s = self.summary()
        text = f"{s.total - s.failed}/{s.total} checks passed"
        return text + (f", {s.warnings} warning(s)" if s.warnings else "")


@dataclass(frozen=True)
class ValidationInput:
    """What validation compares the database with."""

    expected_versions: Sequence[str]
    expected_objects: Sequence[DbObject]
    applied_keys: frozenset[int]
    checks: ChecksConfig
    baselines: dict[str, float | None]
    final: bool = True


def validate(conn: psycopg.Connection[Any], what: ValidationInput) -> ValidationReport:
    report = ValidationReport()
    snapshot = _Catalog.read(conn)
    report.results += _check_tracking(conn, what.expected_versions)
    report.results += [_check_object(snapshot, obj) for obj in what.expected_objects]
    report.results += _check_declared_members(snapshot, what)
    schemas = _schemas_of(what.expected_objects)
    report.results += _check_rls(conn, schemas, what.checks)
    report.results += _check_fk_indexes(conn, schemas)
    for probe in what.checks.role_probes:
        if probe.since is not None and int(probe.since) not in what.applied_keys:
            continue
        report.results.append(run_probe(conn, probe, final=what.final))
    for query in what.checks.queries:
        result, timing = _check_query(conn, query, what.baselines.get(query.name), final=what.final)
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


def _check_query(
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


@dataclass
class _Catalog:
    """One read of the catalog: names of the objects that exist, for set lookups."""

    search_path: list[str]
    relations: set[tuple[str, str, str]]
    indexes: dict[tuple[str, str], bool]
    functions: set[tuple[str, str]]
    policies: set[tuple[str, str, str]]
    triggers: set[tuple[str, str, str]]
    schemas: set[str]
    publications: set[str]
    publication_tables: set[tuple[str, str, str]]
    extensions: set[str]
    types: set[tuple[str, str]]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any]) -> _Catalog:
        def rows(query: str) -> list[tuple[Any, ...]]:
            with conn.cursor() as cur:
                cur.execute(query.encode())
                return list(cur.fetchall())

        user_ns = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        return cls(
            search_path=[str(r[0]) for r in rows("SELECT unnest(current_schemas(true))")],
            relations={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns}")},
            indexes={(r[0], r[1]): bool(r[2]) for r in rows(
                "SELECT n.nspname, c.relname, i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns}")},
            functions={(r[0], r[1]) for r in rows(
                "SELECT n.nspname, p.proname FROM pg_proc p "
                f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_ns}")},
            policies={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, p.polname FROM pg_policy p "
                "JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace")},
            triggers={(r[0], r[1], r[2]) for r in rows(
                "SELECT n.nspname, c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT t.tgisinternal")},
            schemas={str(r[0]) for r in rows("SELECT nspname FROM pg_namespace")},
            publications={str(r[0]) for r in rows("SELECT pubname FROM pg_publication")},
            publication_tables={(r[0], r[1], r[2]) for r in rows(
                "SELECT pubname, schemaname, tablename FROM pg_publication_tables")},
            extensions={str(r[0]) for r in rows("SELECT extname FROM pg_extension")},
            types={(r[0], r[1]) for r in rows(
                "SELECT n.nspname, t.typname FROM pg_type t "
                f"JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {user_ns}")},
        )  # fmt: skip

    def candidates(self, schema: str | None) -> list[str]:
        return [schema] if schema else self.search_path


_RELKINDS = {"table": "rpf", "view": "v", "materialized view": "m", "sequence": "S"}


def _check_object(cat: _Catalog, obj: DbObject) -> CheckResult:
    found = False
    note = ""
    if obj.kind in _RELKINDS:
        kinds = _RELKINDS[obj.kind]
        found = any(
            (s, obj.name, k) in cat.relations for s in cat.candidates(obj.schema) for k in kinds
        )
    elif obj.kind == "index":
        schemas = cat.candidates(obj.schema or obj.table_schema)
        valid = [cat.indexes[(s, obj.name)] for s in schemas if (s, obj.name) in cat.indexes]
        found = bool(valid) and all(valid)
        if valid and not all(valid):
            note = "index exists but is INVALID (a failed concurrent build); drop and recreate it"
    elif obj.kind == "function":
        found = any((s, obj.name) in cat.functions for s in cat.candidates(obj.schema))
    elif obj.kind in ("policy", "trigger"):
        names = cat.policies if obj.kind == "policy" else cat.triggers
        found = any((s, obj.table, obj.name) in names for s in cat.candidates(obj.table_schema))
    elif obj.kind == "schema":
        found = obj.name in cat.schemas
    elif obj.kind == "publication":
        found = obj.name in cat.publications
    elif obj.kind == "publication member":
        found = any(
            (obj.name, s, obj.table) in cat.publication_tables
            for s in cat.candidates(obj.table_schema)
        )
        if not found and obj.name not in cat.publications:
            note = f"publication {obj.name} does not exist"
    elif obj.kind == "extension":
        found = obj.name in cat.extensions
    elif obj.kind == "type":
        found = any((s, obj.name) in cat.types for s in cat.candidates(obj.schema))
    return CheckResult(
        "object", obj.display, "pass" if found else "fail", "" if found else note or "missing"
    )


def _check_declared_members(cat: _Catalog, what: ValidationInput) -> list[CheckResult]:
    """Publication members the checks file declares (what a DO block adds, which parsing
    cannot see). A table that does not exist yet is "not yet" until the last migration."""
    out = []
    for pub, tables in what.checks.publications.items():
        for table in tables:
            schema, _, name = table.rpartition(".")
            obj = DbObject("publication member", pub, None, name, schema or None)
            exists = any((s, name, "r") in cat.relations or (s, name, "p") in cat.relations
                         for s in cat.candidates(schema or None))  # fmt: skip
            if not exists and not what.final:
                out.append(CheckResult("object", obj.display, "skip", "not yet: no such table"))
                continue
            out.append(_check_object(cat, obj))
    return out


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
