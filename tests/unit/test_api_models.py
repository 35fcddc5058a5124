"""The DatabaseMigration models: defaults, aliases, validation, descriptions, conditions."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from dbmigrator.api import constants as c
from dbmigrator.api.conditions import ConditionType, Reason, find_condition, set_condition
from dbmigrator.api.spec import DatabaseMigrationSpec, parse_spec
from dbmigrator.api.status import (
    DatabaseMigrationStatus,
    HistoryEntry,
    RunState,
    parse_status,
    render_status_patch,
)

DESIGN_EXAMPLE = """
database:
  secretRef: {name: shop-db-credentials, key: uri}
source:
  configMap: {name: shop-migrations}
targetVersion: "008"
phases:
  - {name: core-infrastructure, through: "003"}
  - {name: payment-and-audit,   through: "005"}
  - {name: advanced-features,   through: "008"}
backup:
  enabled: true
  volumeClaimName: db-backups
  keep: 5
rehearsal: {enabled: true}
validation:
  roleProbes:
    - {role: anon, sql: "select * from categories limit 1", expect: allowed}
    - {role: anon, sql: "select * from orders limit 1", expect: empty}
    - {role: authenticated, claims: {sub: "00000000-0000-0000-0000-000000000001"},
       sql: "select * from user_profiles", expect: allowed}
  queries:
    - {name: parts-search, sql: "select * from spare_parts where name ilike '%engine%'",
       maxDegradationPercent: 50}
rollback:
  onFailure: None
  allowDataLoss: false
