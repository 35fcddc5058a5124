"""Engine semantics against a real PostgreSQL: atomic files, locking, drift, non-transactional
files, timeouts with retries, degraded queries, and every bad input answered with one clear line."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import CLI, query, run_cli, write_set

BASE = {
    "001_init.sql": "create table public.accounts (id int primary key, email text not null);\n",
    "001_init.down.sql": "drop table if exists public.accounts;\n",
}


def _no_traceback(out: str) -> None:
    assert "Traceback" not in out, out


def test_failure_mid_file_leaves_database_as_before_that_file(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**BASE, "002_broken.sql": (
        "create table public.orders (id int primary key);\n"
        "insert into public.orders values (1);\n"
        "\n"
        "insert into public.orders\n"
        "  select id from public.nope;\n"
        "create table public.never (id int);\n"
    )})  # fmt: skip
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    _no_traceback(out.output)
    result = json.loads(out.stdout)
    error = result["error"]
    assert error["file"] == "002_broken.sql"
    assert error["line"] == 5  # the line of `references public.nope`, not just the statement start
    assert error["sqlstate"] == "42P01"
    assert 'relation "public.nope" does not exist' in error["message"]
    assert result["currentVersion"] == "001"
    tables = {
        r[0] for r in query(dsn, "select tablename from pg_tables where schemaname = 'public'")
    }
    assert tables == {"accounts"}
    failed = query(
        dsn,
        "select version, success from supabase_migrations.dbmigrator_history where version = '002'",
    )
    assert failed == [("002", False)]


def test_error_shows_hint(dsn: str, tmp_path: Path) -> None:
    d = write_set(
        tmp_path / "m", {"001_x.sql": "select * from pg_class where relname = 1::text::int;\n"}
    )
    out = run_cli("up", "--dir", str(d), dsn=dsn)
    assert out.returncode == 1
    assert "001_x.sql:1:" in out.output and "ERROR 42883" in out.output and "hint:" in out.output


def test_concurrent_up_applies_each_file_once(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {
        "001_slow.sql": "select pg_sleep(1.5);\ncreate table public.a (id int);\n",
        "002_next.sql": "create table public.b (id int);\n",
    })  # fmt: skip
    env = {"DATABASE_URL": dsn}
    procs = [
        subprocess.Popen(
            [str(CLI), "up", "--dir", str(d), "-o", "json", "--no-validate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, **env},
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    applied = sorted(len(json.loads(o[0])["applied"]) for o in outs)
    assert applied == [0, 2]
    rows = query(dsn, "select version, count(*) from supabase_migrations.dbmigrator_history "
                      "where operation = 'up' and success group by 1 order by 1")  # fmt: skip
    assert rows == [("001", 1), ("002", 1)]


def test_second_runner_gives_up_naming_the_lock_holder(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {"001_slow.sql": "select pg_sleep(4);\n"})
    first = subprocess.Popen([str(CLI), "up", "--dir", str(d), "--no-validate"],
                             env={**__import__("os").environ, "DATABASE_URL": dsn},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.0)
    second = run_cli("up", "--dir", str(d), "--lock-wait", "1", "-o", "json", dsn=dsn)
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert second.returncode == 1, second.output
    error = json.loads(second.stdout)["error"]
    assert error["kind"] == "lock"
    assert "pid" in error["message"] and "dbmigrator up" in error["message"]


def test_lock_timeout_is_retried_then_succeeds(dsn: str, tmp_path: Path) -> None:
    query(dsn, "create table public.busy (id int)")
    d = write_set(
        tmp_path / "m", {"001_alter.sql": "alter table public.busy add column note text;\n"}
    )
    holder = psycopg.connect(dsn)
    holder.execute("lock table public.busy in access share mode")  # blocks ALTER TABLE

    def release() -> None:
        time.sleep(1.5)
        holder.rollback()

    threading.Thread(target=release).start()
    out = run_cli("up", "--dir", str(d), "--lock-timeout", "200ms", "--retries", "5", dsn=dsn)
    holder.close()
    assert out.returncode == 0, out.output
    assert "retry 1" in out.output and "55P03" in out.output


def test_lock_timeout_gives_up_after_bounded_retries(dsn: str, tmp_path: Path) -> None:
    query(dsn, "create table public.busy (id int)")
    d = write_set(
        tmp_path / "m", {"001_alter.sql": "alter table public.busy add column note text;\n"}
    )
    with psycopg.connect(dsn) as holder:
        holder.execute("lock table public.busy in access share mode")
        out = run_cli(
            "up",
            "--dir",
            str(d),
            "--lock-timeout",
            "100ms",
            "--retries",
            "1",
            "-o",
            "json",
            dsn=dsn,
        )
    assert out.returncode == 1
    error = json.loads(out.stdout)["error"]
    assert error["sqlstate"] == "55P03" and "after 1 retry" in error["message"]
    assert query(
        dsn,
        "select count(*) from information_schema.columns where table_name = 'busy' and column_name = 'note'",
    ) == [(0,)]


def test_drift_is_refused_and_shown_until_repaired(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    (d / "001_init.sql").write_text(BASE["001_init.sql"] + "-- edited after the fact\n")
    status = run_cli("status", "--dir", str(d), "-o", "json", dsn=dsn)
    assert status.returncode == 1
    assert json.loads(status.stdout)["drift"][0]["file"] == "001_init.sql"
    write_set(d, {"002_more.sql": "create table public.more (id int);\n"})
    up = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert up.returncode == 1
    assert json.loads(up.stdout)["error"]["kind"] == "drift"
    assert query(dsn, "select to_regclass('public.more')") == [(None,)]
    assert run_cli("repair", "--dir", str(d), "--status", "applied", "001", dsn=dsn).returncode == 0
    assert run_cli("status", "--dir", str(d), dsn=dsn).returncode == 0
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0


def test_non_transactional_file_runs_statement_by_statement(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**BASE, "002_index.sql": (
        "insert into public.accounts select g, 'u' || g || '@x' from generate_series(1, 1000) g;\n"
        "create index concurrently if not exists idx_accounts_email on public.accounts (email);\n"
    )})  # fmt: skip
    plan = run_cli("plan", "--dir", str(d), "-o", "json", dsn=dsn)
    assert plan.returncode == 0, plan.output
    migrations = json.loads(plan.stdout)["phases"][0]["migrations"]
    assert migrations[1]["transactional"] is False
    assert migrations[1]["nonTransactional"] == [{"line": 2, "reason": "CREATE INDEX CONCURRENTLY"}]
    text_plan = run_cli("plan", "--dir", str(d), dsn=dsn)
    assert "CREATE INDEX CONCURRENTLY" in text_plan.stdout
    out = run_cli("up", "--dir", str(d), dsn=dsn)
    assert out.returncode == 0, out.output
    assert "statement by statement" in out.output
    assert query(
        dsn,
        "select indisvalid from pg_index where indexrelid = 'public.idx_accounts_email'::regclass",
    ) == [(True,)]


def test_failed_concurrent_index_leaves_no_invalid_index(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**BASE, "002_unique.sql": (
        "insert into public.accounts values (1, 'same'), (2, 'same');\n"
        "create unique index concurrently idx_accounts_email_u on public.accounts (email);\n"
    )})  # fmt: skip
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1
    error = json.loads(out.stdout)["error"]
    assert error["sqlstate"] == "23505" and error["line"] == 2
    assert "stay committed" in error["message"]
    assert query(dsn, "select count(*) from pg_class where relname = 'idx_accounts_email_u'") == [
        (0,)
    ]


def test_degraded_query_fails_validation_and_can_revert(dsn: str, tmp_path: Path) -> None:
    files = {
        "001_big.sql": (
            "create table public.items (id int primary key, code text not null, pad text);\n"
            "insert into public.items select g, 'c' || g, repeat('x', 200) from generate_series(1, 200000) g;\n"
            "create index idx_items_code on public.items (code);\n"
            "analyze public.items;\n"
        ),
        "002_drop_index.sql": "drop index public.idx_items_code;\n",
        "002_drop_index.down.sql": "create index if not exists idx_items_code on public.items (code);\n",
    }
    d = write_set(tmp_path / "m", files)
    checks = tmp_path / "checks.yaml"
    checks.write_text(
        "queries:\n  - {name: by-code, sql: \"select * from public.items where code = 'c4242'\"}\n"
    )
    assert run_cli("up", "--dir", str(d), "--target", "001", dsn=dsn).returncode == 0
    out = run_cli("up", "--dir", str(d), "--checks", str(checks), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    result = json.loads(out.stdout)
    assert result["error"]["kind"] == "validation"
    timing = result["performance"][0]
    assert timing["name"] == "by-code" and timing["passed"] is False
    assert timing["degradationPercent"] > 50
    assert result["validation"]["failures"][0]["check"] == "performance"
    assert result["currentVersion"] == "002"  # default --on-failure stop keeps it

    assert run_cli("down", "--dir", str(d), "--target", "001", dsn=dsn).returncode == 0
    reverted = run_cli(
        "up",
        "--dir",
        str(d),
        "--checks",
        str(checks),
        "--on-failure",
        "down",
        "-o",
        "json",
        dsn=dsn,
    )
    assert reverted.returncode == 1
    result = json.loads(reverted.stdout)
    assert [r["version"] for r in result["reverted"]] == ["002"]
    assert result["currentVersion"] == "001"
    assert query(dsn, "select to_regclass('public.idx_items_code') is not null") == [(True,)]


def test_role_probes_and_rls_checks(dsn: str, tmp_path: Path) -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0
    d = write_set(tmp_path / "m", {"001_notes.sql": (
        "create table public.notes (id int primary key, owner uuid, body text);\n"
        "insert into public.notes values (1, '00000000-0000-0000-0000-000000000001', 'mine'),\n"
        "  (2, '00000000-0000-0000-0000-000000000002', 'theirs');\n"
        "create policy own_notes on public.notes for select to authenticated using (owner = auth.uid());\n"
        "create table public.open_table (id int);\n"
    )})  # fmt: skip
    checks = tmp_path / "checks.yaml"
    checks.write_text(
        "roleProbes:\n"
        "  - {role: authenticated, claims: {sub: 00000000-0000-0000-0000-000000000001}, sql: 'select * from public.notes', expect: allowed, minRows: 1}\n"
        "  - {role: anon, sql: 'select * from public.notes', expect: empty}\n"
    )
    out = run_cli("up", "--dir", str(d), "--checks", str(checks), "-o", "json", dsn=dsn)
    assert out.returncode == 1  # policies exist but RLS is off on notes
    failures = json.loads(out.stdout)["validation"]["failures"]
    assert {f["check"] for f in failures} >= {"rls-enabled"}
    query(dsn, "alter table public.notes enable row level security")
    ok = run_cli("validate", "--dir", str(d), "--checks", str(checks), "-o", "json", dsn=dsn)
    assert ok.returncode == 0, ok.output
    assert json.loads(ok.stdout)["validation"]["warnings"] >= 1  # open_table without RLS
    strict = tmp_path / "strict.yaml"
    strict.write_text(checks.read_text() + "security: {requireRlsOnExposedTables: true}\n")
    bad = run_cli("validate", "--dir", str(d), "--checks", str(strict), "-o", "json", dsn=dsn)
    assert bad.returncode == 1
    assert any(f["check"] == "rls-exposed" and "open_table" in f["target"]
               for f in json.loads(bad.stdout)["validation"]["failures"])  # fmt: skip


def test_missing_object_fails_validation(dsn: str, tmp_path: Path) -> None:
    d = write_set(
        tmp_path / "m",
        {"001_f.sql": "create function public.f() returns int language sql as 'select 1';\n"},
    )
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    query(dsn, "drop function public.f()")
    out = run_cli("validate", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1
    assert json.loads(out.stdout)["validation"]["failures"][0]["target"] == "function public.f"


def test_termination_log_holds_the_compact_result(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    log = tmp_path / "termination-log"
    out = run_cli("up", "--dir", str(d), "--termination-log", str(log), dsn=dsn)
    assert out.returncode == 0
    data = json.loads(log.read_text())
    assert data["ok"] is True and data["currentVersion"] == "001"
    assert len(log.read_bytes()) <= 4096


# ---- bad input: one clear line, the right exit code, never a traceback or a password ----------


@pytest.mark.parametrize(
    ("files", "args", "expected"),
    [
        (None, [], "does not exist"),
        ({"001_a.sql": "select 1;", "001_b.sql": "select 2;"}, [], "duplicate version 001"),
        ({"001_a.sql": "select 1;", "0002_b.sql": "select 2;"}, [], "mix digit widths"),
        ({"001_a.sql": "select 1;"}, ["--target", "009"], "target version 009 is not a migration"),
        ({"001_a.sql": "select 1;\nselec 2;\n"}, [], "001_a.sql:2: syntax error"),
        ({"001_a.sql": "\\set x 1\nselect 1;\n"}, [], "psql meta-commands"),
        (
            {"001_a.sql": "select 1;", "seed.sql": "select 1;"},
            [],
            "seed.sql: not a migration file name",
        ),
        (
            {"001_a.sql": "select 1;", "002_b.down.sql": "select 1;"},
            [],
            "down file without an up file",
        ),
        ({"001_a.sql": "rollback;"}, [], "ROLLBACK is not allowed"),
        ({"001_a.sql": "select 1;"}, ["--phase", "x"], "expected NAME=THROUGH"),
        ({"001_a.sql": "select 1;", "002_b.sql": "select 1;"}, ["--phase", "p=001"], "last phase"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    dsn: str, tmp_path: Path, files: dict[str, str] | None, args: list[str], expected: str
) -> None:
    d = tmp_path / "m"
    if files is not None:
        write_set(d, files)
    out = run_cli("up", "--dir", str(d), *args, dsn=dsn)
    assert out.returncode == 2, out.output
    assert expected in out.output
    _no_traceback(out.output)
    assert query(dsn, "select to_regclass('supabase_migrations.schema_migrations')") == [(None,)]


def test_down_without_down_file_is_refused(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**BASE, "002_x.sql": "create table public.x (id int);\n"})
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    out = run_cli("down", "--dir", str(d), "--target", "000", dsn=dsn)
    assert out.returncode == 2
    assert "no down file for version(s) 002" in out.output and "002_x.down.sql" in out.output
    assert query(dsn, "select count(*) from supabase_migrations.schema_migrations") == [(2,)]


def test_bad_checks_file_names_file_and_key(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    checks = tmp_path / "c.yaml"
    checks.write_text("roleProbes:\n  - {role: anon, sql: 'select 1', expect: maybe}\n")
    out = run_cli("up", "--dir", str(d), "--checks", str(checks), dsn=dsn)
    assert out.returncode == 2
    assert str(checks) in out.output and "roleProbes.0.expect" in out.output


def test_wrong_password_and_unreachable_never_print_the_password(pg_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = write_set(tmp_path / "m", dict(BASE))
    secret = "s3cr3t-Pa55word"
    wrong = pg_server.dsn(password=secret)
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=wrong)
    assert out.returncode == 1
    assert "password authentication failed" in out.output and secret not in out.output
    _no_traceback(out.output)
    unreachable = f"postgresql://postgres:{secret}@127.0.0.1:1/postgres"
    out = run_cli("status", "--dir", str(d), "--database-url", unreachable)
    assert out.returncode == 1
    assert "cannot connect" in out.output and secret not in out.output
    _no_traceback(out.output)
    missing = run_cli("status", "--dir", str(d))
    assert missing.returncode == 2 and "DATABASE_URL" in missing.output
