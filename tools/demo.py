"""`make demo`: the execution guide as one story, on a throwaway PostgreSQL, then in Kubernetes.

Starts a private PostgreSQL (as an unprivileged user, on a free port), gives it what Supabase
provides, loads the legacy shop, then runs the real `dbmigrator` CLI through the guide: plan,
backup, rehearse, apply in the guide's three phases with validation after each migration, a
rollback to 005 and forward again, a broken migration refused with file and line, and status.
Then the same story through the operator on a local control plane (`--no-cluster` skips it).
Everything it starts is stopped at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from demo_operator import run_operator_story
from localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"
PHASES = ["--phase", "core-infrastructure=003", "--phase", "payment-and-audit=005",
          "--phase", "advanced-features=008"]  # fmt: skip


def step(title: str) -> None:
    print(f"\n\033[1;36m━━ {title}\033[0m", flush=True)


def run(*args: str, env: dict[str, str], expect: int = 0) -> None:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\033[2m$ dbmigrator {shown}\033[0m", flush=True)
    code = subprocess.run([str(CLI), *args], env=env, cwd=REPO).returncode
    if code != expect:
        raise SystemExit(f"demo: `dbmigrator {shown}` exited {code}, expected {expect}")


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dbmigrator-demo-"))
    step("Start a throwaway PostgreSQL (Debian's server, as an unprivileged user)")
    with LocalPostgres() as pg:
        print(f"PostgreSQL {pg.major} on 127.0.0.1:{pg.port}")
        env = {**os.environ, "DATABASE_URL": pg.dsn(), "DBMIGRATOR_DIR": str(REPO / "migrations")}
        env.pop("DBMIGRATOR_CHECKS_JSON", None)

        step("Give vanilla PostgreSQL what Supabase provides (roles, auth schema, extensions)")
        run("bootstrap", env=env)
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(REPO / "tools/legacy_shop_seed.sql")],
            env={**env, "PGPASSWORD": pg.password, "PGHOST": "127.0.0.1", "PGPORT": str(pg.port),
                 "PGUSER": pg.superuser, "PGDATABASE": "postgres"},
            check=True,
        )  # fmt: skip
        print("loaded the legacy catalogue (public.products) that migration 006 moves")

        step("Plan: what would run, in which order, in which phase")
        run("plan", *PHASES, env=env)

        step("Prerequisite 1: back up with pg_dump, verified readable")
        run("backup", "--out", str(work / "backups"), "--keep", "5", env=env)

        step(
            "Prerequisite 2: rehearse on a scratch copy (restore the backup, migrate, validate, drop)"
        )
        run("rehearse", *PHASES, env=env)

        step("Apply in the guide's three phases, validating after each migration")
        run("up", *PHASES, env=env)

        step("Validate on demand (tracking, objects, RLS per role, FK indexes, query timings)")
        run("validate", env=env)

        step("Roll back to 005 with the down files")
        run("down", "--target", "005", env=env)
        run("status", env=env)

        step("And forward again")
        run("up", env=env)

        step(
            "A broken migration is refused with file, line and SQLSTATE; the database is unchanged"
        )
        broken = work / "broken"
        shutil.copytree(REPO / "migrations", broken)
        (broken / "009_add_loyalty_points.sql").write_text(
            "alter table public.user_profiles add column if not exists loyalty_points int default 0;\n"
            "\n"
            "update public.user_profiles\n"
            "   set loyalty_points = points_from_orders;\n"
        )
        run("up", "--dir", str(broken), env=env, expect=1)
        run("status", "--dir", str(broken), env=env)

        if "--no-cluster" not in sys.argv:
            run_operator_story()

    shutil.rmtree(work, ignore_errors=True)
    step(f"Done in {time.monotonic() - started:.0f}s; the PostgreSQL server is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
