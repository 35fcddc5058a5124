"""A transactional file goes to PostgreSQL as one multi-statement message (a large one as a few,
engine/batch.py). What a statement-at-a-time run gave must still hold: a failure names the file
and line of its statement whether or not the server says where, nothing of the file stays, the
history row has the file's real duration, and a file of many messages is still one
transaction."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from dbmigrator.engine.clisplit import split_like_cli
from tests.helpers import CLI, query, run_cli, write_set

INIT = {"001_init.sql": "create table public.accounts (id int primary key, email text);\n"}


def _tables(dsn: str) -> set[object]:
    return {r[0] for r in query(dsn, "select tablename from pg_tables where schemaname = 'public'")}


@pytest.mark.parametrize(
    ("failing", "line", "sqlstate"),
    [
        # Errors raised while executing: the server gives no position.
        ("insert into public.accounts values (1, 'again');", 5, "23505"),
        ("select 1 / 0;", 5, "22012"),
        ("do $$ begin\n  raise exception 'stop here';\nend $$;", 5, "P0001"),
        # Found while analysing: the server's position is in the whole message.
        ("select email,\n  nope\nfrom public.accounts;", 6, "42703"),
    ],
)
def test_a_failure_is_reported_at_its_statements_line(
    dsn: str, tmp_path: Path, failing: str, line: int, sqlstate: str
) -> None:
    d = write_set(tmp_path / "m", {**INIT, "002_orders.sql": (
        "create table public.orders (id int primary key); -- trailing comment\n"
        "insert into public.accounts values (1, 'a');\n"
        "-- a comment between statements\n"
        "\n"
        f"{failing}\n"
        "create table public.never (id int);\n"
    )})  # fmt: skip
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    error = json.loads(out.stdout)["error"]
    assert (error["file"], error["line"], error["sqlstate"]) == ("002_orders.sql", line, sqlstate)
    assert _tables(dsn) == {"accounts"}  # the file's table is gone with it
    assert query(dsn, "select count(*) from public.accounts") == [(0,)]
    history = query(dsn, "select version, success, error from supabase_migrations."
                         "dbmigrator_history order by id")  # fmt: skip
    assert history[-1][:2] == ("002", False) and history[-1][2]
    # The connection is usable after the failed message: a fixed file goes through.
    (d / "002_orders.sql").write_text("create table public.orders (id int primary key);\n")
    again = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert again.returncode == 0, again.output


def test_a_large_file_is_several_messages_and_still_one_transaction(
    dsn: str, tmp_path: Path
) -> None:
    rows = [f"insert into public.parts values ({i}, '{'Größe ✓ ' * 40}{i}');" for i in range(3000)]
    text = "create table public.parts (id int primary key, name text);\n" + "\n".join(rows)
    assert len(text) > 2 * 256 * 1024  # at least three messages
    bad_line = text.count("\n") + 2
    d = write_set(tmp_path / "m", {**INIT, "002_parts.sql": text + "\ninsert into public.parts "
                                   "values (7, 'duplicate');\n"})  # fmt: skip
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    error = json.loads(out.stdout)["error"]
    assert (error["line"], error["sqlstate"]) == (bad_line, "23505")
    assert _tables(dsn) == {"accounts"}  # the earlier messages were rolled back with it
    (d / "002_parts.sql").write_text(text + "\n")
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 0, out.output
    assert query(dsn, "select count(*), count(distinct name) from public.parts") == [(3000, 3000)]


def test_the_history_row_has_the_files_duration(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**INIT, "002_slow.sql": "select pg_sleep(0.4);\n"})
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 0, out.output
    applied = {m["version"]: m for m in json.loads(out.stdout)["applied"]}
    ((recorded,),) = query(dsn, "select duration_ms from supabase_migrations.dbmigrator_history "
                                "where version = '002' and success")  # fmt: skip
    assert 400 <= recorded <= applied["002"]["durationMs"] + 50


def test_the_tracking_row_keeps_every_statement_as_written(dsn: str, tmp_path: Path) -> None:
    text = (
        "-- quotes, backslashes, braces and words PostgreSQL's array syntax reads specially\n"
        "create table public.notes (body text);\n"
        "insert into public.notes values ('a \"quoted\" {x,y} \\ back\\slash');\n"
        "insert into public.notes values (E'NULL'), ('null'), ('');\n"
        "select ' spaced ', 'é ✓';\n"
        "-- a last comment is a statement of its own for the Supabase CLI\n"
    )
    d = write_set(tmp_path / "m", {**INIT, "002_notes.sql": text})
    out = run_cli("up", "--dir", str(d), "-o", "json", dsn=dsn)
    assert out.returncode == 0, out.output
    ((statements,),) = query(dsn, "select statements from supabase_migrations.schema_migrations "
                                  "where version = '002'")  # fmt: skip
    assert statements == list(split_like_cli(text)) and len(statements) == 5


def test_a_running_message_names_its_file_in_pg_stat_activity(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {**INIT, "002_slow.sql": "-- waits\nselect pg_sleep(3);\n"})
    proc = subprocess.Popen([str(CLI), "up", "--dir", str(d), "-o", "json"],
                            env={**os.environ, "DATABASE_URL": dsn},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: list[object] = []
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline and proc.poll() is None:
        seen = [r[0] for r in query(dsn, "select query from pg_stat_activity where pid <> "
                                         "pg_backend_pid() and query like '%pg_sleep(3)%'")]  # fmt: skip
        time.sleep(0.1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert seen and str(seen[0]).startswith(
        "/* dbmigrator up 002_slow.sql:2, statements 1-1 of 1 */\nBEGIN"
    ), seen
