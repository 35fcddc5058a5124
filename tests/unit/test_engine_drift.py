"""The pure half of drift: normalising catalog rows into a snapshot, and diffing two snapshots."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbmigrator.api.checks import render_checks_json
from dbmigrator.engine.checksfile import parse_checks
from dbmigrator.engine.drift import (
    DriftChange,
    Snapshot,
    build_snapshot,
    is_excluded,
    normalise_index,
    parse_snapshot,
    plan_drift,
    plan_managed_schemas,
    render_drift_lines,
    render_snapshot,
)
from dbmigrator.engine.errors import InputError
from dbmigrator.engine.results import DriftItem, RunResult, render_compact
from dbmigrator.engine.sqlobjects import DbObject

TABLE = {"row level security": True, "force row level security": False}
BASE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("public", "schema", "", {}),
    ("public.categories", "table", "", TABLE),
    ("public.categories", "column", "id", {"type": "uuid", "not null": True}),
    ("public.categories", "column", "name", {"type": "text", "not null": True}),
    ("public.categories", "index", "categories_name_idx",
     {"definition": "CREATE INDEX categories_name_idx ON public.categories USING btree (name)"}),
    ("public.categories", "policy", '"read own"',
     {"command": "SELECT", "roles": ["authenticated", "anon"], "using": "(auth.uid() = id)"}),
    ("public.categories", "grant", "SELECT to anon", {"grantable": False}),
    ("public.fn(integer)", "function", "", {"returns": "integer", "body": "select $1"}),
]  # fmt: skip


def snap(rows: list[tuple[str, str, str, dict[str, Any]]] = BASE) -> Snapshot:
    return build_snapshot(["public"], rows)


def changed(
    replace: dict[tuple[str, str, str], dict[str, Any] | None],
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """BASE with rows replaced (None: removed) or added."""
    rows = {(o, k, n): a for o, k, n, a in BASE}
    for key, attrs in replace.items():
        if attrs is None:
            rows.pop(key, None)
        else:
            rows[key] = attrs
    return [(*key, attrs) for key, attrs in rows.items()]


@pytest.mark.parametrize(
    ("replace", "messages"),
    [
        ({("public.categories", "column", "sneaky"): {"type": "integer"}},
         ["public.categories: column sneaky added"]),
        ({("public.categories", "index", "categories_name_idx"): None},
         ["public.categories: index categories_name_idx dropped"]),
        ({("public.categories", "policy", '"read own"'):
          {"command": "SELECT", "roles": ["anon", "authenticated"], "using": "true"}},
         ['public.categories: policy "read own" changed (using)']),
        ({("public.fn(integer)", "function", ""): {"returns": "integer", "body": "select 2"}},
         ["public.fn(integer): function body changed"]),
        ({("public.fn(integer)", "function", ""): {"returns": "bigint", "body": "select 2"}},
         ["public.fn(integer): function changed (body, returns)"]),
        ({("public.categories", "grant", "SELECT to anon"): None,
          ("public.categories", "grant", "INSERT to anon"): {"grantable": False}},
         ["public.categories: grant INSERT to anon added",
          "public.categories: grant SELECT to anon dropped"]),
        ({("public.categories", "column", "name"): {"type": "varchar(10)", "not null": False}},
         ["public.categories: column name changed (not null, type)"]),
        ({("public.categories", "table", ""): {**TABLE, "row level security": False}},
         ["public.categories: table changed (row level security)"]),
    ],
)  # fmt: skip
def test_each_kind_of_change_is_named(
    replace: dict[tuple[str, str, str], dict[str, Any] | None], messages: list[str]
) -> None:
    assert [c.message for c in plan_drift(snap(), snap(changed(replace)))] == messages


def test_a_table_dropped_or_added_is_one_change_not_one_per_part() -> None:
    without = [r for r in BASE if r[0] != "public.categories"]
    assert [c.message for c in plan_drift(snap(), snap(without))] == [
        "public.categories: table dropped"
    ]
    assert [c.message for c in plan_drift(snap(without), snap())] == [
        "public.categories: table added"
    ]


def test_a_column_added_with_its_table_changed_is_still_reported() -> None:
    """Only parts changing the same way as their object are folded into it."""
    rows = changed({("public.categories", "table", ""): {**TABLE, "row level security": False},
                    ("public.categories", "column", "x"): {"type": "int"}})  # fmt: skip
    assert [c.message for c in plan_drift(snap(), snap(rows))] == [
        "public.categories: table changed (row level security)",
        "public.categories: column x added",
    ]


def test_normalising_makes_equal_what_only_looks_different() -> None:
    a = snap()
    b = build_snapshot(["public", "public"], list(reversed([
        (o, k, n, {**attrs, "roles": list(reversed(attrs["roles"]))} if "roles" in attrs else attrs)
        for o, k, n, attrs in BASE
    ])))  # fmt: skip
    assert plan_drift(a, b) == [] and a.sha256 == b.sha256
    body = hashlib.sha256(b"select $1").hexdigest()
    assert a.objects[("public.fn(integer)", "function", "")]["body"] == body
    squashed = build_snapshot(
        ["public"], [("public.v", "view", "", {"definition": " SELECT 1\n  AS x;"})]
    )
    assert squashed.objects[("public.v", "view", "")]["definition"] == "SELECT 1 AS x;"
    nulls = build_snapshot(
        ["public"], [("public.t", "column", "a", {"type": "int", "default": None})]
    )
    assert nulls.objects[("public.t", "column", "a")] == {"type": "int"}


@pytest.mark.parametrize(
    ("definition", "normal"),
    [
        ("CREATE INDEX i ON public.t USING btree (a)", "USING btree (a)"),
        ("CREATE UNIQUE INDEX i ON ONLY public.t USING btree (a) WHERE (b > 0)",
         "UNIQUE USING btree (a) WHERE (b > 0)"),
        ('CREATE INDEX "my idx" ON "My Schema"."T t" USING gin (name extensions.gin_trgm_ops)',
         "USING gin (name extensions.gin_trgm_ops)"),
        ("CREATE INDEX i ON t USING btree (a)", "USING btree (a)"),
        ("something unexpected", "something unexpected"),
    ],
)  # fmt: skip
def test_index_definitions_lose_their_name_and_table(definition: str, normal: str) -> None:
    assert normalise_index(definition) == normal


def test_stored_form_round_trips_and_is_canonical() -> None:
    a = snap()
    text = render_snapshot(a)
    assert parse_snapshot(text) == a and parse_snapshot(json.loads(text)) == a
    assert render_snapshot(parse_snapshot(text)) == text
    with pytest.raises(ValueError, match="format 1"):
        parse_snapshot('{"format": 99}')


def test_exclude_patterns_match_schema_object() -> None:
    assert is_excluded("public.tmp_x", ["public.tmp_*"])
    assert is_excluded("audit.log", ["audit.*"])
    assert is_excluded("public.fn(integer)", ["public.fn"])
    assert is_excluded('public."tmp scratch"', ["public.tmp *"])
    assert not is_excluded("public.orders", ["public.tmp_*", "audit.*"])
    rows = changed({("public.tmp_x", "table", ""): TABLE})
    assert plan_drift(snap(), snap(rows), ["public.tmp_*"]) == []
    assert plan_drift(snap(), snap(rows), ["public.other"]) != []


def test_managed_schemas_are_public_and_the_files_schema_level_objects() -> None:
    created = [
        DbObject("table", "invoices", "billing"),
        DbObject("schema", "reporting"),
        DbObject("function", "f", None),
        DbObject("trigger", "t", None, "users", "auth"),  # on auth.users: auth is not ours
        DbObject("table", "x", "supabase_migrations"),
        DbObject("view", "v", "pg_temp"),
    ]
    assert plan_managed_schemas(created) == ("billing", "public", "reporting")
    assert plan_managed_schemas([]) == ("public",)


def test_drift_lines_are_bounded() -> None:
    changes = [DriftChange(f"public.t{i}", "table", "", "added") for i in range(12)]
    line = render_drift_lines(changes, limit=3)
    assert (
        line == "public.t0: table added; public.t1: table added; public.t2: table added; and 9 more"
    )
    assert render_drift_lines(changes[:2]) == "public.t0: table added; public.t1: table added"


def test_checks_file_drift_exclude() -> None:
    c = parse_checks("drift:\n  exclude: ['public.tmp_*', 'audit.*']\n", "checks.yaml")
    assert c.drift.exclude == ("public.tmp_*", "audit.*")
    assert parse_checks(render_checks_json(c), "json") == c
    with pytest.raises(InputError, match=r"checks.yaml.*drift.exclude.*schema.object"):
        parse_checks("drift:\n  exclude: ['nodot']\n", "checks.yaml")


def test_drift_is_trimmed_first_from_a_long_termination_message() -> None:
    items = [DriftItem(object=f"public.t{i}", kind="column", name=f"c{i}" * 20, change="added",
                       message=f"public.t{i}: column {'c' * 40} added") for i in range(20)]  # fmt: skip
    result = RunResult(command="up", ok=True, exit_code=0, drift=items, drift_count=57)
    assert json.loads(render_compact(result))["truncated"] is False  # 20 short ones fit
    compact = json.loads(render_compact(result, limit=1500))
    assert compact["truncated"] is True and compact["driftCount"] == 57
    assert len(compact["drift"]) <= 5


# ---- invariants ---------------------------------------------------------------------------
NAMES = st.sampled_from(["a", "b", "c", '"x y"'])
ATTRS = st.dictionaries(st.sampled_from(["type", "using", "definition", "grantable"]),
                        st.one_of(st.booleans(), st.sampled_from(["int", "text", "true"])),
                        max_size=3)  # fmt: skip
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["public.t", "public.u", "audit.log", "public.f(integer)"]),
        st.sampled_from(["table", "column", "index", "policy", "grant", "function", "trigger"]),
        NAMES,
        ATTRS,
    ).map(lambda r: (r[0], r[1], "" if r[1] in ("table", "function") else r[2], r[3])),
    max_size=12,
)


@given(ROWS)
def test_nothing_changed_means_no_drift(rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
    a = build_snapshot(["public"], rows)
    assert plan_drift(a, a) == []
    assert plan_drift(a, parse_snapshot(render_snapshot(a))) == []


@given(ROWS, ROWS)
def test_added_and_dropped_mirror_each_other(
    old_rows: list[tuple[str, str, str, dict[str, Any]]],
    new_rows: list[tuple[str, str, str, dict[str, Any]]],
) -> None:
    old, new = build_snapshot(["public"], old_rows), build_snapshot(["public"], new_rows)
    forward = {(c.object, c.kind, c.name, c.change) for c in plan_drift(old, new)}
    backward = {(c.object, c.kind, c.name, c.change) for c in plan_drift(new, old)}
    flip = {"added": "dropped", "dropped": "added", "changed": "changed"}
    assert {(o, k, n, flip[c]) for o, k, n, c in forward} == backward
    assert (forward == set()) == (old.sha256 == new.sha256)
