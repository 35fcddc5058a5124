"""The checks: role probes, timed queries, security, lint, drift (pure; one model, two readers).

The same model is `spec.validation` of a DatabaseMigration (rendered into the CRD by
`api/schema.py`) and the engine's checks file (`checks.yaml` or `DBMIGRATOR_CHECKS_JSON`, read by
`engine/checksfile.py`); the operator hands `spec.validation` to its Jobs with
`render_checks_json`, so both accept and refuse exactly the same documents. Unknown keys are
refused (a typo'd key must not silently switch a check off; the API server prunes or refuses
them on the resource as well), and every limit holds on both sides. What only the CRD needs
rides on top of the same fields: descriptions for `kubectl explain`, the enum of lint rules and
CEL rules (`x-kubernetes-validations`).

Every probe and query is parsed with the PostgreSQL grammar when the model is read: exactly
one statement of an allowed kind (a COMMIT would end the rolled-back transaction, and with it
`SET LOCAL ROLE`, and let what follows persist as the migrator).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pglast import parser as pg_parser
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from dbmigrator.api.fields import CHECK_NAME_PATTERN, ApiModel, Expectation, Version, cel_rules
from dbmigrator.api.lint import LINT_RULES, RULES, Direction, FailOn, Level

# What a probe may be: one query or write, as a PostgREST client could send. A timed query runs
# in a read-only transaction, so only SELECT (also VALUES, TABLE) makes sense there.
PROBE_STATEMENTS = {
    "SelectStmt": "SELECT", "InsertStmt": "INSERT", "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE", "MergeStmt": "MERGE",
}  # fmt: skip
QUERY_STATEMENTS = {"SelectStmt": "SELECT"}
DEFAULT_QUERY_TIMEOUT = "30s"
TIMEOUT_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*(us|ms|s|min|h|d)?$"
DRIFT_PATTERN = r"^[^.]+\..+$"


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


def _schema_object_pattern(pattern: str) -> str:
    if not pattern.strip() or not re.match(DRIFT_PATTERN, pattern):
        raise ValueError(f"{pattern!r} is not a schema.object pattern (e.g. audit.*)")
    return pattern


class CheckModel(ApiModel):
    """An API model that refuses unknown keys: a misspelt check must not pass unnoticed."""

    model_config = ConfigDict(extra="forbid")


Sql = Annotated[str, StringConstraints(min_length=1, max_length=65536)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=63)]
RuleName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(LINT_RULES)})]
DriftPattern = Annotated[
    str,
    StringConstraints(max_length=255),
    AfterValidator(_schema_object_pattern),
    Field(json_schema_extra={"pattern": DRIFT_PATTERN}),
]
TableRef = Annotated[str, StringConstraints(min_length=1, max_length=127)]


class RoleProbe(CheckModel):
    """A query run under SET ROLE (the way PostgREST does) with an expected outcome."""

    role: RoleName = Field(description="Role to SET ROLE to, e.g. anon or authenticated.")
    sql: Sql = Field(
        description="One SELECT, INSERT, UPDATE, DELETE or MERGE statement, run inside a "
        "transaction that is rolled back."
    )
    expect: Expectation = Field(
        description="allowed: the query succeeds (with at least minRows rows); empty: it succeeds "
        "with no rows (RLS filters them); denied: it fails with insufficient privilege."
    )
    claims: dict[str, Any] | None = Field(
        default=None, description="JWT claims set as request.jwt.claims, e.g. {sub: <uuid>}."
    )
    min_rows: int | None = Field(
        default=None, ge=0, description="For expect=allowed: the least number of rows expected."
    )
    since: Version | None = Field(
        default=None, description="Only probe once this version is applied."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = Field(
        default=None,
        description="Label in reports and errors (default: the role and the start of the SQL).",
    )

    @field_validator("sql")
    @classmethod
    def _one_statement(cls, sql: str) -> str:
        return _require_single_statement(sql, PROBE_STATEMENTS, "a role probe")

    @property
    def label(self) -> str:
        return self.name or f"{self.role}: {' '.join(self.sql.split())[:60]}"


class TimedQuery(CheckModel):
    """A query timed with EXPLAIN ANALYZE before and after each migration."""

    name: Annotated[str, StringConstraints(pattern=CHECK_NAME_PATTERN, max_length=63)] = Field(
        description="Name of the check, shown in status.performance."
    )
    sql: Sql = Field(
        description="One SELECT statement to time, in a read-only transaction that is rolled back."
    )
    max_degradation_percent: float = Field(
        default=50.0,
        ge=0,
        description="Fail validation when the query gets slower than the baseline by more than "
        "this percentage.",
    )
    min_delta_ms: float = Field(
        default=0.5,
        ge=0,
        description="Noise floor: a slowdown of fewer milliseconds than this never fails, "
        "whatever the percentage.",
    )
    repeat: int = Field(
        default=5, ge=1, le=100, description="Runs per measurement; the median counts."
    )
    statement_timeout: Annotated[str, StringConstraints(pattern=TIMEOUT_PATTERN, max_length=32)] = (
        Field(
            default=DEFAULT_QUERY_TIMEOUT,
            description="PostgreSQL statement_timeout of each run, e.g. 30s or 500ms.",
        )
    )

    @field_validator("sql")
    @classmethod
    def _one_select(cls, sql: str) -> str:
        return _require_single_statement(sql, QUERY_STATEMENTS, "a timed query")


class SecuritySettings(CheckModel):
    """Security checks beyond role probes."""

    require_rls_on_exposed_tables: bool = Field(
        default=False,
        description="Fail validation when a table exposed to exposedRoles has RLS disabled "
        "(otherwise it is a warning).",
    )
    exposed_roles: tuple[RoleName, ...] = Field(
        default_factory=lambda: ("anon", "authenticated"),  # a factory: no list default in the CRD
        max_length=100,
        description="Roles whose reach makes a table exposed (default: anon, authenticated).",
    )


class DriftSettings(CheckModel):
    """Live-schema drift: what the comparison with the last run's snapshot leaves out."""

    exclude: tuple[DriftPattern, ...] = Field(
        default=(),
        max_length=100,
        description="Objects drift ignores: fnmatch patterns on schema.object, e.g. "
        "public.tmp_* or audit.* (a function also matches without its arguments).",
    )


