"""Real Supabase projects: a project's migrations in the style of public Supabase projects after
`bootstrap`, the preflight, tracking integrity beside the Supabase CLI, named warnings and
publication membership. On PostgreSQL 15 and 17 (the `dsn` fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from dbmigrator.engine.clisplit import split_like_cli
from tests.helpers import query, run_cli, write_set

SET = Path(__file__).resolve().parent / "supabase_style"
V = ["20250101000000", "20250101000100", "20250101000200", "20250101000300"]
USER_1 = "00000000-0000-0000-0000-0000000000a1"
USER_2 = "00000000-0000-0000-0000-0000000000a2"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the set, so a test may edit its files."""
    return Path(shutil.copytree(SET, tmp_path / "migrations"))


def _bootstrap(dsn: str) -> None:
    result = run_cli("bootstrap", dsn=dsn)
    assert result.returncode == 0, result.output


def _as_the_cli_would(dsn: str, directory: Path, version: str) -> None:
    """What `supabase migration up` does for one file: its statements and the tracking row in
    one transaction, the row holding the statements as the CLI split them, no history."""
    (path,) = directory.glob(f"{version}_*[!n].sql")
    statements = list(split_like_cli(path.read_text()))
    name = path.stem.split("_", 1)[1]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement.encode())
        cur.execute("CREATE SCHEMA IF NOT EXISTS supabase_migrations")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations "
            "(version text PRIMARY KEY, statements text[], name text)"
        )
        cur.execute(
            "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) "
            "VALUES (%s, %s, %s)",
            [version, name, statements],
        )


def _claims(conn: psycopg.Connection[tuple[object, ...]], user: str) -> None:
    conn.execute("SET LOCAL ROLE authenticated")
    conn.execute(
        "SELECT set_config('request.jwt.claims', %s, true)",
        [json.dumps({"sub": user, "role": "authenticated", "email": "a@example.com"})],
    )


def test_project_runs_after_bootstrap_and_its_objects_work(dsn: str, project: Path) -> None:
    _bootstrap(dsn)
    up = run_cli("up", "--dir", str(project), "-o", "json", dsn=dsn)
    assert up.returncode == 0, up.output
    result = json.loads(up.stdout)
    assert [a["version"] for a in result["applied"]] == V
    assert result["validation"]["passed"] is True

    user_meta = json.dumps({"full_name": "Ada"})
    query(dsn, "insert into auth.users (id, email, raw_user_meta_data) values (%s, 'a@x', %s), "
          "(%s, 'b@x', '{}')", USER_1, user_meta, USER_2)  # fmt: skip
    assert query(dsn, "select full_name from public.profiles where id = %s", USER_1) == [("Ada",)]
    org = query(dsn, "insert into public.organizations (name, slug) values ('A', 'a') returning id")
    token = query(dsn, "insert into public.invitations (organization_id, email) values (%s, "
                  "'c@x') returning token", org[0][0])[0][0]  # fmt: skip
    assert isinstance(token, str) and len(token) == 36  # gen_random_bytes(18), hex
    hook = query(dsn, "select public.custom_access_token_hook(%s::jsonb)",
                 json.dumps({"user_id": USER_1, "claims": {"sub": USER_1}}))[0][0]  # fmt: skip
    assert hook["claims"]["org_count"] == 0  # type: ignore[index]

    with psycopg.connect(dsn) as conn:  # Storage: own folder yes, someone else's no
        with conn.transaction(force_rollback=True):
            _claims(conn, USER_1)
            conn.execute("insert into storage.objects (bucket_id, name) values ('avatars', %s)",
                         [f"{USER_1}/me.png"])  # fmt: skip
        with conn.transaction(force_rollback=True):
            _claims(conn, USER_1)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    "insert into storage.objects (bucket_id, name) values ('avatars', %s)",
                    [f"{USER_2}/me.png"],
                )


