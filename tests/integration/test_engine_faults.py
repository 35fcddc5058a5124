"""Faults and small traps of the runner, against a real PostgreSQL (issue 8): the lock holder of
another database, empty files, a failed concurrent index build next to another schema's index,
a runner stopped by SIGTERM or SIGKILL, and rehearsals that must leave the server as they found it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from dbmigrator.engine.locking import LOCK_CLASS, LOCK_OBJECT, holder
from tests.helpers import CLI, REPO, query, run_cli, write_set


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


def test_failed_concurrent_index_drops_only_its_own_invalid_index(dsn: str, tmp_path: Path) -> None:
    # Another schema already has an INVALID index of the same name (a failed build of its own).
    query(dsn, "create schema other; create table other.accounts (email text); "
               "insert into other.accounts values ('same'), ('same')")  # fmt: skip
    with pytest.raises(psycopg.errors.UniqueViolation):
        query(dsn, "create unique index concurrently idx_email_u on other.accounts (email)")
    d = write_set(tmp_path / "m", {
        "001_init.sql": "create table public.accounts (id int primary key, email text);\n"
                        "insert into public.accounts values (1, 'same'), (2, 'same');\n",
        # Unqualified: the search_path (public) decides where the table and its index are.
        "002_unique.sql": "create unique index concurrently idx_email_u on accounts (email);\n",
    })  # fmt: skip
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    assert json.loads(out.stdout)["error"]["sqlstate"] == "23505"
    assert "dropped invalid index public.idx_email_u" in out.stderr
    left = query(dsn, "select n.nspname, i.indisvalid from pg_index i "
                      "join pg_class c on c.oid = i.indexrelid "
                      "join pg_namespace n on n.oid = c.relnamespace "
                      "where c.relname = 'idx_email_u'")  # fmt: skip
    assert left == [("other", False)]


# ---- a runner stopped by a signal (item 8) ---------------------------------------------------

SLOW = {
    "001_init.sql": "create table public.a (id int);\n",
    "002_slow.sql": "create table public.b (id int);\nselect pg_sleep(60);\n",
}


def _start(dsn: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DBMIGRATOR_CHECKS_JSON"}
    return subprocess.Popen([str(CLI), *args], env={**env, "DATABASE_URL": dsn}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _runner_backends(dsn: str, running: str = "%") -> list[int]:
    rows = query(dsn, "select pid from pg_stat_activity where datname = current_database() "
                      "and application_name like 'dbmigrator %%' and query like %s", running)  # fmt: skip
    return [int(str(pid)) for (pid,) in rows]


def _wait_for(predicate: Callable[[], bool], seconds: float) -> float:
    """Seconds until `predicate()` held; fails the test after `seconds`."""
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < seconds, f"still not true after {seconds}s"
        time.sleep(0.1)
    return time.monotonic() - t0


def _lock_is_free(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT]
        ).fetchone()
        return bool(row and row[0])


def test_sigterm_cancels_the_statement_reports_and_frees_the_lock(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", SLOW)
    log = tmp_path / "termination-log"
    proc = _start(dsn, "up", "--dir", str(d), "-o", "json", "--termination-log", str(log))
    _wait_for(lambda: bool(_runner_backends(dsn, "%pg_sleep(60)%")), 30)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5, stderr
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    result = json.loads(log.read_text())
    assert json.loads(stdout)["error"] == result["error"]
    assert result["ok"] is False and result["currentVersion"] == "001"
    assert result["error"]["kind"] == "interrupted"
    assert result["error"]["file"] == "002_slow.sql" and result["error"]["line"] == 2
    assert "interrupted by SIGTERM" in result["error"]["message"]
    assert query(dsn, "select to_regclass('public.b')") == [(None,)]  # rolled back
    history = query(dsn, "select version, success, error from supabase_migrations."
                         "dbmigrator_history order by id")  # fmt: skip
    assert history[-1][:2] == ("002", False) and "SIGTERM" in str(history[-1][2])
    assert _runner_backends(dsn) == []
    assert _lock_is_free(dsn)


def test_sigkilled_runner_leaves_no_backend_running(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", SLOW)
    proc = _start(dsn, "up", "--dir", str(d), "--no-validate")
    _wait_for(lambda: bool(_runner_backends(dsn, "%pg_sleep(60)%")), 30)
    proc.kill()
    proc.communicate(timeout=10)
    # client_connection_check_interval (2s) notices the closed socket while pg_sleep runs.
    _wait_for(lambda: not _runner_backends(dsn), 10)
    assert _lock_is_free(dsn)
