"""Tests of the example shop's SQL itself against a real PostgreSQL 15.

Covers: the Supabase bootstrap (idempotent, also on a Supabase-like database where the objects
exist and belong to someone else), the eight migrations (apply, re-apply changes nothing, down
in reverse removes everything, round trip), the legacy data migration (006), the role probes and
queries of migrations/checks.yaml, the RLS story with real rows, and that the guide's queries use
their indexes.

The server comes from the module-scoped ``_shop_pg`` fixture below (self-contained on purpose,
so a shared fixture can replace it later).
"""

# The fixture keeps its agreed name `_shop_pg` (to be swapped for the shared one) although the
# tests use its value, which PT019 would flag for an underscore-prefixed fixture.
# ruff: noqa: PT019

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pglast
import psycopg
import pytest
import yaml
from psycopg import sql

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "migrations"
BOOTSTRAP = ROOT / "operator" / "dbmigrator" / "sql" / "supabase_compat.sql"
LEGACY_SEED = ROOT / "tools" / "legacy_shop_seed.sql"
CHECKS = MIGRATIONS / "checks.yaml"
PG_BIN = Path(os.environ.get("DBMIGRATOR_PG_BIN", "/usr/lib/postgresql/15/bin"))

NAMES = [
    "001_create_core_tables",
    "002_create_order_system",
    "003_create_communication_system",
    "004_create_payment_system",
    "005_create_audit_system",
    "006_migrate_product_data",
    "007_enable_realtime",
    "008_create_admin_roles",
]
UPS = [MIGRATIONS / f"{n}.sql" for n in NAMES]
DOWNS = [MIGRATIONS / f"{n}.down.sql" for n in NAMES]
ALL_SQL_FILES = [*UPS, *DOWNS, BOOTSTRAP, LEGACY_SEED]

USER_1 = "00000000-0000-0000-0000-000000000001"
USER_2 = "00000000-0000-0000-0000-000000000002"


# --------------------------------------------------------------------------------------------
# PostgreSQL fixture
# --------------------------------------------------------------------------------------------