def test_bootstrap_is_what_the_project_needs(dsn: str, project: Path) -> None:
    """Without bootstrap the preflight names the first file and line that needs Supabase."""
    plan = run_cli("plan", "--dir", str(project), dsn=dsn)
    assert plan.returncode == 2, plan.output
    text = " ".join(plan.output.split())
    assert "20250101000000_tenants.sql:9: ERROR" not in text
    assert '20250101000000_tenants.sql:9: preflight: schema "auth" does not exist' in text
    assert "dbmigrator bootstrap" in text
    _bootstrap(dsn)
    assert run_cli("plan", "--dir", str(project), dsn=dsn).returncode == 0
    # Roles migrations grant to exist, and extensions resolve unqualified in new sessions.
    roles = query(dsn, "select rolname from pg_roles where rolname like any (array['supabase%', "
                  "'authenticator', 'dashboard_user']) order by 1")  # fmt: skip
    assert {r[0] for r in roles} >= {"supabase_admin", "supabase_auth_admin",
                                     "supabase_storage_admin", "authenticator", "dashboard_user"}  # fmt: skip
    assert query(dsn, "select length(gen_random_bytes(4))") == [(4,)]
    assert query(
        dsn, "select relrowsecurity from pg_class where oid = 'storage.objects'::regclass"
    ) == [(True,)]


def test_preflight_refuses_missing_extensions_and_schemas_before_anything_runs(
    dsn: str, project: Path
) -> None:
    _bootstrap(dsn)
    write_set(project, {
        "20250102000000_search.sql": "-- embeddings\ncreate extension if not exists vector "
                                     "with schema extensions;\ncreate extension if not exists http;\n",
        "20250102000100_billing.sql": "create table billing.invoices (id int primary key);\n",
    })  # fmt: skip
    for command in ("plan", "up"):
        result = run_cli(command, "--dir", str(project), "-o", "json", dsn=dsn)
        assert result.returncode == 2, result.output
        error = json.loads(result.stdout)["error"]
        assert (error["kind"], error["file"], error["line"]) == (
            "input",
            "20250102000000_search.sql",
            2,
        )
        assert 'extension "vector" is not available' in error["message"]
        assert '20250102000000_search.sql:3: extension "http"' in error["message"]
        assert '20250102000100_billing.sql:1: schema "billing"' in error["message"]
        assert "http, vector: Supabase hosts these" in error["hint"]
    assert query(dsn, "select count(*) from supabase_migrations.schema_migrations") == [(0,)]


def test_statements_are_recorded_as_the_cli_records_them(dsn: str, project: Path) -> None:
    _bootstrap(dsn)
    assert run_cli("up", "--dir", str(project), dsn=dsn).returncode == 0
    rows = query(
        dsn, "select version, statements from supabase_migrations.schema_migrations order by 1"
    )
    for version, statements in rows:
        (path,) = project.glob(f"{version}_*[!n].sql")
        assert tuple(statements) == split_like_cli(path.read_text())  # type: ignore[arg-type]
    first = rows[0][1][0]  # type: ignore[index]
    assert first.startswith("-- Multi-tenant core") and not first.endswith(";")


def test_rows_the_cli_wrote_are_verified_by_their_statements(dsn: str, project: Path) -> None:
    _bootstrap(dsn)
    for version in V[:2]:
        _as_the_cli_would(dsn, project, version)
    status = run_cli("status", "--dir", str(project), "-o", "json", dsn=dsn)
    assert status.returncode == 0, status.output
    applied = json.loads(status.stdout)["applied"]
    assert [(a["version"], a["recordedBy"], a["checksum"]) for a in applied] == [
        (V[0], "external", None), (V[1], "external", None)]  # fmt: skip
    text = run_cli("status", "--dir", str(project), dsn=dsn)
    assert "(other tool)" in text.stdout and "orded" not in text.stdout

    # dbmigrator continues where the CLI stopped.
    assert run_cli("up", "--dir", str(project), dsn=dsn).returncode == 0

    tenants = next(project.glob(f"{V[0]}_*.sql"))
    tenants.write_text(tenants.read_text().replace("slug text not null unique", "slug text"))
    drift = run_cli("status", "--dir", str(project), "-o", "json", dsn=dsn)
    assert drift.returncode == 1, drift.output
    (item,) = json.loads(drift.stdout)["drift"]
    assert (item["version"], item["by"]) == (V[0], "statements")
    assert "statement 1 differs" in item["current"]
    up = run_cli("up", "--dir", str(project), "-o", "json", dsn=dsn)
    assert up.returncode == 1 and json.loads(up.stdout)["error"]["kind"] == "drift"
    # Accepting it makes the row ours, with a checksum.
    assert (
        run_cli("repair", "--dir", str(project), "--status", "applied", V[0], dsn=dsn).returncode
        == 0
    )
    assert run_cli("status", "--dir", str(project), dsn=dsn).returncode == 0


