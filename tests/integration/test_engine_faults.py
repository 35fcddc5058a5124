"""Faults and small traps of the runner, against a real PostgreSQL (issue 8): the lock holder of
another database, empty files, a failed concurrent index build next to another schema's index,
a runner stopped by SIGTERM or SIGKILL, and rehearsals that must leave the server as they found it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
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


# ---- rehearsal leaves the server as it found it (item 7) -------------------------------------


def _roles(dsn: str) -> set[str]:
    return {str(r[0]) for r in query(dsn, "select rolname from pg_roles")}


def _server_state(dsn: str) -> tuple[object, ...]:
    """Roles, memberships, role/database settings, ALTER SYSTEM settings, databases."""
    return (
        _roles(dsn),
        query(dsn, "select roleid::regrole::text, member::regrole::text, admin_option "
                   "from pg_auth_members order by 1, 2"),
        query(dsn, "select setdatabase, setrole, setconfig from pg_db_role_setting order by 1, 2"),
        query(dsn, "select name, setting from pg_file_settings "
                   "where sourcefile like '%%postgresql.auto.conf' order by 1"),
        query(dsn, "select datname from pg_database order by 1"),
    )  # fmt: skip


@pytest.fixture
def role_names(dsn: str) -> Iterator[tuple[str, str]]:
    """Two role names of this test only (roles are server-wide); the second exists already."""
    token = secrets.token_hex(3)
    new, old = f"app_new_{token}", f"app_old_{token}"
    query(
        dsn,
        f'create role "{old}" nologin; alter role "{old}" set search_path = x, "Y z"; '
        f"alter role \"{old}\" set work_mem = '3MB'",
    )
    yield new, old
    for role in (new, old):
        if role in _roles(dsn):
            query(dsn, f'drop owned by "{role}"; drop role "{role}"')


def test_rehearsal_reverts_roles_and_settings_then_up_succeeds(
    dsn: str, tmp_path: Path, role_names: tuple[str, str]
) -> None:
    new, old = role_names
    d = write_set(tmp_path / "m", {
        "001_init.sql": "create table public.items (id int primary key);\n",
        # Not idempotent, on purpose: a role left by the rehearsal makes the real up fail (42710).
        "002_roles.sql": f"create role {new} nologin;\ngrant {new} to {old};\n"
                         f"alter role {old} set search_path = app, public;\n"
                         f"alter role {old} createdb;\n"
                         f"grant select on public.items to {new};\n",
        "003_server.sql": "alter system set work_mem = '7MB';\n",
    })  # fmt: skip
    plan = json.loads(run_cli("plan", "--dir", str(d), "-o", "json", dsn=dsn).stdout)
    found = [(c["line"], c["what"], c["rehearsal"])
             for p in plan["phases"] for m in p["migrations"] for c in m["clusterWide"]]  # fmt: skip
    assert found == [
        (1, "CREATE ROLE", "reverted"),
        (2, "GRANT/REVOKE role membership", "reverted"),
        (3, "ALTER ROLE ... SET", "reverted"),
        (4, "ALTER ROLE", "reverted"),
        (1, "ALTER SYSTEM", "skipped"),
    ]
    before = _server_state(dsn)
    out = run_cli("rehearse", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 0, out.output
    result = json.loads(out.stdout)
    assert [a["version"] for a in result["applied"]] == ["001", "002", "003"]
    assert any("003_server.sql:1: ALTER SYSTEM: skipped" in w for w in result["warnings"])
    assert f"reverted: drop role {new}" in result["warnings"]
    assert _server_state(dsn) == before
    # The real run (without the ALTER SYSTEM file, which would change this shared test server).
    up = run_cli("up", "--dir", str(d), "--target", "002", dsn=dsn)
    assert up.returncode == 0, up.output
    assert new in _roles(dsn)


def _scratch_databases(dsn: str) -> list[str]:
    rows = query(dsn, "select datname from pg_database where datname like %s",
                 f"{dsn.rsplit('/', 1)[1][:40]}_rehearsal_%")  # fmt: skip
    return [str(r[0]) for r in rows]


def test_sigterm_during_rehearsal_leaves_no_scratch_database(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", SLOW)
    log = tmp_path / "termination-log"
    proc = _start(dsn, "rehearse", "--dir", str(d), "--termination-log", str(log))
    _wait_for(lambda: bool(_scratch_running_sleep(dsn)), 60)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert json.loads(log.read_text())["error"]["kind"] == "interrupted"
    assert _scratch_databases(dsn) == []


def test_killed_rehearsal_scratch_is_dropped_by_the_next_one(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", SLOW)
    proc = _start(dsn, "rehearse", "--dir", str(d))
    _wait_for(lambda: bool(_scratch_running_sleep(dsn)), 60)
    proc.kill()
    proc.communicate(timeout=10)
    (left,) = _scratch_databases(dsn)
    write_set(d, {"002_slow.sql": "create table public.b (id int);\n"})
    out = run_cli("rehearse", "--dir", str(d), dsn=dsn)
    assert out.returncode == 0, out.output
    assert f"dropped {left}, left by an earlier rehearsal" in " ".join(out.output.split())
    assert _scratch_databases(dsn) == []


def _scratch_running_sleep(dsn: str) -> list[object]:
    return query(dsn, "select pid from pg_stat_activity where datname like '%%_rehearsal_%%' "
                      "and query like '%%pg_sleep(60)%%'")  # fmt: skip


def test_history_table_of_an_older_version_gains_the_note_column(dsn: str, tmp_path: Path) -> None:
    query(dsn, "create schema supabase_migrations; "
               "create table supabase_migrations.schema_migrations (version text primary key, "
               "statements text[], name text); "
               "create table supabase_migrations.dbmigrator_history (id bigint generated always "
               "as identity primary key, version text not null, name text, checksum text, "
               "operation text not null, success boolean not null, started_at timestamptz not "
               "null, finished_at timestamptz not null default clock_timestamp(), duration_ms "
               "double precision, executed_by text not null default current_user, runner text, "
               "error text)")  # fmt: skip
    d = write_set(tmp_path / "m", {"001_nothing.sql": "-- later\n"})
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    assert query(dsn, "select note from supabase_migrations.dbmigrator_history") == [
        ("empty: the file has no statements, nothing ran",)
    ]
