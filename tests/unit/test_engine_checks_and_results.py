"""The checks file and the compact JSON result a Job leaves in its termination message."""

from __future__ import annotations

import json

import pytest

from dbmigrator.api.checks import render_checks_json
from dbmigrator.engine.checksfile import parse_checks
from dbmigrator.engine.errors import InputError
from dbmigrator.engine.results import (
    AppliedMigration,
    CheckFailure,
    ErrorInfo,
    RunResult,
    ValidationSummary,
    parse_result,
    render_compact,
)


def test_checks_parse_defaults_and_round_trip() -> None:
    c = parse_checks(
        "roleProbes:\n  - {role: anon, sql: select 1, expect: empty}\n"
        "queries:\n  - {name: q, sql: select 1}\nsecurity: {requireRlsOnExposedTables: true}\n",
        "checks.yaml",
    )
    assert c.queries[0].max_degradation_percent == 50
    assert c.security.require_rls_on_exposed_tables
    assert parse_checks(render_checks_json(c), "json") == c


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("roleProbes: [{role: anon, sql: x, expect: maybe}]", "roleProbes.0.expect"),
        ("queries: [{name: a, sql: select 1}, {name: a, sql: select 2}]", "unique"),
        ("rolesProbes: []", "rolesProbes"),
        ("roleProbes: [\n", "checks.yaml:"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_bad_checks_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_checks(text, "checks.yaml")
    assert message in str(err.value)


def test_compact_result_fits_4096_bytes_and_keeps_the_error() -> None:
    big = RunResult(
        command="up", ok=False, exit_code=1, current_version="150",
        applied=[AppliedMigration(version=f"{i:03d}", name="m" * 40, checksum="sha256:" + "a" * 64)
                 for i in range(200)],
        validation=ValidationSummary(passed=False, total=900, failed=300, failures=[
            CheckFailure(check="object", target=f"table public.t{i}", message="missing") for i in range(300)]),
        error=ErrorInfo(kind="validation", message="x" * 3000, file="150_m.sql", line=3),
    )  # fmt: skip
    text = render_compact(big)
    assert len(text.encode()) <= 4096
    parsed = parse_result(text)
    assert parsed.truncated and parsed.error is not None and parsed.error.file == "150_m.sql"
    assert parsed.validation is not None and parsed.validation.failed == 300
    small = RunResult(command="up", ok=True, exit_code=0)
    assert json.loads(render_compact(small))["truncated"] is False


def test_connection_failures_keep_the_cause() -> None:
    from dbmigrator.engine.database import connection_failure, redact

    refused = (
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )
    assert connection_failure(refused) == (
        "Connection refused; Is the server running on that host and accepting TCP/IP connections?"
    )
    assert redact("postgresql://app:s3cr3t@db:5432/x and password=hunter2") == (
        "postgresql://app:***@db:5432/x and password=***"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "roleProbes: [{role: anon, sql: 'select 1; commit; insert into t values (1)', "
            "expect: denied}]",
            "roleProbes.0.sql (role anon): Value error, a role probe must be exactly one SQL "
            "statement, found 3",
        ),
        ("roleProbes: [{role: anon, sql: commit, expect: denied}]", "not transaction control"),
        ("roleProbes: [{role: anon, sql: 'reset role', expect: allowed}]", "not a VARIABLESET"),
        ("roleProbes: [{role: anon, sql: 'select 1 into t2', expect: allowed}]", "INTO"),
        ("roleProbes: [{role: anon, sql: 'selec 1', expect: allowed}]", "is not valid SQL"),
        ("queries: [{name: q1, sql: 'select 1; delete from t'}]", "queries.0.sql (q1)"),
        ("queries: [{name: q1, sql: 'delete from t'}]", "must be SELECT, not a DELETE statement"),
        ("queries: [{name: q1, sql: 'select 1', statementTimeout: soon}]", "statementTimeout"),
    ],
)
def test_probes_and_queries_must_be_one_harmless_statement(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_checks(text, "checks.yaml")
    assert message in str(err.value) and "checks.yaml" in str(err.value)


def test_single_statements_of_the_allowed_kinds_pass() -> None:
    c = parse_checks(
        "roleProbes:\n"
        "  - {role: anon, sql: 'insert into t values (1);', expect: denied}\n"
        "  - {role: anon, sql: 'with x as (select 1) update t set a = 1', expect: denied}\n"
        "  - {role: anon, sql: 'table t -- comment', expect: empty}\n"
        "queries:\n  - {name: q, sql: 'values (1)', statementTimeout: 500ms}\n",
        "checks.yaml",
    )
    assert len(c.role_probes) == 3 and c.queries[0].statement_timeout == "500ms"
    assert (
        parse_checks("queries: [{name: q, sql: select 1}]", "x").queries[0].statement_timeout
        == "30s"
    )


def test_checks_declare_publication_members() -> None:
    c = parse_checks("publications: {supabase_realtime: [public.presence, rooms]}", "checks.yaml")
    assert c.publications == {"supabase_realtime": ("public.presence", "rooms")}
    assert parse_checks(render_checks_json(c), "json") == c
    with pytest.raises(InputError, match="publications"):
        parse_checks("publications: {p: [a.b.c]}", "checks.yaml")


def test_warnings_are_named_and_dropped_first_when_the_result_is_too_big() -> None:
    warned = [CheckFailure(check="fk-index", target=f"t{i}.fk", message="no index " * 20)
              for i in range(40)]  # fmt: skip
    result = RunResult(command="validate", ok=True, exit_code=0, validation=ValidationSummary(
        passed=True, total=1, failed=0, warnings=40, warning_details=warned))  # fmt: skip
    assert json.loads(render_compact(result, limit=100_000))["validation"]["warningDetails"][0] == {
        "check": "fk-index", "target": "t0.fk", "message": "no index " * 20}  # fmt: skip
    compact = parse_result(render_compact(result))
    assert compact.validation is not None and compact.validation.warnings == 40
    assert len(compact.validation.warning_details) <= 5


def test_operator_status_names_warnings_bounded() -> None:
    from dbmigrator.api.status import MAX_WARNING_DETAILS
    from dbmigrator.controller.recording import _validation_status

    warned = [CheckFailure(check="rls-exposed", target=f"public.t{i}", message="reachable")
              for i in range(MAX_WARNING_DETAILS + 5)]  # fmt: skip
    status = _validation_status(
        ValidationSummary(passed=True, total=3, failed=0, warnings=len(warned),
                          warning_details=warned), "2026-11-29T00:00:00Z")  # fmt: skip
    assert status.warnings == MAX_WARNING_DETAILS + 5
    assert len(status.warning_details) == MAX_WARNING_DETAILS
    assert status.warning_details[0].target == "public.t0"
