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


# ---- linear parsing (issue 8, item 12) -------------------------------------------------------

_FRAGMENTS = [
    "create table public.t (id int, name text)",
    "insert into public.t values (1, 'é ünïcode ✓')",
    "update public.t set name = 'ß' where id = 1",
    "select 'a;b' as \"col;é\"",
    "create function public.f() returns int language plpgsql as $$ begin return 1; end; $$",
    "create index concurrently idx_é on public.t (name)",
    "delete from public.t where name = $q$it's; here$q$",
    "values (1), (2)",
    "with x as (select 1) insert into public.t select 1, 'w' from x",
    "comment on table public.t is 'naïve -- not a comment; /* nor this */'",
    "select 2 -- a trailing comment ending in a no-break space\u00a0\n",
    "create function public.g() returns int language sql begin atomic select 1; select 2; end",
    "(select 3)",
]
_GAPS = [
    ";\n",
    "; ",
    ";\n\n-- ümlaut comment; with a semicolon\n",
    ";/* a /* nested */ ; */\n",
    ";;\n",
]


def _reference(text: str) -> list[tuple[str, int, str]]:
    """What the old (quadratic) code computed, straight from pglast's own offsets."""
    from pglast import parser

    out = []
    for item in parser.parse_sql(text):
        start = item.stmt_location or 0
        raw = text[start : start + (item.stmt_len or len(text) - start)]
        first = start + len(raw) - len(raw.lstrip())
        out.append((raw.strip(), text.count("\n", 0, first) + 1, type(item.stmt).__name__))
    return out


@given(
    st.lists(
        st.tuples(st.sampled_from(_FRAGMENTS), st.sampled_from(_GAPS)), min_size=1, max_size=12
    ),
    st.sampled_from(["", "-- head\n", "/* ö */\n\n", "\n"]),
)
def test_statements_text_line_and_kind_match_pglast_offsets(
    items: list[tuple[str, str]], head: str
) -> None:
    text = head + "".join(f"{sql}{gap}" for sql, gap in items)
    got = [(s.text, s.line, s.kind) for s in parse(text).statements]
    assert got == _reference(text)


def test_syntax_error_line_after_non_ascii_text() -> None:
    with pytest.raises(SqlSyntaxError) as info:
        parse("insert into t values ('é');\n-- ü\nselec 1;\n")
    assert info.value.line == 3 and "selec" in info.value.message


def test_twenty_thousand_statements_with_non_ascii_parse_in_linear_time() -> None:
    """Before: 33 s on this machine (pglast maps every node location through a list of all
    multi-byte characters before it). After: well under a second."""
    import time

    body = "".join(
        f"insert into public.big (id, name) values ({i}, 'naïve {i} ✓');\n" for i in range(20_000)
    )
    text = "create table public.big (id int primary key, name text);\n" + body
    t0 = time.perf_counter()
    parsed = parse(text)
    elapsed = time.perf_counter() - t0
    assert len(parsed.statements) == 20_001
    assert parsed.statements[-1].line == 20_001
    assert parsed.statements[-1].text.endswith("'naïve 19999 ✓')")
    assert elapsed < 5.0, f"parsing took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("", True),
        ("-- only a comment\n/* and /* a nested */ one */\n", True),
        ("begin;\n-- nothing\ncommit;\n", True),
        (";;\n", True),
        ("select 1;\n", False),
    ],
)
def test_empty_files_are_told_apart(text: str, empty: bool) -> None:
    from dbmigrator.engine.sqlparse import plan_empty_warnings

    parsed = parse(text, "004_nothing.sql")
    assert parsed.empty is empty
    warnings = plan_empty_warnings([parsed])
    assert len(warnings) == int(empty)
    if empty:
        assert warnings[0].startswith("004_nothing.sql has no statements")


def test_publication_members_are_objects_and_follow_drops_and_set() -> None:
    p = parse(
        "create publication pub for table a, s.b;\n"
        "alter publication supabase_realtime add table public.messages, rooms;\n"
        "alter publication supabase_realtime drop table rooms;\n"
        "alter publication pub set table c;\n"
        "drop table public.messages;\n"
    )
    members = sorted(
        o.display for o in plan_expected_objects([p]) if o.kind == "publication member"
    )
    assert members == ["table c in publication pub"]
    q = parse("alter publication supabase_realtime add table public.messages;\ndrop publication x;")
    assert [o.display for o in plan_expected_objects([q])] == [
        "table public.messages in publication supabase_realtime"
    ]
