"""Approvals bound to the plan, against a real PostgreSQL: `plan` prints a hash (text, JSON and
the termination log), `up`/`down`/`rehearse --expect-plan HASH` run exactly that plan and refuse
(PlanChanged, exit 1, nothing changed) when a file in the range changed after approval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import query, run_cli, write_set

FILES = {
    "001_items.sql": "create table public.items (id int primary key, name text);\n",
    "001_items.down.sql": "drop table public.items;\n",
    "002_tags.sql": "create table public.tags (id int primary key);\n",
    "002_tags.down.sql": "drop table public.tags;\n",
    "003_notes.sql": "alter table public.items add column note text;\n",
    "003_notes.down.sql": "alter table public.items drop column note;\n",
}


def _plan(directory: Path, dsn: str, *extra: str) -> dict[str, object]:
    out = run_cli("plan", "--dir", str(directory), "-o", "json", *extra, dsn=dsn)
    assert out.returncode == 0, out.output
    plan: dict[str, object] = json.loads(out.stdout)["plan"]
    return plan


def _tables(dsn: str) -> set[str]:
    rows = query(dsn, "select tablename from pg_tables where schemaname = 'public'")
    return {str(r[0]) for r in rows}


def test_plan_prints_its_hash_and_up_runs_only_that_plan(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", FILES)
    log = tmp_path / "termination-log"
    out = run_cli("plan", "--dir", str(d), "--target", "002", "-o", "json",
                  "--termination-log", str(log), dsn=dsn)  # fmt: skip
    assert out.returncode == 0, out.output
    plan = json.loads(out.stdout)["plan"]
    assert plan["direction"] == "up" and plan["targetVersion"] == "002"
    assert [f["name"] for f in plan["files"]] == ["001_items.sql", "002_tags.sql"]
    assert plan["fileCount"] == 2 and plan["hash"].startswith("sha256:")
    # The Job's result document carries the same plan (what the operator reads).
    result = json.loads(log.read_text())
    assert result["command"] == "plan" and result["plan"]["hash"] == plan["hash"]
    assert result["currentVersion"] == "0"
    text = run_cli("plan", "--dir", str(d), "--target", "002", dsn=dsn)
    assert f"Plan hash: {plan['hash']}" in text.stdout
    assert f"dbmigrator up --target 002 --expect-plan {plan['hash']}" in text.stdout
    # Stable: planning again (another process, another moment) gives the same hash.
    assert _plan(d, dsn, "--target", "002")["hash"] == plan["hash"]

    up = run_cli("up", "--dir", str(d), "--target", "002", "--expect-plan", str(plan["hash"]),
                 "--no-validate", dsn=dsn)  # fmt: skip
    assert up.returncode == 0, up.output
    assert {"items", "tags"} <= _tables(dsn)


def test_a_file_changed_after_approval_is_refused_before_anything_runs(
    dsn: str, tmp_path: Path
) -> None:
    d = write_set(tmp_path / "m", FILES)
    approved = str(_plan(d, dsn)["hash"])
    (d / "002_tags.sql").write_text("create table public.tags (id int primary key, x int);\n")
    up = run_cli("up", "--dir", str(d), "--expect-plan", approved, "-o", "json", dsn=dsn)
    assert up.returncode == 1, up.output
    error = json.loads(up.stdout)["error"]
    assert error["kind"] == "plan"
    assert f"the approved plan {approved[:19]} (up 0 -> 003)" in error["message"]
    assert "002_tags.sql (sha256:" in error["message"]
    assert "compute the plan again" in error["hint"]
    assert not ({"items", "tags"} & _tables(dsn)), "nothing may run"
    # The plan of the files as they are now runs.
    assert run_cli("up", "--dir", str(d), "--expect-plan", str(_plan(d, dsn)["hash"]),
                   "--no-validate", dsn=dsn).returncode == 0  # fmt: skip


def test_a_database_that_moved_since_the_plan_is_refused(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", FILES)
    plan = _plan(d, dsn, "--target", "003")
    assert (
        run_cli("up", "--dir", str(d), "--target", "001", "--no-validate", dsn=dsn).returncode == 0
    )
    # The operator's way: the approved range is given; the database is no longer at its start.
    up = run_cli("up", "--dir", str(d), "--target", "003", "--expect-plan", str(plan["hash"]),
                 "--plan-from", "0", "--plan-target", "003", "--no-validate", "-o", "json",
                 dsn=dsn)  # fmt: skip
    assert up.returncode == 0, "inside the approved range (0, 003]: 002 and 003 run"
    down_plan = _plan(d, dsn, "--down", "--target", "001")
    assert down_plan["direction"] == "down"
    assert [f["name"] for f in down_plan["files"]] == ["003_notes.down.sql", "002_tags.down.sql"]
    wrong = run_cli("down", "--dir", str(d), "--target", "000", "--expect-plan",
                    str(down_plan["hash"]), "--plan-from", "003", "--plan-target", "001",
                    "-o", "json", dsn=dsn)  # fmt: skip
    assert wrong.returncode == 1
    assert (
        "version(s) 001, outside the approved plan" in json.loads(wrong.stdout)["error"]["message"]
    )
    assert "items" in _tables(dsn)
    ok = run_cli("down", "--dir", str(d), "--target", "001", "--expect-plan",
                 str(down_plan["hash"]), "--no-validate", dsn=dsn)  # fmt: skip
    assert ok.returncode == 0, ok.output
    assert "tags" not in _tables(dsn) and "items" in _tables(dsn)


def test_flags_are_checked_as_input(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", FILES)
    bad = run_cli("up", "--dir", str(d), "--expect-plan", "sha256:abc", dsn=dsn)
    assert bad.returncode == 2 and "expected sha256:<64 hex digits>" in bad.output
    alone = run_cli("up", "--dir", str(d), "--plan-from", "001", dsn=dsn)
    assert alone.returncode == 2 and "only go with --expect-plan" in alone.output
    down = run_cli("plan", "--dir", str(d), "--down", dsn=dsn)
    assert down.returncode == 2 and "plan --down needs --target" in down.output
