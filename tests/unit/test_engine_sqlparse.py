"""Parsing with the PostgreSQL grammar: statements and lines, non-transactional statements,
objects created and dropped, syntax errors with file and line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbmigrator.engine.errors import SqlSyntaxError
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.sqlparse import parse_file, plan_expected_objects


def parse(text: str, name: str = "001_x.sql"):  # type: ignore[no-untyped-def]
    return parse_file(SqlFile(name, text))


def test_statements_keep_their_lines_and_dollar_quotes() -> None:
    p = parse("-- comment\ncreate table t (id int);\n\ncreate function f() returns int\n"
              "language plpgsql as $$ begin return 1; end; $$;\n")  # fmt: skip
    assert [(s.line, s.kind) for s in p.statements] == [
        (2, "CreateStmt"),
        (4, "CreateFunctionStmt"),
    ]
    assert p.transactional


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("create index concurrently i on t (a)", "CREATE INDEX CONCURRENTLY"),
        ("drop index concurrently i", "DROP INDEX CONCURRENTLY"),
        ("reindex index concurrently i", "REINDEX CONCURRENTLY"),
        ("vacuum t", "VACUUM"),
        ("alter system set work_mem = '8MB'", "ALTER SYSTEM"),
        ("create database d", "CREATE DATABASE"),
    ],
)
def test_non_transactional_statements(sql: str, why: str) -> None:
    p = parse(f"create table t (a int);\n{sql};\n")
    assert not p.transactional
    assert [(s.line, s.why_not_transactional) for s in p.non_transactional] == [(2, why)]


def test_explicit_begin_commit_are_dropped_rollback_refused() -> None:
    p = parse("begin;\ncreate table t (a int);\ncommit;\n")
    assert [s.kind for s in p.executable] == ["CreateStmt"]
    with pytest.raises(SqlSyntaxError, match="ROLLBACK is not allowed"):
        parse("create table t (a int);\nrollback;\n")


def test_objects_created_and_dropped_fold_in_order() -> None:
    first = parse(
        "create table public.a (id int);\ncreate index idx_a on public.a (id);\n"
        "create policy p on public.a using (true);\ncreate trigger tr after insert on public.a "
        "for each row execute function f();\ncreate or replace function public.f() returns int "
        "language sql as 'select 1';\ncreate view v as select 1;\ncreate schema s;\n"
        "create type public.mood as enum ('x');\ncreate publication pub;\n"
    )
    second = parse("drop table public.a;\nalter view v rename to w;\n", "002_y.sql")
    names = sorted(o.display for o in plan_expected_objects([first]))
    assert names == sorted([
        "table public.a", "index public.idx_a", "policy p on public.a", "trigger tr on public.a",
        "function public.f", "view v", "schema s", "type public.mood", "publication pub",
    ])  # fmt: skip
    after = sorted(o.display for o in plan_expected_objects([first, second]))
    assert "table public.a" not in after and "policy p on public.a" not in after
    assert "index public.idx_a" not in after and "view w" in after


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ("select 1;\nselec 2;\n", 2, "near: selec 2;"),
        ("select 1;\n\\i other.sql\n", 2, "psql meta-commands"),
        ("copy t from stdin;\n1\t2\n\\.\n", 2, "COPY"),
    ],
)
def test_syntax_errors_name_file_line_and_hint(text: str, line: int, hint: str) -> None:
    with pytest.raises(SqlSyntaxError) as err:
        parse(text)
    assert err.value.file == "001_x.sql" and err.value.line == line
    assert hint in (err.value.hint or "")
    assert str(err.value).startswith(f"001_x.sql:{line}: syntax error")


@given(st.lists(st.sampled_from([
    "create table t{n} (id int)", "select {n}", "insert into t values ({n})",
    "create index concurrently i{n} on t (id)", "comment on table t is 'x; y {n}'",
]), min_size=1, max_size=12), st.integers(0, 3))  # fmt: skip
def test_split_round_trips_any_sequence(templates: list[str], blank: int) -> None:
    texts = [t.format(n=i) for i, t in enumerate(templates)]
    source = ("\n" * blank).join(f"{t};\n" for t in texts)
    p = parse(source)
    assert [s.text for s in p.statements] == texts
    for s in p.statements:
        assert source.splitlines()[s.line - 1].startswith(s.text.split("\n")[0])
