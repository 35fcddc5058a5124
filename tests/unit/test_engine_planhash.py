"""The plan hash: stable across machines and restarts, changed by anything a run would execute."""

from __future__ import annotations

import hashlib
import json

import pytest

from dbmigrator.engine.errors import InputError, PlanChanged
from dbmigrator.engine.files import build_migration_set
from dbmigrator.engine.planhash import (
    build_plan,
    build_plan_info,
    check_in_range,
    check_plan,
    parse_plan_hash,
    short_hash,
)

FILES = [
    ("001_a.sql", "create table a (id int);"),
    ("001_a.down.sql", "drop table a;"),
    ("002_b.sql", "create table b (id int);"),
    ("002_b.down.sql", "drop table b;"),
    ("003_c.sql", "create index c on b (id);"),
    ("003_c.down.sql", "drop index c;"),
]


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_hash_is_sha256_of_the_canonical_json_of_the_plan() -> None:
    plan = build_plan(build_migration_set("m", FILES), "up", "001", "003")
    assert [f.name for f in plan.files] == ["002_b.sql", "003_c.sql"]
    document = {
        "direction": "up", "fromVersion": "1", "targetVersion": "3",
        "files": [
            {"version": "002", "name": "002_b.sql", "checksum": sha("create table b (id int);")},
            {"version": "003", "name": "003_c.sql", "checksum": sha("create index c on b (id);")},
        ],
    }  # fmt: skip
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert plan.hash == sha(canonical)
    # Golden value: a change here breaks every approval already given (in Git, in annotations).
    assert plan.hash.startswith("sha256:376d6f88e5b930dad2b62ad29b8ee2541")
    assert plan.hash.endswith("f60fd02e4ac17abcd309d5bded70182")
    assert short_hash(plan.hash) == plan.hash[:19]


def test_the_hash_does_not_depend_on_file_order_or_zero_padding() -> None:
    a = build_plan(build_migration_set("m", FILES), "up", "001", "003")
    b = build_plan(build_migration_set("other/dir", list(reversed(FILES))), "up", "1", "3")
    assert a.hash == b.hash


@pytest.mark.parametrize(
    "change",
    [
        lambda f: [(n, t + " -- edited") if n == "003_c.sql" else (n, t) for n, t in f],
        lambda f: [(n.replace("003_c", "003_d"), t) for n, t in f],
        lambda f: [*f, ("004_e.sql", "select 1;")],
    ],
    ids=["content", "name", "a new file"],
)
def test_anything_the_run_executes_changes_the_hash(change: object) -> None:
    before = build_plan(build_migration_set("m", FILES), "up", "001", "004").hash
    after = build_plan(build_migration_set("m", change(FILES)), "up", "001", "004")  # type: ignore[operator]
    assert after.hash != before


def test_files_outside_the_range_and_down_files_of_an_up_plan_do_not_count() -> None:
    base = build_plan(build_migration_set("m", FILES), "up", "001", "002").hash
    edited = [(n, t + " -- x") if n in ("001_a.sql", "003_c.sql", "002_b.down.sql") else (n, t)
              for n, t in FILES]  # fmt: skip
    assert build_plan(build_migration_set("m", edited), "up", "001", "002").hash == base


def test_a_down_plan_runs_down_files_newest_first_and_differs_from_up() -> None:
    ms = build_migration_set("m", FILES)
    down = build_plan(ms, "down", "003", "001")
    assert [f.name for f in down.files] == ["003_c.down.sql", "002_b.down.sql"]
    assert down.files[0].checksum == sha("drop index c;")
    assert down.hash != build_plan(ms, "up", "001", "003").hash
    no_down = build_migration_set("m", [f for f in FILES if f[0] != "002_b.down.sql"])
    with pytest.raises(InputError, match=r"no down file for 002_b \(expected 002_b.down.sql\)"):
        build_plan(no_down, "down", "003", "001")


def test_an_empty_database_plans_from_zero() -> None:
    ms = build_migration_set("m", FILES)
    assert build_plan(ms, "up", None, "003").hash == build_plan(ms, "up", "0", "003").hash
    info = build_plan_info(build_plan(ms, "up", None, "003"), max_files=2)
    assert info.file_count == 3 and len(info.files) == 2 and info.from_version is None


def test_check_plan_names_the_files_it_now_sees() -> None:
    ms = build_migration_set("m", FILES)
    approved = build_plan(ms, "up", "001", "003").hash
    assert check_plan(ms, "up", approved, "001", "003").hash == approved
    edited = build_migration_set(
        "m", [(n, t + " -- x") if n == "003_c.sql" else (n, t) for n, t in FILES]
    )
    with pytest.raises(PlanChanged) as err:
        check_plan(edited, "up", approved, "001", "003")
    assert err.value.kind == "plan" and err.value.exit_code == 1
    text = str(err.value)
    assert f"the approved plan {short_hash(approved)} (up 001 -> 003)" in text
    assert "the range now holds 002_b.sql (sha256:" in text and "003_c.sql (sha256:" in text


def test_the_run_must_stay_inside_the_approved_range() -> None:
    check_in_range("up", ["002", "003"], "001", "003")
    check_in_range("down", ["003", "002"], "003", "001")
    with pytest.raises(PlanChanged, match="version\\(s\\) 001, outside the approved plan"):
        check_in_range("up", ["001", "002"], "001", "003")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("sha256:" + "AB" * 32, "sha256:" + "ab" * 32), ("cd" * 32, "sha256:" + "cd" * 32)],
)
def test_a_hash_on_the_command_line(text: str, expected: str) -> None:
    assert parse_plan_hash(text) == expected


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "a" * 64, "sha256:" + "g" * 64, ""])
def test_a_malformed_hash_is_bad_input(bad: str) -> None:
    with pytest.raises(InputError, match="expected sha256:<64 hex digits>"):
        parse_plan_hash(bad)
