"""Live-schema drift against a real PostgreSQL: the snapshot recorded after each run, `dbmigrator
drift`, `up --drift fail|warn`, exclusions, and stability across a dump and restore."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from dbmigrator.engine.backup import find_tool
from dbmigrator.engine.snapshot import fetch_snapshot
from localpg import LocalPostgres, server_bindir
from tests.helpers import REPO, query, run_cli, write_set
from tests.integration.conftest import MAJORS, _fresh_database

SHOP = str(REPO / "migrations")
SNAPSHOTS = "supabase_migrations.dbmigrator_schema_snapshot"


def _shop(dsn: str, target: str = "008") -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0
    with (REPO / "tools" / "legacy_shop_seed.sql").open() as f:
        query(dsn, f.read())
    up = run_cli("up", "--dir", SHOP, "--target", target, dsn=dsn)
    assert up.returncode == 0, up.output


def _drift(dsn: str, *args: str) -> tuple[int, dict[str, object]]:
    out = run_cli("drift", "--dir", SHOP, "-o", "json", *args, dsn=dsn)
    assert out.returncode in (0, 1), out.output
    return out.returncode, json.loads(out.stdout)


def _messages(data: dict[str, object]) -> list[str]:
    items = data["drift"]
    assert isinstance(items, list)
    return [str(i["message"]) for i in items]


def test_no_baseline_before_the_first_run(dsn: str) -> None:
    text = run_cli("drift", "--dir", SHOP, dsn=dsn)
    assert text.returncode == 0, text.output
    assert "no baseline yet: run up first" in text.output
    code, data = _drift(dsn)
    assert code == 0
    assert data == {"command": "drift", "ok": True, "baseline": None, "drift": [], "count": 0}


def test_an_out_of_band_column_is_drift_until_a_run_records_it(dsn: str) -> None:
    _shop(dsn, "007")
    code, data = _drift(dsn)
    assert code == 0 and data["count"] == 0 and data["ok"] is True
    baseline = data["baseline"]
    assert isinstance(baseline, dict) and baseline["version"] == "007"
    assert len(str(baseline["sha256"])) == 64

    query(dsn, "ALTER TABLE public.categories ADD COLUMN sneaky int")
    text = run_cli("drift", "--dir", SHOP, dsn=dsn)
    assert text.returncode == 1, text.output
    assert text.stdout.splitlines()[0] == "public.categories: column sneaky added"
    code, data = _drift(dsn)
    assert code == 1 and data["ok"] is False and data["count"] == 1
    assert data["drift"] == [{"object": "public.categories", "kind": "column", "name": "sneaky",
                              "change": "added",
                              "message": "public.categories: column sneaky added"}]  # fmt: skip

    # plan shows it and does not fail
    plan = run_cli("plan", "--dir", SHOP, "-o", "json", dsn=dsn)
    assert plan.returncode == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["driftCount"] == 1 and planned["baseline"]["version"] == "007"
    assert _messages(planned) == ["public.categories: column sneaky added"]

    # --drift fail: refused before anything ran
    refused = run_cli("up", "--dir", SHOP, "--drift", "fail", "-o", "json", dsn=dsn)
    assert refused.returncode == 1, refused.output
    result = json.loads(refused.stdout)
    assert result["error"]["kind"] == "schema-drift"
    assert "public.categories: column sneaky added" in result["error"]["message"]
    assert result["driftCount"] == 1 and result["applied"] == []
    versions = query(dsn, "select max(version) from supabase_migrations.schema_migrations")
    assert versions[0][0] == "007"

    # --drift warn (the default): reported, then 008 runs and the baseline moves
    warned = run_cli("up", "--dir", SHOP, "-o", "json", dsn=dsn)
    assert warned.returncode == 0, warned.output
    result = json.loads(warned.stdout)
    assert [a["version"] for a in result["applied"]] == ["008"]
    assert result["driftCount"] == 1
    assert result["drift"][0]["message"] == "public.categories: column sneaky added"
    assert "drift: public.categories: column sneaky added" in warned.stderr
    code, data = _drift(dsn)
    assert code == 0 and data["count"] == 0
    assert isinstance(data["baseline"], dict) and data["baseline"]["version"] == "008"

    # --drift ignore does not look; down records a baseline too
    query(dsn, "ALTER TABLE public.categories DROP COLUMN sneaky")
    down = run_cli("down", "--dir", SHOP, "--target", "007", "--drift", "ignore", "-o", "json",
                   dsn=dsn)  # fmt: skip
    assert down.returncode == 0, down.output
    assert "driftCount" not in json.loads(down.stdout)
    code, data = _drift(dsn)
    assert code == 0 and isinstance(data["baseline"], dict) and data["baseline"]["version"] == "007"
    kept = query(dsn, f"select count(*), count(distinct operation) from {SNAPSHOTS}")
    assert kept[0][0] >= 3


def test_policy_index_grant_function_and_trigger_changes_are_named(
    dsn: str, tmp_path: Path
) -> None:
    _shop(dsn)
    query(dsn, "ALTER POLICY categories_select_public ON public.categories USING (slug <> '')")
    query(dsn, "DROP INDEX public.idx_payments_status")
    query(dsn, "GRANT SELECT ON public.orders TO PUBLIC")
    query(dsn, "REVOKE INSERT ON public.products FROM anon")
    query(dsn, "ALTER TABLE public.payments DISABLE TRIGGER trg_payments_updated_at")
    query(
        dsn,
        """CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
        LANGUAGE plpgsql SET search_path = public, pg_temp
        AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END; $$""",
    )
    query(dsn, 'CREATE TABLE public."tmp scratch" (id int)')
    code, data = _drift(dsn)
    assert code == 1
    assert _messages(data) == [
        'public."tmp scratch": table added',
        "public.categories: policy categories_select_public changed (using)",
        "public.orders: grant SELECT to PUBLIC added",
        "public.payments: index idx_payments_status dropped",
        "public.payments: trigger trg_payments_updated_at changed (enabled)",
        "public.products: grant INSERT to anon dropped",
        "public.set_updated_at(): function body changed",
    ]
    assert data["count"] == 7

    # excluded by --exclude and by the checks file's drift.exclude
    code, data = _drift(dsn, "--exclude", "public.tmp *", "--exclude", "public.pay*")
    assert code == 1 and data["count"] == 4
    checks = tmp_path / "checks.yaml"
    checks.write_text("drift:\n  exclude: ['public.*']\n")
    code, data = _drift(dsn, "--checks", str(checks))
    assert code == 0 and data["count"] == 0
    bad = run_cli("drift", "--dir", SHOP, "--exclude", "nodot", dsn=dsn)
    assert bad.returncode == 2 and "schema.object" in bad.output

    # --accept records the live schema as the baseline
    accepted = run_cli("drift", "--dir", SHOP, "--accept", dsn=dsn)
    assert accepted.returncode == 0, accepted.output
    assert _drift(dsn)[0] == 0


def test_the_snapshot_is_stable_across_dump_and_restore(
    dsn: str, other_dsn: str, tmp_path: Path
) -> None:
    _shop(dsn)
    backup = run_cli("backup", "--dir", SHOP, "--out", str(tmp_path / "b.dump"), "-o", "json",
                     dsn=dsn)  # fmt: skip
    assert backup.returncode == 0, backup.output
    dump = json.loads(backup.stdout)["backup"]["file"]
    recorded = query(dsn, f"select sha256 from {SNAPSHOTS} order by id desc limit 1")[0][0]

    # Into another database with pg_restore itself: the restored baseline matches the live schema.
    with psycopg.connect(other_dsn) as conn:
        major = conn.info.server_version // 10000
    restore = subprocess.run(
        [find_tool("pg_restore", major), "--no-owner", "--dbname", other_dsn, dump],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "dbmigrator_schema_snapshot" not in restore.stderr, restore.stderr
    code, data = _drift(other_dsn)
    assert code == 0 and data["count"] == 0, data
    assert isinstance(data["baseline"], dict) and data["baseline"]["sha256"] == recorded
    with psycopg.connect(dsn) as a, psycopg.connect(other_dsn) as b:
        assert fetch_snapshot(a, ["public"]).sha256 == fetch_snapshot(b, ["public"]).sha256

    # Out-of-band change, then the engine's restore: the baseline it records is the original.
    query(dsn, "ALTER TABLE public.categories ADD COLUMN sneaky int")
    assert _drift(dsn)[0] == 1
    restored = run_cli("restore", "--dir", SHOP, "--from", dump, "--yes", dsn=dsn)
    assert restored.returncode == 0, restored.output
    assert _drift(dsn)[0] == 0
    after = query(dsn, f"select sha256, operation from {SNAPSHOTS} order by id desc limit 1")[0]
    assert after == (recorded, "restore")


RICH = {
    "001_a.sql": "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int);",
    "002_b.sql": """
        CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN public.positive AS int NOT NULL CHECK (VALUE > 0);
        CREATE TYPE public.pair AS (a int, b text);
        CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            body text COLLATE "C", mood public.mood DEFAULT 'ok', n public.positive,
            len int GENERATED ALWAYS AS (length(body)) STORED);
        CREATE SEQUENCE public.counter START 5 INCREMENT 2 CACHE 3;
        CREATE VIEW public.happy_notes AS SELECT id, body FROM public.notes WHERE mood = 'happy';
        CREATE MATERIALIZED VIEW public.note_counts AS SELECT mood, count(*) FROM public.notes GROUP BY 1;
        CREATE INDEX notes_body_idx ON public.notes (lower(body)) WHERE body IS NOT NULL;
        CREATE FUNCTION public.two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 2; END;
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY "read all" ON public.notes FOR SELECT TO PUBLIC USING (true);
        GRANT SELECT (body) ON public.notes TO PUBLIC;
        REVOKE EXECUTE ON FUNCTION public.two() FROM PUBLIC;
    """,
}


def test_managed_schemas_are_the_files_schemas_and_never_the_engines(
    dsn: str, other_dsn: str, tmp_path: Path
) -> None:
    files = write_set(tmp_path / "m", RICH)
    up = run_cli("up", "--dir", str(files), dsn=dsn)
    assert up.returncode == 0, up.output
    data = query(dsn, f"select snapshot->'schemas' from {SNAPSHOTS} order by id desc limit 1")
    assert data[0][0] == ["billing", "public"]

    # every kind survives a dump and restore unchanged
    dump = tmp_path / "rich.dump"
    with psycopg.connect(dsn) as conn:
        major = conn.info.server_version // 10000
    env = {**os.environ, "PGPASSWORD": ""}
    subprocess.run([find_tool("pg_dump", major), "-Fc", "-f", str(dump), dsn], check=True, env=env)
    subprocess.run([find_tool("pg_restore", major), "--no-owner", "--dbname", other_dsn, str(dump)],
                   capture_output=True, env=env)  # fmt: skip
    code, restored = _drift(other_dsn)
    assert code == 0 and restored["count"] == 0, restored
    assert isinstance(restored["baseline"], dict) and restored["baseline"]["version"] == "002"

    query(dsn, "CREATE TABLE billing.extra (id int)")
    query(dsn, "CREATE TABLE supabase_migrations.other (id int)")  # not managed
    query(dsn, "CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.t (id int)")  # not managed
    query(dsn, "ALTER TYPE public.mood ADD VALUE 'angry'")
    query(dsn, "CREATE OR REPLACE VIEW public.happy_notes AS SELECT id, body FROM public.notes")
    query(dsn, "ALTER SEQUENCE public.counter INCREMENT 3")
    query(dsn, "GRANT SELECT (mood) ON public.notes TO PUBLIC")
    out = run_cli("drift", "--dir", str(files), dsn=dsn)
    assert out.returncode == 1, out.output
    assert [line for line in out.stdout.splitlines() if ": " in line] == [
        "billing.extra: table added",
        "public.counter: sequence changed (increment)",
        "public.happy_notes: view changed (definition)",
        "public.mood: type changed (labels)",
        "public.notes: grant SELECT (mood) to PUBLIC added",
    ]


def test_the_snapshot_is_identical_on_postgresql_15_and_17(pg_server: LocalPostgres) -> None:
    """The same migrations give the same snapshot (sha256) on both majors: a baseline survives
    an upgrade. Runs once, with the first major's server, starting the other one here."""
    if sorted(MAJORS) != [15, 17] or pg_server.major != 15:
        pytest.skip("needs both majors (DBMIGRATOR_TEST_PG_MAJORS=15,17); runs once, with pg15")
    shas = []
    with LocalPostgres(bindir=server_bindir(17)) as pg17:
        for server in (pg_server, pg17):
            with _fresh_database(server, "x") as url:
                _shop(url)
                with psycopg.connect(url) as conn:
                    shas.append(fetch_snapshot(conn, ["public"]).sha256)
    assert shas[0] == shas[1]
