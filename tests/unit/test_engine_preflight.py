"""The preflight (pure): schemas and extensions pending files need, against what the server has
and what earlier statements create; and the facts each statement yields (engine/sqlneeds.py)."""

from __future__ import annotations

import pytest

from dbmigrator.engine.errors import InputError
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.preflight import ServerFacts, plan_preflight, preflight_error
from dbmigrator.engine.sqlparse import ParsedFile, parse_file

PLAIN = ServerFacts(
    schemas=frozenset({"public", "pg_catalog", "information_schema"}),
    available_extensions=frozenset({"pgcrypto", "uuid-ossp", "pg_trgm", "plpgsql"}),
)


def files(*texts: str) -> list[ParsedFile]:
    return [parse_file(SqlFile(f"00{i}_f.sql", t)) for i, t in enumerate(texts, start=1)]


@pytest.mark.parametrize(
    ("sql", "schemas"),
    [
        ("create table storage.x (id uuid default extensions.uuid_generate_v4())",
         {"storage", "extensions"}),
        ("create policy p on storage.objects using (auth.uid() = owner)", {"storage", "auth"}),
        ("create table t (v extensions.vector(3), n int4, s serial)", {"extensions"}),
        ("grant usage on schema graphql to anon", {"graphql"}),
        ("grant select on all tables in schema app to anon", {"app"}),
        ("alter default privileges in schema app grant select on tables to anon", {"app"}),
        ("create extension if not exists vector with schema extensions", {"extensions"}),
        ("create function f() returns bigint language sql as $$ select count(*) from billing.i $$",
         {"billing"}),
        ("create function f() returns int language plpgsql as $$ begin perform x.y(); end $$",
         set()),
        ("insert into storage.buckets (id) values ('a')", {"storage"}),
        ('update "Billing".invoices set paid = true', {"Billing"}),
        ("delete from only audit.log where true", {"audit"}),
        ("insert into t values (1)", set()),
        ("select pg_catalog.now(), information_schema._pg_truetypid(null, null)", set()),
    ],
)  # fmt: skip
def test_schemas_a_statement_names(sql: str, schemas: set[str]) -> None:
    (parsed,) = files(sql)
    assert set(parsed.executable[0].needs.schemas) == schemas


def test_a_schema_created_earlier_in_the_run_is_fine() -> None:
    parsed = files(
        "create schema if not exists app;\ncreate table app.a (id int);",
        "create table app.b (id int);",
    )
    assert plan_preflight(parsed, PLAIN) == []


def test_problems_name_file_and_line_once_per_schema() -> None:
    parsed = files(
        "select 1;\ncreate table app.a (id int);\ncreate table app.b (id int);",
        "create extension if not exists vector;\ncreate extension pgcrypto;",
        "create schema app2;",
    )
    problems = plan_preflight(parsed, PLAIN)
    assert [(p.file, p.line) for p in problems] == [("001_f.sql", 2), ("002_f.sql", 1)]
    assert problems[0].message == 'schema "app" does not exist and no earlier statement creates it'
    error = preflight_error(problems)
    assert isinstance(error, InputError) and error.exit_code == 2
    assert (error.file, error.line) == ("001_f.sql", 2)
    assert '002_f.sql:1: extension "vector" is not available' in error.message
    assert error.hint is not None and error.hint.startswith("vector: Supabase hosts these")
    assert "dbmigrator bootstrap" in error.hint


def test_an_extension_unknown_to_supabase_too_gets_no_supabase_hint() -> None:
    error = preflight_error(plan_preflight(files("create extension made_up;"), PLAIN))
    assert error.hint is None and 'extension "made_up"' in error.message
