"""The checks file (`checks.yaml` / `DBMIGRATOR_CHECKS_JSON`): role probes, timed queries, security.

Pure: parses text into typed settings and reports mistakes with the file and the key at fault.
The same shape is `spec.validation` of a DatabaseMigration, so the operator passes it through.
Every probe and query is parsed with the PostgreSQL grammar when the file is read: exactly one
statement of an allowed kind (a COMMIT would end the rolled-back transaction, and with it
`SET LOCAL ROLE`, and let what follows persist as the migrator).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pglast import parser as pg_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from dbmigrator.engine.errors import InputError
from dbmigrator.engine.lintrules import LintConfig

# What a probe may be: one query or write, as a PostgREST client could send. A timed query runs
# in a read-only transaction, so only SELECT (also VALUES, TABLE) makes sense there.
PROBE_STATEMENTS = {
    "SelectStmt": "SELECT", "InsertStmt": "INSERT", "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE", "MergeStmt": "MERGE",
}  # fmt: skip
QUERY_STATEMENTS = {"SelectStmt": "SELECT"}
DEFAULT_QUERY_TIMEOUT = "30s"
_TIMEOUT = r"^[0-9]+(\.[0-9]+)?\s*(us|ms|s|min|h|d)?$"


def check_single_statement(text: str, allowed: dict[str, str]) -> str | None:
    """What is wrong with `text` as a probe or timed query (None when it is one statement of an
    allowed kind). Pure: the PostgreSQL grammar via libpg_query."""
    try:
        statements = pg_parser.parse_sql(text)
    except pg_parser.ParseError as exc:
        return f"is not valid SQL: {exc}"
    kinds = [type(raw.stmt).__name__ for raw in statements or ()]
    if len(kinds) != 1:
        return (
            f"must be exactly one SQL statement, found {len(kinds)}"
            " (it runs in a transaction that is rolled back; a COMMIT or a second statement "
            "could change the database)"
        )
    if kinds[0] not in allowed:
        what = (
            "transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT)"
            if kinds[0] == "TransactionStmt"
            else f"a {kinds[0].removesuffix('Stmt').upper()} statement"
        )
        return f"must be {' or '.join(sorted(set(allowed.values())))}, not {what}"
    into = getattr(statements[0].stmt, "intoClause", None)
    if into is not None:
        return "SELECT ... INTO creates a table; select without INTO"
    return None


def _require_single_statement(sql: str, allowed: dict[str, str], what: str) -> str:
    problem = check_single_statement(sql, allowed)
    if problem:
        raise ValueError(f"{what} {problem}")
    return sql


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class RoleProbe(_Model):
    role: str = Field(min_length=1, description="Database role to probe as (SET LOCAL ROLE).")
    sql: str = Field(
        min_length=1, description="A read-only query; it always runs in a rolled-back transaction."
    )
    expect: Literal["allowed", "empty", "denied"] = Field(
        description="allowed: runs without a permission error; empty: runs and returns no rows; "
        "denied: fails with insufficient_privilege (42501)."
    )
    claims: dict[str, Any] | None = Field(
        default=None, description="JWT claims set as request.jwt.claims, as PostgREST does."
    )
    min_rows: int | None = Field(
        default=None, ge=0, description="With allowed: at least this many rows."
    )
    since: str | None = Field(
        default=None, pattern=r"^[0-9]+$", description="Only check once this version is applied."
    )
    name: str | None = Field(default=None, description="Label shown in reports.")

    @field_validator("sql")
    @classmethod
    def _one_statement(cls, sql: str) -> str:
        return _require_single_statement(sql, PROBE_STATEMENTS, "a role probe")

    @property
    def label(self) -> str:
        return self.name or f"{self.role}: {' '.join(self.sql.split())[:60]}"


class TimedQuery(_Model):
    name: str = Field(min_length=1, description="Label of the query in reports and status.")
    sql: str = Field(
        min_length=1, description="Query timed with EXPLAIN (ANALYZE) in a rolled-back transaction."
    )
    max_degradation_percent: float = Field(
        default=50.0,
        ge=0,
        description="Slower than the baseline by more than this fails validation.",
    )
    min_delta_ms: float = Field(
        default=0.5,
        ge=0,
        description="Noise floor: a slowdown smaller than this many milliseconds never fails.",
    )
    repeat: int = Field(
        default=5, ge=1, le=100, description="Runs per measurement; the median counts."
    )
    statement_timeout: str = Field(
        default=DEFAULT_QUERY_TIMEOUT,
        pattern=_TIMEOUT,
        description="PostgreSQL statement_timeout of each run, e.g. 30s or 500ms.",
    )

    @field_validator("sql")
    @classmethod
    def _one_select(cls, sql: str) -> str:
        return _require_single_statement(sql, QUERY_STATEMENTS, "a timed query")


class SecuritySettings(_Model):
    require_rls_on_exposed_tables: bool = Field(
        default=False,
        description="Tables that anon/authenticated can reach without RLS fail validation "
        "(otherwise they are warnings).",
    )
    exposed_roles: tuple[str, ...] = Field(
        default=("anon", "authenticated"), description="Roles whose reach defines 'exposed'."
    )


class DriftSettings(_Model):
    exclude: tuple[str, ...] = Field(
        default=(),
        description="Objects drift ignores: fnmatch patterns on schema.object, e.g. "
        "public.tmp_* or audit.*.",
    )

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if not pattern.strip() or "." not in pattern:
                raise ValueError(f"{pattern!r} is not a schema.object pattern (e.g. audit.*)")
        return patterns


class ChecksConfig(_Model):
    role_probes: tuple[RoleProbe, ...] = ()
    queries: tuple[TimedQuery, ...] = ()
    security: SecuritySettings = SecuritySettings()
    enabled: bool = True
    lint: LintConfig = LintConfig()
    """Levels of squawk's rules and the level that fails `dbmigrator lint` (engine/lintrules)."""
    drift: DriftSettings = DriftSettings()
    publications: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Expected members per publication (`schema.table` or `table`), for what files add in
    ways parsing cannot see, e.g. a DO block adding tables to supabase_realtime."""

    @field_validator("publications")
    @classmethod
    def _table_names(cls, pubs: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for pub, tables in pubs.items():
            for table in tables:
                if (
                    not table
                    or table.count(".") > 1
                    or table.startswith(".")
                    or table.endswith(".")
                ):
                    raise ValueError(
                        f"publication {pub}: {table!r} is not `table` or `schema.table`"
                    )
        return pubs

    @field_validator("queries")
    @classmethod
    def _unique_names(cls, queries: tuple[TimedQuery, ...]) -> tuple[TimedQuery, ...]:
        names = [q.name for q in queries]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"query names must be unique: {', '.join(dupes)}")
        return queries


def parse_checks(text: str, source: str) -> ChecksConfig:
    """YAML or JSON text -> ChecksConfig; InputError naming `source` and the bad key."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML/JSON: {exc}", file=source, line=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping with roleProbes, queries, security, lint", file=source)
    try:
        return ChecksConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}{_label(data, err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(f"invalid checks: {problems}", file=source) from None


def _label(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """` (name)` of the probe or query an error points into, so a long list is searchable."""
    if len(loc) < 2 or loc[0] not in ("roleProbes", "queries") or not isinstance(loc[1], int):
        return ""
    items = data.get(str(loc[0]))
    item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
    if not isinstance(item, dict):
        return ""
    name = item.get("name") or (f"role {item['role']}" if item.get("role") else None)
    return f" ({name})" if name else ""


def render_checks_json(config: ChecksConfig) -> str:
    return json.dumps(
        config.model_dump(by_alias=True, exclude_defaults=True), separators=(",", ":")
    )