suspend: false
job: {image: "", serviceAccountName: "", resources: {}, activeDeadlineSeconds: 3600}
"""

MINIMAL: dict[str, Any] = {
    "database": {"secretRef": {"name": "db"}},
    "source": {"configMap": {"name": "migrations"}},
    "targetVersion": "003",
}


def test_design_example_parses() -> None:
    spec = parse_spec(yaml.safe_load(DESIGN_EXAMPLE))
    assert spec.target_version == "008"
    assert [p.through for p in spec.phases] == ["003", "005", "008"]
    assert spec.backup_enabled
    assert spec.validation.role_probes[2].claims == {"sub": "00000000-0000-0000-0000-000000000001"}
    assert spec.validation.queries[0].max_degradation_percent == 50


def test_minimal_spec_gets_the_documented_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.database.secret_ref.key == "uri"
    assert spec.phases == []
    assert spec.backup is None and not spec.backup_enabled
    assert spec.rehearsal.enabled is False
    assert spec.validation.enabled is True
    assert spec.validation.security.require_rls_on_exposed_tables is False
    assert spec.rollback.on_failure == "None" and spec.rollback.allow_data_loss is False
    assert spec.suspend is False
    assert spec.job.image == ""
    assert spec.job.active_deadline_seconds == 3600
    assert spec.job.ttl_seconds_after_finished == 86400
    assert spec.job.max_retries == 3


def test_backup_defaults_when_the_object_is_given() -> None:
    spec = parse_spec({**MINIMAL, "backup": {"volumeClaimName": "pvc"}})
    assert spec.backup is not None
    assert spec.backup.enabled is True and spec.backup.keep == 5
    assert spec.backup_enabled
    assert not parse_spec({**MINIMAL, "backup": {"enabled": True}}).backup_enabled


def test_snake_case_names_are_accepted_too() -> None:
    spec = DatabaseMigrationSpec.model_validate(
        {"database": {"secret_ref": {"name": "db"}}, "source": {"config_map": {"name": "m"}},
         "target_version": "004"}
    )  # fmt: skip
    assert spec.target_version == "004" and spec.source.config_map is not None
    dumped = parse_spec(MINIMAL).model_dump(by_alias=True)
    assert "targetVersion" in dumped and "secretRef" in dumped["database"]


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"targetVersion": "v8"}, "targetVersion"),
        ({"targetVersion": ""}, "targetVersion"),
        ({"targetVersion": "1234567890123456789"}, "targetVersion"),
        ({"phases": [{"name": "Core", "through": "003"}]}, "phases"),
        ({"phases": [{"name": "core", "through": "3a"}]}, "phases"),
        ({"backup": {"volumeClaimName": "pvc", "keep": 0}}, "backup"),
        ({"rollback": {"onFailure": "Panic"}}, "rollback"),
        ({"database": {"secretRef": {"name": "Not_A_Name"}}}, "database"),
        (
            {"validation": {"roleProbes": [{"role": "anon", "sql": "x", "expect": "maybe"}]}},
            "validation",
        ),
        ({"job": {"imagePullPolicy": "Sometimes"}}, "job"),
        ({"job": {"serviceAccountName": "UPPER"}}, "job"),
    ],
)
def test_invalid_input_is_rejected(patch: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_spec({**MINIMAL, **patch})
    assert where in str(info.value)


def test_missing_required_fields_are_rejected() -> None:
    for key in ("database", "source", "targetVersion"):
        with pytest.raises(ValidationError):
            parse_spec({k: v for k, v in MINIMAL.items() if k != key})


def test_resources_accept_integers_and_strings() -> None:
    spec = parse_spec({**MINIMAL, "job": {"resources": {"requests": {"cpu": 1, "memory": "64Mi"}}}})
    assert spec.job.resources is not None
    assert spec.job.resources.requests == {"cpu": 1, "memory": "64Mi"}


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            for arg in _types(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    todo.append(arg)
    return seen


def _types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation]
    return [t for a in args for t in _types(a)]


@pytest.mark.parametrize("root", [DatabaseMigrationSpec, DatabaseMigrationStatus])
def test_every_field_has_a_description(root: type[BaseModel]) -> None:
    models = _models(root)
    assert len(models) > 5
    for model in models:
        assert model.__doc__, model.__name__
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_parse_status_ignores_unknown_keys_and_empty_input() -> None:
    assert parse_status(None) == DatabaseMigrationStatus()
    status = parse_status({"phase": "Migrating", "kopf": {"progress": {}}, "currentVersion": "004"})
    assert status.phase == "Migrating" and status.current_version == "004"


def test_status_round_trips_through_the_patch_body() -> None:
    status = DatabaseMigrationStatus(
        current_version="005",
        history=[
            HistoryEntry(
                operation="upgrade",
                from_version="003",
                to_version="005",
                result="Succeeded",
                at="2026-11-24T22:05:01Z",
            )
        ],
        run=RunState(generation=2, operation="upgrade", state="Running", target_version="005"),
    )
    body = render_status_patch(status)
    assert body["history"] == [
        {"operation": "upgrade", "from": "003", "to": "005", "result": "Succeeded",
         "at": "2026-11-24T22:05:01Z"}
    ]  # fmt: skip
    # Unset object fields are explicit nulls, so a JSON merge patch clears them.
    assert body["backup"] is None and body["message"] is None
    assert body["run"]["retryAfter"] is None and body["run"]["failure"] is None
    assert parse_status(body) == status


def test_set_condition_moves_last_transition_time_only_on_a_status_change() -> None:
    t0, t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
    conds = set_condition([], "Ready", "False", "Migrating", "m", generation=1, now=t0)
    conds = set_condition(conds, "Stalled", "False", "Migrating", "m", generation=1, now=t0)
    conds = set_condition(conds, "Ready", "False", "BackingUp", "b", generation=2, now=t1)
    ready = find_condition(conds, "Ready")
    assert ready is not None
    assert (ready.reason, ready.message, ready.last_transition_time) == ("BackingUp", "b", t0)
    assert ready.observed_generation == 2
    conds = set_condition(conds, "Ready", "True", "Succeeded", "ok", generation=2, now=t2)
    ready = find_condition(conds, "Ready")
    assert ready is not None and ready.last_transition_time == t2
    assert [x.type for x in conds] == ["Ready", "Stalled"]  # order is stable


def test_reasons_are_unique_camel_case_words() -> None:
    values = [r.value for r in Reason]
    assert len(values) == len(set(values))
    pattern = re.compile(r"^[A-Z][A-Za-z0-9]*$")  # a subset of metav1.Condition's reason rule
    assert all(pattern.match(v) for v in values)
    for name in ("BackingUp", "Rehearsing", "Migrating", "RollingBack", "Restoring", "Succeeded",
                 "MigrationFailed", "ValidationFailed", "BackupFailed", "RehearsalFailed",
                 "SecretNotFound", "SecretKeyNotFound", "ConfigMapNotFound",
                 "TargetVersionNotFound", "InvalidPhases", "DownFileMissing",
                 "DatabaseUnreachable", "Suspended", "JobFailed"):  # fmt: skip
        assert name in values
    assert [t.value for t in ConditionType] == [
        "Ready", "Reconciling", "Stalled", "BackupReady", "Validated"
    ]  # fmt: skip


def test_constants_match_the_design() -> None:
    assert c.API_VERSION == "dbmigrator.io/v1alpha1"
    assert c.CRD_NAME == "databasemigrations.dbmigrator.io"
    assert c.SHORT_NAMES == ("dbmigration", "dbmigrations", "dbm")
