"""The checks file (`checks.yaml` / `DBMIGRATOR_CHECKS_JSON`): role probes, timed queries, security.

Pure: parses text into typed settings and reports mistakes with the file and the key at fault.
The same shape is `spec.validation` of a DatabaseMigration, so the operator passes it through.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from dbmigrator.engine.errors import InputError


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


class SecuritySettings(_Model):
    require_rls_on_exposed_tables: bool = Field(
        default=False,
        description="Tables that anon/authenticated can reach without RLS fail validation "
        "(otherwise they are warnings).",
    )
    exposed_roles: tuple[str, ...] = Field(
        default=("anon", "authenticated"), description="Roles whose reach defines 'exposed'."
    )


class ChecksConfig(_Model):
    role_probes: tuple[RoleProbe, ...] = ()
    queries: tuple[TimedQuery, ...] = ()
    security: SecuritySettings = SecuritySettings()
    enabled: bool = True

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
        raise InputError("expected a mapping with roleProbes, queries, security", file=source)
    try:
        return ChecksConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InputError(f"invalid checks: {problems}", file=source) from None


def render_checks_json(config: ChecksConfig) -> str:
    return json.dumps(
        config.model_dump(by_alias=True, exclude_defaults=True), separators=(",", ":")
    )
