"""Faults and small traps of the runner, against a real PostgreSQL (issue 8): the lock holder of
another database, empty files, a failed concurrent index build next to another schema's index,
a runner stopped by SIGTERM or SIGKILL, and rehearsals that must leave the server as they found it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from dbmigrator.engine.locking import LOCK_CLASS, LOCK_OBJECT, holder
from tests.helpers import query, run_cli, write_set


def test_lock_holder_is_looked_up_in_this_database_only(dsn: str, other_dsn: str) -> None:
    lock = "select pg_advisory_lock(%s, %s)"
    with psycopg.connect(other_dsn, autocommit=True, application_name="runner elsewhere") as far:
        far.execute(lock, [LOCK_CLASS, LOCK_OBJECT])
        with psycopg.connect(dsn, autocommit=True) as here:
            assert holder(here) == "an unknown session (it may have just finished)"
            with psycopg.connect(dsn, autocommit=True, application_name="runner here") as near:
                near.execute(lock, [LOCK_CLASS, LOCK_OBJECT])
                named = holder(here)
    assert "runner here" in named and "runner elsewhere" not in named


def test_empty_files_are_warned_in_plan_and_recorded_as_empty(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {
        "001_init.sql": "create table public.a (id int);\n",
        "002_nothing.sql": "-- TODO: write this migration\n",
        "003_blank.sql": "",
    })  # fmt: skip
    plan = run_cli("plan", "--dir", str(d), "-o", "json", dsn=dsn)
    assert plan.returncode == 0, plan.output
    doc = json.loads(plan.stdout)
    assert [m["empty"] for m in doc["phases"][0]["migrations"]] == [False, True, True]
    assert [w.split(" ")[0] for w in doc["warnings"]] == ["002_nothing.sql", "003_blank.sql"]
    text = run_cli("plan", "--dir", str(d), dsn=dsn)
    assert "warning: 002_nothing.sql has no statements" in " ".join(text.stdout.split())
    up = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert up.returncode == 0, up.output
    assert "003_blank.sql has no statements" in up.stderr
    applied = json.loads(up.stdout)["applied"]
    assert [a.get("empty", False) for a in applied] == [False, True, True]
    notes = query(dsn, "select version, note from supabase_migrations.dbmigrator_history "
                       "where operation = 'up' order by version")  # fmt: skip
    assert [(v, (n or "").split(":")[0]) for v, n in notes] == [
        ("001", ""),
        ("002", "empty"),
        ("003", "empty"),
    ]