@dataclass
class _Server:
    host: str  # unix socket directory
    port: int
    superuser: str = "postgres"
    _counter: int = field(default=0)

    def conninfo(self, dbname: str, user: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=user or self.superuser, dbname=dbname
        )

    def connect(self, dbname: str, user: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(dbname, user), autocommit=True)

    def create_db(self, owner: str | None = None) -> str:
        self._counter += 1
        name = f"shop_{self._counter}_{uuid.uuid4().hex[:6]}"
        with self.connect("postgres") as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                stmt = sql.SQL("{} OWNER {}").format(stmt, sql.Identifier(owner))
            conn.execute(stmt)
        return name


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_pg_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: use the packaged `postgres` system user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def _shop_pg() -> Iterator[_Server]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    base = Path(tempfile.mkdtemp(prefix="shoppg_"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
    data = base / "data"
    port = _free_port()
    subprocess.run(
        _as_pg_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_pg_user(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    server = _Server(host=str(base), port=port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with server.connect("postgres"):
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        subprocess.run(
            _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def run_file(conn: psycopg.Connection[Any], path: Path) -> None:
    """Run one file the way the engine does: all its statements in one transaction."""
    text = path.read_text()
    with conn.transaction():
        conn.execute(text.encode())  # bytes: no client-side placeholder handling


def schema_dump(server: _Server, dbname: str) -> str:
    out = subprocess.run(
        [
            str(PG_BIN / "pg_dump"),
            "--schema-only",
            "--no-comments",
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.superuser,
            dbname,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # Recent pg_dump releases wrap the script in \restrict/\unrestrict with a random key.
    return "\n".join(
        line
        for line in out.stdout.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )


def row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [
        r[0]
        for r in conn.execute(
            "select tablename from pg_tables where schemaname in ('public') order by 1"
        )
    ]
    counts = {}
    for t in tables:
        q = sql.SQL("select count(*) from public.{}").format(sql.Identifier(t))
        counts[t] = conn.execute(q).fetchone()[0]
    counts["auth.users"] = conn.execute("select count(*) from auth.users").fetchone()[0]
    return counts


def snapshot(
    server: _Server, dbname: str, conn: psycopg.Connection[Any]
) -> tuple[str, dict[str, int]]:
    return schema_dump(server, dbname), row_counts(conn)


def fresh_shop(server: _Server, *, seed: bool = False, upto: int = 8) -> str:
    """A new database with bootstrap (+ legacy seed) + migrations 001..upto applied."""
    db = server.create_db()
    with server.connect(db) as conn:
        run_file(conn, BOOTSTRAP)
        if seed:
            run_file(conn, LEGACY_SEED)
        for up in UPS[:upto]:
            run_file(conn, up)
    return db


@dataclass
class ProbeResult:
    ok: bool
    detail: str


def run_probe(conn: psycopg.Connection[Any], probe: dict[str, Any]) -> ProbeResult:
    """The engine's probe semantics, with plain psycopg (autocommit connection)."""
    claims = {"role": probe["role"]} | (probe.get("claims") or {})
    conn.execute("BEGIN")
    try:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(probe["role"])))
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
        # Older PostgREST style too (the engine sets both).
        for key, value in claims.items():
            conn.execute("select set_config(%s, %s, true)", [f"request.jwt.claim.{key}", value])
        try:
            cur = conn.execute(probe["sql"].strip().rstrip(";").encode())
            rows = cur.fetchall() if cur.description else []
        except psycopg.Error as e:
            if probe["expect"] == "denied" and e.sqlstate == "42501":
                return ProbeResult(True, "denied")
            return ProbeResult(False, f"error {e.sqlstate}: {e}")
    finally:
        conn.execute("ROLLBACK")
    expect = probe["expect"]
    if expect == "denied":
        return ProbeResult(False, f"expected 42501, ran and returned {len(rows)} rows")
    if expect == "empty":
        return ProbeResult(not rows, f"{len(rows)} rows")
    if expect == "allowed":
        return ProbeResult(len(rows) >= probe.get("minRows", 0), f"{len(rows)} rows")
    return ProbeResult(False, f"unknown expect {expect!r}")


def load_checks() -> dict[str, Any]:
    data = yaml.safe_load(CHECKS.read_text())
    assert isinstance(data, dict)
    return data


def public_leftovers(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    """Everything the shop could have left in public (the legacy products table aside)."""
    q = {
        "relations": """
            select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relname not like 'products%'""",
        "functions": """
            select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public'""",
        "policies": """
            select tablename || '.' || policyname from pg_policies
            where schemaname = 'public' and tablename <> 'products'""",
        "triggers": """
            select t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and not t.tgisinternal""",
        "types": """
            select t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
            where n.nspname = 'public' and t.typrelid = 0 and t.typelem = 0
              and t.typname not like '%products%'""",
        "publication": """
            select tablename from pg_publication_tables where pubname = 'supabase_realtime'""",
    }
    return {k: [r[0] for r in conn.execute(v)] for k, v in q.items()}


def plan_index_names(conn: psycopg.Connection[Any], query: str) -> set[str]:
    plan = conn.execute(b"EXPLAIN (FORMAT JSON) " + query.encode()).fetchone()[0]
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Index Name" in node:
                names.add(node["Index Name"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(plan)
    return names


# --------------------------------------------------------------------------------------------
# Static checks
# --------------------------------------------------------------------------------------------


def test_expected_files_exist() -> None:
    for f in [*ALL_SQL_FILES, CHECKS, MIGRATIONS / "README.md"]:
        assert f.is_file(), f


@pytest.mark.parametrize("path", ALL_SQL_FILES, ids=lambda p: p.name)
def test_file_parses_with_postgres_grammar(path: Path) -> None:
    stmts = pglast.parser.parse_sql(path.read_text())
    assert stmts
    text = path.read_text()
    assert "\\i " not in text, "psql meta-commands are not allowed"
    assert "\\set" not in text, "psql meta-commands are not allowed"
    for raw in stmts:
        node = raw.stmt
        kind = type(node).__name__
        # The engine wraps each file in a transaction: no transaction control in the files.
        assert kind != "TransactionStmt", f"{path.name}: explicit BEGIN/COMMIT"
        assert kind != "CopyStmt", f"{path.name}: COPY"
        if kind == "IndexStmt":
            assert not node.concurrent, f"{path.name}: CREATE INDEX CONCURRENTLY"
            assert node.if_not_exists, f"{path.name}: CREATE INDEX without IF NOT EXISTS"
        if kind == "CreateStmt" and path in UPS:
            assert node.if_not_exists, f"{path.name}: CREATE TABLE without IF NOT EXISTS"
        if kind == "CreateFunctionStmt":
            assert node.replace, f"{path.name}: CREATE FUNCTION without OR REPLACE"


def test_checks_yaml_shape() -> None:
    checks = load_checks()
    # The engine's own parser accepts it (when the engine is importable).
    with contextlib.suppress(ImportError):
        from dbmigrator.engine.checksfile import parse_checks

        parsed = parse_checks(CHECKS.read_text(), str(CHECKS))
        assert len(parsed.role_probes) == len(checks["roleProbes"])
        assert parsed.security.require_rls_on_exposed_tables
    assert set(checks) == {"roleProbes", "queries", "security"}
    for p in checks["roleProbes"]:
        assert set(p) <= {"role", "claims", "sql", "expect", "minRows"}, p
        assert p["expect"] in {"allowed", "empty", "denied"}
    for q in checks["queries"]:
        assert set(q) == {"name", "sql", "maxDegradationPercent"}
    assert checks["security"] == {"requireRlsOnExposedTables": True}


# --------------------------------------------------------------------------------------------
# 1 + 6: bootstrap
# --------------------------------------------------------------------------------------------


def test_bootstrap_twice_on_fresh_database(_shop_pg: _Server) -> None:
    db = _shop_pg.create_db()
    with _shop_pg.connect(db) as conn:
        run_file(conn, BOOTSTRAP)
        first = snapshot(_shop_pg, db, conn)
        run_file(conn, BOOTSTRAP)
        assert snapshot(_shop_pg, db, conn) == first

        roles = dict(
            conn.execute(
                "select rolname, array[rolcanlogin, rolinherit, rolbypassrls] from pg_roles "
                "where rolname in ('anon','authenticated','service_role','authenticator')"
            ).fetchall()
        )
        assert roles == {  # [login, inherit, bypassrls]
            "anon": [False, False, False],
            "authenticated": [False, False, False],
            "service_role": [False, False, True],
            "authenticator": [True, False, False],
        }
        members = {
            r[0]
            for r in conn.execute(
                "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
                "join pg_roles u on u.oid = m.member where u.rolname = 'authenticator'"
            )
        }
        assert members == {"anon", "authenticated", "service_role"}
        exts = dict(
            conn.execute(
                "select e.extname, n.nspname from pg_extension e "
                "join pg_namespace n on n.oid = e.extnamespace"
            ).fetchall()
        )
        assert exts["uuid-ossp"] == exts["pgcrypto"] == exts["pg_trgm"] == "extensions"
        assert (
            conn.execute(
                "select count(*) from pg_publication where pubname = 'supabase_realtime'"
            ).fetchone()[0]
            == 1
        )

        # auth helpers read both PostgREST styles of claims.
        conn.execute("BEGIN")
        conn.execute("SET LOCAL ROLE authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            [json.dumps({"sub": USER_1, "role": "authenticated", "email": "a@b.c"})],
        )
        uid, role, email = conn.execute(
            "select auth.uid(), auth.role(), auth.jwt() ->> 'email'"
        ).fetchone()
        conn.execute("ROLLBACK")
        assert (str(uid), role, email) == (USER_1, "authenticated", "a@b.c")
        conn.execute("BEGIN")
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", [USER_2])
        assert str(conn.execute("select auth.uid()").fetchone()[0]) == USER_2
        conn.execute("ROLLBACK")
        # After a transaction the placeholder GUC reads '' -- must give NULL, not an error.
        assert conn.execute("select auth.uid(), auth.role(), auth.jwt()").fetchone() == (
            None,
            None,
            None,
        )


def test_bootstrap_again_after_all_migrations(_shop_pg: _Server) -> None:
    db = fresh_shop(_shop_pg, seed=True)
    with _shop_pg.connect(db) as conn:
        before = snapshot(_shop_pg, db, conn)
        run_file(conn, BOOTSTRAP)
        assert snapshot(_shop_pg, db, conn) == before


def test_bootstrap_on_supabase_like_database(_shop_pg: _Server) -> None:
    """Objects exist already and belong to supabase_admin; the migration role is a plain
    (non-superuser) `postgres`-like role, as on a hosted Supabase project."""
    admin_conn = _shop_pg.connect("postgres")
    with admin_conn:
        for stmt in (
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supabase_admin') "
            "THEN CREATE ROLE supabase_admin SUPERUSER NOLOGIN; END IF; END $$",
            # bootstrap creates a plain supabase_admin (roles are cluster-wide): the platform's
            # is a superuser.
            "ALTER ROLE supabase_admin SUPERUSER",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sb_postgres') "
            "THEN CREATE ROLE sb_postgres LOGIN CREATEROLE; END IF; END $$",
        ):
            admin_conn.execute(stmt)
    db = _shop_pg.create_db(owner="sb_postgres")
    with _shop_pg.connect(db) as conn:
        conn.execute("SET ROLE supabase_admin")
        run_file(conn, BOOTSTRAP)  # what the platform set up, owned by supabase_admin
        conn.execute("RESET ROLE")
        # What Supabase grants `postgres` on the platform's objects.
        for stmt in (
            "GRANT USAGE ON SCHEMA auth, extensions TO sb_postgres",
            "GRANT SELECT, REFERENCES ON auth.users TO sb_postgres",
            "ALTER PUBLICATION supabase_realtime OWNER TO sb_postgres",
        ):
            conn.execute(stmt)
    with _shop_pg.connect(db, user="sb_postgres") as conn:
        assert (
            conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]
            is False
        )
        run_file(conn, BOOTSTRAP)
        run_file(conn, BOOTSTRAP)
        for r in ("anon", "authenticated", "service_role"):
            assert conn.execute("select pg_has_role(current_user, %s, 'MEMBER')", [r]).fetchone()[
                0
            ], r
        # The shop migrations and the probes work as this role too.
        run_file(conn, LEGACY_SEED)
        for up in UPS:
            run_file(conn, up)
        for up in UPS:
            run_file(conn, up)
        failures = [
            (p["sql"], r.detail)
            for p in load_checks()["roleProbes"]
            if not (r := run_probe(conn, p)).ok
        ]
        assert failures == []
        for down in reversed(DOWNS):
            run_file(conn, down)
        assert all(not v for v in public_leftovers(conn).values())


# --------------------------------------------------------------------------------------------
# 2: each up applies, and a second run changes nothing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [False, True], ids=["fresh", "legacy-seed"])
def test_each_up_is_idempotent(_shop_pg: _Server, seed: bool) -> None:
    db = _shop_pg.create_db()
    with _shop_pg.connect(db) as conn:
        run_file(conn, BOOTSTRAP)
        if seed:
            run_file(conn, LEGACY_SEED)
            before = snapshot(_shop_pg, db, conn)
            run_file(conn, LEGACY_SEED)
            assert snapshot(_shop_pg, db, conn) == before, "legacy seed is not idempotent"
        for up in UPS:
            run_file(conn, up)
            first = snapshot(_shop_pg, db, conn)
            run_file(conn, up)
            second = snapshot(_shop_pg, db, conn)
            assert second[1] == first[1], f"{up.name}: row counts changed on re-run"
            assert second[0] == first[0], f"{up.name}: schema changed on re-run"

        # The guide's "Verify Indexes" check: the indexes the queries rely on are there.
        idx = {
            r[0]
            for r in conn.execute(
                "select indexname from pg_indexes "
                "where schemaname = 'public' and indexname like 'idx_%'"
            )
        }
        assert {
            "idx_spare_parts_name_trgm",
            "idx_orders_user_id",
            "idx_notifications_user_unread",
            "idx_activity_logs_created_at",
            "idx_system_metrics_recorded_at",
        } <= idx
        # requireRlsOnExposedTables: every table in public has RLS on.
        no_rls = [
            r[0]
            for r in conn.execute(
                "select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'public' and c.relkind in ('r','p') and not c.relrowsecurity"
            )
        ]
        assert no_rls == []
        # Every foreign key has an index whose leading column is the FK column.
        uncovered = conn.execute("""
            select c.conrelid::regclass::text, a.attname
            from pg_constraint c
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
            where c.contype = 'f' and c.connamespace = 'public'::regnamespace
              and not exists (select 1 from pg_index i
                              where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1]
                                and i.indpred is null)
        """).fetchall()
        assert uncovered == []
        # Realtime publication membership.
        pub = {
            r[0]
            for r in conn.execute(
                "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
            )
        }
        assert pub == {"notifications", "messages", "orders"}
        assert (
            conn.execute(
                "select relreplident from pg_class where oid = 'public.notifications'::regclass"
            ).fetchone()[0]
            == "f"
        )


# --------------------------------------------------------------------------------------------
# 3: down in reverse order removes everything; round trip; downs are idempotent
# --------------------------------------------------------------------------------------------


def test_full_down_round_trip(_shop_pg: _Server) -> None:
    db = _shop_pg.create_db()
    with _shop_pg.connect(db) as conn:
        run_file(conn, BOOTSTRAP)
        empty_dump = schema_dump(_shop_pg, db)
        for up in UPS:
            run_file(conn, up)
        full_dump = schema_dump(_shop_pg, db)

        for down in reversed(DOWNS):
            run_file(conn, down)
            first = snapshot(_shop_pg, db, conn)
            run_file(conn, down)
            assert snapshot(_shop_pg, db, conn) == first, f"{down.name}: second run changed things"

        leftovers = public_leftovers(conn)
        assert all(not v for v in leftovers.values()), leftovers
        # Back exactly to the bootstrapped state (bootstrap objects untouched).
        assert schema_dump(_shop_pg, db) == empty_dump

        for up in UPS:
            run_file(conn, up)
        assert schema_dump(_shop_pg, db) == full_dump
        assert conn.execute("select count(*) from public.categories").fetchone()[0] == 6


# --------------------------------------------------------------------------------------------
# 4: the legacy data migration
# --------------------------------------------------------------------------------------------


def test_006_moves_legacy_products(_shop_pg: _Server) -> None:
    db = _shop_pg.create_db()
    with _shop_pg.connect(db) as conn:
        run_file(conn, BOOTSTRAP)
        run_file(conn, LEGACY_SEED)
        for up in UPS[:5]:
            run_file(conn, up)
        legacy = conn.execute("select count(*) from public.products").fetchone()[0]
        assert legacy >= 45

        run_file(conn, UPS[5])
        moved = conn.execute(
            "select count(*) from public.spare_parts where legacy_product_id is not null"
        ).fetchone()[0]
        assert moved == legacy
        # Every legacy row is there, with price in euros and its category mapped by name.
        mismatches = conn.execute("""
            select p.id from public.products p
            left join public.spare_parts s on s.legacy_product_id = p.id
            left join public.categories c on c.id = s.category_id
            where s.id is null
               or s.price <> round(p.price_cents / 100.0, 2)
               or s.name <> p.title
               or s.stock <> p.stock
               or lower(coalesce(c.name, '')) <> lower(coalesce(btrim(p.category), ''))
        """).fetchall()
        assert mismatches == []
        assert conn.execute(
            "select price from public.spare_parts where sku = 'ENG-1001'"
        ).fetchone()[0] == Decimal("45.90")
        # Case and whitespace variants map to the seeded categories; unknown ones are created.
        cats = {r[0] for r in conn.execute("select name from public.categories")}
        assert {"Cooling", "Transmission", "Brakes", "Electrical"} <= cats
        assert "brakes" not in cats
        assert "Electrical " not in cats
        # The reused legacy SKU got a suffix rather than being dropped.
        assert (
            conn.execute(
                "select count(*) from public.spare_parts where sku like 'FLT-3001%'"
            ).fetchone()[0]
            == 2
        )

        # Re-run: nothing new.
        run_file(conn, UPS[5])
        assert conn.execute("select count(*) from public.spare_parts").fetchone()[0] == moved

        # Down removes the copies and the categories 006 created; legacy table untouched.
        run_file(conn, DOWNS[5])
        assert conn.execute("select count(*) from public.spare_parts").fetchone()[0] == 0
        assert conn.execute("select count(*) from public.categories").fetchone()[0] == 6
        assert conn.execute("select count(*) from public.products").fetchone()[0] == legacy
        run_file(conn, DOWNS[5])

        # And again up: everything back.
        run_file(conn, UPS[5])
        assert conn.execute("select count(*) from public.spare_parts").fetchone()[0] == legacy


def test_006_is_a_noop_without_legacy_table(_shop_pg: _Server) -> None:
    db = fresh_shop(_shop_pg, upto=5)
    with _shop_pg.connect(db) as conn:
        before = snapshot(_shop_pg, db, conn)
        run_file(conn, UPS[5])
        assert snapshot(_shop_pg, db, conn) == before
        run_file(conn, DOWNS[5])
        assert snapshot(_shop_pg, db, conn) == before


def test_006_down_keeps_parts_that_were_ordered(_shop_pg: _Server) -> None:
    db = fresh_shop(_shop_pg, seed=True)
    with _shop_pg.connect(db) as conn:
        conn.execute("insert into auth.users(id, email) values (%s, 'u1@example.com')", [USER_1])
        order_id = conn.execute(
            "insert into public.orders(user_id) values (%s) returning id", [USER_1]
        ).fetchone()[0]
        conn.execute(
            """insert into public.order_items(order_id, spare_part_id, quantity, unit_price)
                        select %s, id, 1, price from public.spare_parts where sku = 'CLG-4001'""",
            [order_id],
        )
        run_file(conn, DOWNS[5])
        left = conn.execute("select sku from public.spare_parts").fetchall()
        assert left == [("CLG-4001",)]
        # Its category is still used, so it stays; the other imported one goes.
        cats = {r[0] for r in conn.execute("select name from public.categories")}
        assert "Cooling" in cats
        assert "Transmission" not in cats
        run_file(conn, UPS[5])  # re-up copes with the kept row
        assert conn.execute("select count(*) from public.spare_parts").fetchone()[0] == 50


# --------------------------------------------------------------------------------------------
# 5: checks.yaml probes and queries; indexes are used
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [False, True], ids=["fresh", "legacy-seed"])
def test_checks_yaml_probes_hold(_shop_pg: _Server, seed: bool) -> None:
    checks = load_checks()
    db = fresh_shop(_shop_pg, seed=seed)
    with _shop_pg.connect(db) as conn:
        failures = [
            (p["role"], p["sql"], p["expect"], r.detail)
            for p in checks["roleProbes"]
            if not (r := run_probe(conn, p)).ok
        ]
        assert failures == []
        for q in checks["queries"]:
            conn.execute(q["sql"].encode()).fetchall()
            conn.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) " + q["sql"].encode()).fetchall()


def test_probes_are_skippable_before_later_migrations(_shop_pg: _Server) -> None:
    """After 001 only, probes on existing tables hold (the engine skips the others)."""
    checks = load_checks()
    db = fresh_shop(_shop_pg, upto=1)
    with _shop_pg.connect(db) as conn:
        existing = {
            r[0]
            for r in conn.execute(
                "select 'public.' || tablename from pg_tables where schemaname = 'public'"
            )
        }
        for p in checks["roleProbes"]:
            referenced = {w.rstrip("(,;") for w in p["sql"].split() if w.startswith("public.")}
            if referenced <= existing:
                r = run_probe(conn, p)
                assert r.ok, (p, r.detail)


def test_guide_queries_use_their_indexes(_shop_pg: _Server) -> None:
    db = fresh_shop(_shop_pg)
    checks = {q["name"]: q["sql"] for q in load_checks()["queries"]}
    with _shop_pg.connect(db) as conn:
        conn.execute("""
            insert into public.spare_parts (sku, name, price, stock, category_id)
            select 'SKU-' || g,
                   (array['Brake pad set','Oil filter','Shock absorber','Radiator hose',
                          'Clutch kit','Wiper blade','Alternator','Ignition coil',
                          'Wheel bearing','Headlamp bulb'])[1 + g % 10]
                     || case when g % 97 = 0 then ' for engine block' else '' end
                     || ' type ' || g,
                   (g % 500) + 0.99, g % 40, null
            from generate_series(1, 20000) g
        """)
        conn.execute("""
            insert into auth.users (id, email)
            select ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                   'user' || g || '@example.com'
            from generate_series(1, 200) g
        """)
        conn.execute("""
            insert into public.notifications (user_id, type, title, read_at, created_at)
            select ('00000000-0000-0000-0000-' || lpad((1 + g % 200)::text, 12, '0'))::uuid,
                   'order', 'Order update ' || g,
                   case when g % 50 = 0 then null else now() - interval '1 day' end,
                   now() - (g || ' minutes')::interval
            from generate_series(1, 20000) g
        """)
        conn.execute("""
            insert into public.orders (user_id, status, total)
            select ('00000000-0000-0000-0000-' || lpad((1 + g % 200)::text, 12, '0'))::uuid,
                   'pending', g % 300
            from generate_series(1, 20000) g
        """)
        # VACUUM, not just ANALYZE: rows inserted after CREATE INDEX sit in the GIN pending list,
        # which the planner costs as a full scan of that list (it then prefers a seq scan).
        # Autovacuum flushes it in production; here we do it by hand.
        conn.execute("vacuum analyze public.spare_parts, public.notifications, public.orders")

        assert "idx_spare_parts_name_trgm" in plan_index_names(conn, checks["parts-search"])
        assert "idx_notifications_user_unread" in plan_index_names(
            conn, checks["unread-notifications"]
        )
        assert "idx_orders_user_id" in plan_index_names(conn, checks["orders-by-user"])
        # And they return the right rows.
        n = conn.execute(checks["parts-search"].encode()).fetchall()
        assert len(n) == 20000 // 97


# --------------------------------------------------------------------------------------------
# The RLS story with real rows (beyond what read-only probes can show)
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def as_user(conn: psycopg.Connection[Any], role: str, sub: str | None = None) -> Iterator[None]:
    claims = {"role": role} | ({"sub": sub} if sub else {})
    conn.execute("BEGIN")
    try:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        conn.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
        yield
    finally:
        conn.execute("ROLLBACK")


def test_rls_with_real_rows(_shop_pg: _Server) -> None:
    db = fresh_shop(_shop_pg, seed=True)
    with _shop_pg.connect(db) as conn:
        conn.execute(
            "insert into auth.users(id, email) values (%s, 'a@x'), (%s, 'b@x')", [USER_1, USER_2]
        )
        conn.execute(
            "insert into public.user_profiles(id, full_name) values (%s, 'A'), (%s, 'B')",
            [USER_1, USER_2],
        )
        conn.execute("update public.spare_parts set is_active = false where sku = 'MSC-8002'")
        o2 = conn.execute(
            "insert into public.orders(user_id) values (%s) returning id", [USER_2]
        ).fetchone()[0]
        conn.execute(
            "insert into public.notifications(user_id, title) values (%s, 'hi B')", [USER_2]
        )
        n1 = conn.execute(
            "insert into public.notifications(user_id, title) values (%s, 'hi A') returning id",
            [USER_1],
        ).fetchone()[0]
        conn.execute(
            "insert into public.messages(sender_id, recipient_id, body) values (%s, %s, 'to A')",
            [USER_2, USER_1],
        )
        conn.execute(
            "insert into public.admin_roles(user_id, role, permissions) "
            "values (%s, 'admin', '{manage_admins}')",
            [USER_2],
        )

        part = conn.execute(
            "select id, price from public.spare_parts where sku = 'ENG-1001'"
        ).fetchone()

        # anon: active catalogue only.
        with as_user(conn, "anon"):
            assert conn.execute("select count(*) from public.spare_parts").fetchone()[0] == 49
            for t in ("orders", "notifications", "messages", "user_profiles", "admin_roles"):
                q = sql.SQL("select count(*) from public.{}").format(sql.Identifier(t))
                assert conn.execute(q).fetchone()[0] == 0, t

        # User 1 places an order; sees own rows only; the audit trigger logs it.
        with as_user(conn, "authenticated", USER_1):
            assert [r[0] for r in conn.execute("select full_name from public.user_profiles")] == [
                "A"
            ]
            conn.execute("update public.user_profiles set full_name = 'A.' where true")
            o1 = conn.execute(
                "insert into public.orders(user_id) values (%s) returning id", [USER_1]
            ).fetchone()[0]
            conn.execute(
                "insert into public.order_items(order_id, spare_part_id, quantity, unit_price) "
                "values (%s, %s, 2, %s)",
                [o1, part[0], part[1]],
            )
            # A discounted price is refused (inside a savepoint, so the test can go on).
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    "insert into public.order_items(order_id, spare_part_id, quantity, unit_price) "
                    "values (%s, %s, 1, 0.01)",
                    [o1, part[0]],
                )
            assert (
                conn.execute("select public.calculate_order_total(%s)", [o1]).fetchone()[0]
                == 2 * part[1]
            )
            assert conn.execute("select public.calculate_order_total(%s)", [o2]).fetchone()[0] == 0
            assert conn.execute("select count(*) from public.orders").fetchone()[0] == 1
            assert conn.execute("select count(*) from public.notifications").fetchone()[0] == 1
            assert conn.execute("select count(*) from public.messages").fetchone()[0] == 1
            assert conn.execute("select count(*) from public.admin_roles").fetchone()[0] == 0
            assert (
                conn.execute("select public.has_admin_permission('manage_admins')").fetchone()[0]
                is False
            )
            assert (
                conn.execute("select public.mark_notification_read(%s)", [n1]).fetchone()[0] is True
            )
            assert (
                conn.execute(
                    "select count(*) from public.notifications where read_at is null"
                ).fetchone()[0]
                == 0
            )
            conn.execute(
                "insert into public.cart_items(user_id, spare_part_id) values (%s, %s)",
                [USER_1, part[0]],
            )
            assert conn.execute("select count(*) from public.cart_items").fetchone()[0] == 1
            # The audit trigger wrote a row even though the user cannot read the log.
            assert conn.execute("select count(*) from public.activity_logs").fetchone()[0] == 0
            conn.execute("RESET ROLE")
            logs = conn.execute(
                "select user_id, activity_type, table_name, record_id "
                "from public.activity_logs order by id desc limit 1"
            ).fetchone()
            assert (str(logs[0]), logs[1], logs[2], logs[3]) == (
                USER_1,
                "insert",
                "orders",
                str(o1),
            )

        # An admin with manage_admins sees all admin rows and can add one.
        with as_user(conn, "authenticated", USER_2):
            assert conn.execute("select public.has_admin_permission('manage_admins')").fetchone()[0]
            conn.execute(
                "insert into public.admin_roles(user_id, role, granted_by) "
                "values (%s, 'support', %s)",
                [USER_1, USER_2],
            )
            assert conn.execute("select count(*) from public.admin_roles").fetchone()[0] == 2
            # Someone else's notification cannot be marked read.
            assert (
                conn.execute("select public.mark_notification_read(%s)", [n1]).fetchone()[0]
                is False
            )

        # A succeeded payment marks the order paid (payment written by service_role).
        with as_user(conn, "service_role"):
            conn.execute(
                "insert into public.payments(order_id, amount, provider, provider_ref, status) "
                "values (%s, 10, 'stripe', 'pi_1', 'pending')",
                [o2],
            )
            assert (
                conn.execute("select status from public.orders where id = %s", [o2]).fetchone()[0]
                == "pending"
            )
            conn.execute(
                "update public.payments set status = 'succeeded' where provider_ref = 'pi_1'"
            )
            assert (
                conn.execute("select status from public.orders where id = %s", [o2]).fetchone()[0]
                == "paid"
            )
            assert (
                conn.execute(
                    "select count(*) from public.activity_logs where table_name = 'payments'"
                ).fetchone()[0]
                == 2
            )
        with as_user(conn, "authenticated", USER_2):
            conn.execute("RESET ROLE")
            conn.execute(
                "insert into public.payments(order_id, amount, provider, provider_ref, status) "
                "values (%s, 10, 'stripe', 'pi_2', 'succeeded')",
                [o2],
            )
            conn.execute("SET LOCAL ROLE authenticated")
            assert conn.execute("select count(*) from public.payments").fetchone()[0] == 1
        with as_user(conn, "authenticated", USER_1):
            assert conn.execute("select count(*) from public.payments").fetchone()[0] == 0