def test_a_version_readded_outside_after_down_is_reported_not_trusted(
    dsn: str, project: Path
) -> None:
    _bootstrap(dsn)
    assert run_cli("up", "--dir", str(project), dsn=dsn).returncode == 0
    assert run_cli("down", "--dir", str(project), "--target", V[2], dsn=dsn).returncode == 0
    # `supabase migration repair --status applied V`: a row, no SQL run, no history of ours.
    path = next(project.glob(f"{V[3]}_*[!n].sql"))
    query(dsn, "insert into supabase_migrations.schema_migrations (version, name, statements) "
          "values (%s, 'realtime_messages', %s)", V[3], list(split_like_cli(path.read_text())))  # fmt: skip

    status = run_cli("status", "--dir", str(project), "-o", "json", dsn=dsn)
    assert status.returncode == 1, status.output
    (readded,) = json.loads(status.stdout)["readded"]
    assert readded["version"] == V[3] and readded["removedBy"].startswith("down at ")
    assert "marked applied again outside dbmigrator" in readded["message"]
    text = run_cli("status", "--dir", str(project), dsn=dsn)
    assert "re-added outside dbmigrator" in " ".join(text.stdout.split())

    up = run_cli("up", "--dir", str(project), "-o", "json", dsn=dsn)
    assert up.returncode == 1
    error = json.loads(up.stdout)["error"]
    assert error["kind"] == "drift" and "repair --status reverted" in error["hint"]
    assert query(dsn, "select to_regclass('public.messages')") == [(None,)]

    assert (
        run_cli("repair", "--dir", str(project), "--status", "reverted", V[3], dsn=dsn).returncode
        == 0
    )
    again = run_cli("up", "--dir", str(project), "-o", "json", dsn=dsn)
    assert again.returncode == 0, again.output
    assert [a["version"] for a in json.loads(again.stdout)["applied"]] == [V[3]]
    assert query(dsn, "select to_regclass('public.messages') is not null") == [(True,)]


def test_warnings_are_named_and_publication_members_checked(dsn: str, project: Path) -> None:
    _bootstrap(dsn)
    assert run_cli("up", "--dir", str(project), dsn=dsn).returncode == 0
    # Someone adds a table by hand: no RLS, a foreign key without an index.
    query(dsn, "create table public.notes (id int primary key, "
          "organization_id uuid references public.organizations (id))")  # fmt: skip
    result = run_cli("validate", "--dir", str(project), "-o", "json", dsn=dsn)
    assert result.returncode == 0, result.output
    validation = json.loads(result.stdout)["validation"]
    named = {(w["check"], w["target"]) for w in validation["warningDetails"]}
    assert ("fk-index", "notes.notes_organization_id_fkey") in named
    assert ("rls-exposed", "public.notes") in named
    assert validation["warnings"] == len(validation["warningDetails"])
    text = run_cli("validate", "--dir", str(project), dsn=dsn)
    assert "Warnings" in text.stdout and "notes_organization_id_fkey" in text.stdout

    # An outside change takes tables out of the Realtime publication: the one the file adds
    # statically and the one the DO block adds (declared in checks.yaml) are both missed.
    query(dsn, "alter publication supabase_realtime drop table public.messages, public.presence")
    failed = run_cli("validate", "--dir", str(project), "-o", "json", dsn=dsn)
    assert failed.returncode == 1
    targets = {f["target"] for f in json.loads(failed.stdout)["validation"]["failures"]}
    assert targets == {"table public.messages in publication supabase_realtime",
                       "table public.presence in publication supabase_realtime"}  # fmt: skip


def test_bootstrap_never_touches_a_real_supabase_database(dsn: str) -> None:
    query(dsn, "create schema auth; create table auth.schema_migrations (version text)")
    result = run_cli("bootstrap", "-o", "json", dsn=dsn)
    assert result.returncode == 0, result.output
    assert "auth.schema_migrations exists" in json.loads(result.stdout)["warnings"][0]
    assert query(dsn, "select to_regnamespace('storage'), to_regclass('auth.users')") == [
        (None, None)
    ]