def _rules(description: str) -> Any:
    return Field(default=(), max_length=100, description=description)


class LintConfig(CheckModel):
    """Migration lint with squawk: which rules count as what (docs/safety.md has the defaults)."""

    fail_on: FailOn = Field(
        default="error",
        description="Lowest finding level that fails `dbmigrator lint` (never: report only).",
    )
    ignore: tuple[RuleName, ...] = _rules(
        "squawk rules (docs/safety.md lists them) not reported at all."
    )
    error: tuple[RuleName, ...] = _rules(
        "squawk rules raised to error (naming an opt-in rule enables it)."
    )
    warning: tuple[RuleName, ...] = _rules(
        "squawk rules lowered to warning (naming an opt-in rule enables it)."
    )

    @field_validator("ignore", "error", "warning")
    @classmethod
    def _known(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in rules if r not in RULES]
        if unknown:
            raise ValueError(
                f"unknown squawk rule(s) {', '.join(unknown)}; known rules: {', '.join(LINT_RULES)}"
            )
        return rules

    @model_validator(mode="after")
    def _one_list_per_rule(self) -> LintConfig:
        lists = {"ignore": self.ignore, "error": self.error, "warning": self.warning}
        seen: dict[str, str] = {}
        for name, rules in lists.items():
            for rule in rules:
                if rule in seen and seen[rule] != name:
                    raise ValueError(f"rule {rule} is in both {seen[rule]} and {name}")
                seen[rule] = name
        return self

    def level(self, rule: str, direction: Direction) -> Level | None:
        """The level of a finding of `rule` (None: not reported). A rule squawk knows and the
        table does not (a newer squawk) is a warning."""
        if rule in self.ignore:
            return None
        if rule in self.error:
            return "error"
        if rule in self.warning:
            return "warning"
        known = RULES.get(rule)
        return known.default(direction) if known is not None else "warning"

    @property
    def included(self) -> tuple[str, ...]:
        """Rules to pass to squawk's --include (its opt-in rules need it; harmless otherwise)."""
        return tuple(r for r in (*self.error, *self.warning) if not RULES[r].meta)


class ChecksConfig(CheckModel):
    """Checks run after each migration (and after a rollback)."""

    enabled: bool = Field(
        default=True,
        description="Validate after each migration; false passes --no-validate to the "
        "operator's Jobs (in a checks file it changes nothing: the CLI takes --no-validate).",
    )
    role_probes: tuple[RoleProbe, ...] = Field(
        default=(),
        max_length=100,
        description="Role probes: queries under SET ROLE with an expected outcome (RLS tests).",
    )
    queries: tuple[TimedQuery, ...] = Field(
        default=(),
        max_length=50,
        description="Queries whose plans are timed against a baseline (performance validation).",
        json_schema_extra=cel_rules(
            ("self.all(q, self.exists_one(r, r.name == q.name))", "query names must be unique")
        ),
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Security checks beyond role probes."
    )
    lint: LintConfig = Field(
        default_factory=LintConfig,
        description="Migration lint (squawk) of each plan: rule levels and what fails it.",
    )
    drift: DriftSettings = Field(
        default_factory=DriftSettings,
        description="Live-schema drift: objects left out of the comparison with the snapshot "
        "recorded after the last run.",
    )
    publications: dict[str, tuple[TableRef, ...]] = Field(
        default_factory=dict,
        description="Expected members per publication (table or schema.table), for what files "
        "add where parsing cannot see, e.g. a DO block adding tables to supabase_realtime.",
    )

    @field_validator("publications")
    @classmethod
    def _table_names(cls, pubs: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for pub, tables in pubs.items():
            for table in tables:
                if table.count(".") > 1 or table.startswith(".") or table.endswith("."):
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


def render_checks_json(config: ChecksConfig) -> str:
    """The checks as compact JSON with only what differs from the defaults: the engine's
    `DBMIGRATOR_CHECKS_JSON`, read back by the same model."""
    return json.dumps(
        config.model_dump(by_alias=True, exclude_defaults=True), separators=(",", ":")
    )
