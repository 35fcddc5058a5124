"""One model of the checks: a checks file and a resource's spec.validation accept and refuse the
same documents, and both name the key at fault (the file, or the resource's spec field)."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import ValidationError

from dbmigrator.api.checks import ChecksConfig, render_checks_json
from dbmigrator.api.schema import build_openapi_schema
from dbmigrator.api.spec import parse_spec
from dbmigrator.controller.messages import render_spec_problems
from dbmigrator.engine.checksfile import parse_checks
from dbmigrator.engine.errors import InputError

BASE: dict[str, Any] = {
    "database": {"secretRef": {"name": "db"}},
    "source": {"configMap": {"name": "m"}},
    "targetVersion": "3",
}
PROBE = {"role": "anon", "sql": "select 1", "expect": "allowed"}
FULL: dict[str, Any] = {
    "enabled": True,
    "roleProbes": [{**PROBE, "claims": {"sub": "u"}, "minRows": 1, "since": "2", "name": "p"}],
    "queries": [{"name": "q-1", "sql": "values (1)", "maxDegradationPercent": 20,
                 "minDeltaMs": 1, "repeat": 3, "statementTimeout": "500ms"}],
    "security": {"requireRlsOnExposedTables": True, "exposedRoles": ["anon"]},
    "lint": {"failOn": "warning", "ignore": ["ban-char-field"], "error": ["ban-drop-view"]},
    "drift": {"exclude": ["audit.*"]},
    "publications": {"supabase_realtime": ["public.presence", "rooms"]},
}  # fmt: skip

ACCEPTED = [{}, FULL, {"drift": {"exclude": ["public.tmp_*"]}}, {"enabled": False}]

# (document, the key named in both messages, whether the CRD schema alone refuses it too)
REFUSED: list[tuple[dict[str, Any], str, bool]] = [
    ({"roleProbs": []}, "roleProbs", False),
    ({"security": {"requireRls": True}}, "security.requireRls", False),
    ({"roleProbes": [{**PROBE, "minrows": 1}]}, "roleProbes.0.minrows", False),
    ({"lint": {"errors": ["ban-drop-table"]}}, "lint.errors", False),
    ({"lint": {"ignore": ["no-such-rule"]}}, "lint.ignore", True),
    ({"lint": {"ignore": ["ban-drop-table"], "error": ["ban-drop-table"]}}, "lint", False),
    ({"roleProbes": [{**PROBE, "sql": "select 1; commit"}]}, "roleProbes.0.sql", False),
    ({"queries": [{"name": "q", "sql": "delete from t"}]}, "queries.0.sql", False),
    ({"roleProbes": [{**PROBE, "role": "r" * 64}]}, "roleProbes.0.role", True),
    ({"roleProbes": [PROBE] * 101}, "roleProbes", True),
    ({"roleProbes": [{**PROBE, "since": "v2"}]}, "roleProbes.0.since", True),
    ({"queries": [{"name": "parts search", "sql": "select 1"}]}, "queries.0.name", True),
    ({"queries": [{"name": "q", "sql": "select 1"}] * 2}, "queries", False),
    ({"queries": [{"name": "q", "sql": "select 1", "statementTimeout": "soon"}]},
     "queries.0.statementTimeout", True),
    ({"drift": {"exclude": [".tmp"]}}, "drift.exclude.0", True),
    ({"publications": {"p": ["a.b.c"]}}, "publications", False),
]  # fmt: skip


def from_file(doc: dict[str, Any]) -> ChecksConfig:
    return parse_checks(yaml.safe_dump(doc), "migrations/checks.yaml")


def from_resource(doc: dict[str, Any]) -> ChecksConfig:
    return parse_spec({**BASE, "validation": doc}).validation


@pytest.mark.parametrize("doc", ACCEPTED)
def test_a_document_both_accept_reads_the_same(doc: dict[str, Any]) -> None:
    checks = from_file(doc)
    assert from_resource(doc) == checks
    assert parse_checks(render_checks_json(checks), "DBMIGRATOR_CHECKS_JSON") == checks


@pytest.mark.parametrize(("doc", "key", "schema"), REFUSED)
def test_a_document_one_refuses_the_other_refuses_naming_the_key(
    doc: dict[str, Any], key: str, schema: bool
) -> None:
    with pytest.raises(InputError) as in_file:
        from_file(doc)
    assert in_file.value.file == "migrations/checks.yaml"
    assert f"{key}" in str(in_file.value), str(in_file.value)
    with pytest.raises(ValidationError) as in_resource:
        from_resource(doc)
    problems = render_spec_problems(in_resource.value.errors())
    assert f"spec.validation.{key}" in problems, problems
    if schema:  # what the schema can judge, the API server refuses at admission already
        cr = {"spec": {**BASE, "validation": doc}}
        assert list(jsonschema.Draft4Validator(build_openapi_schema()).iter_errors(cr))


def test_a_typo_is_named_with_what_it_is_in() -> None:
    with pytest.raises(InputError, match=r"roleProbes\.0\.minrows \(role anon\): Extra inputs"):
        from_file({"roleProbes": [{**PROBE, "minrows": 1}]})
