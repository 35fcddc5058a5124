"""Two builds of dbmigrator side by side: `up --no-validate` of N generated small files with each
CLI and with one psql session (the limit), alternating, each run on a fresh database cloned from
one template, on one local PostgreSQL. For "did this change make the engine faster?": the
machine is noisy, so the two builds are timed in the same run, round after round.

    .venv/bin/python tools/bench_versions.py --cli old=/path/to/old/.venv/bin/dbmigrator \\
        --cli new=.venv/bin/dbmigrator --rounds 7

Each build should be byte-compiled as an installed copy is (`python -m compileall` on its
package), else it pays the compile at every start (see bench_engine.precompile).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench_engine import ONE_SESSION, generate_small_set, one_session_script, precompile
from localpg import LocalPostgres, server_bindir


def client_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--major", type=int, default=15)
    args = parser.parse_args()
    precompile()
    clis = dict(item.split("=", 1) for item in args.cli)
    with (
        LocalPostgres(bindir=server_bindir(args.major)) as pg,
        tempfile.TemporaryDirectory() as tmp,
    ):
        directory = Path(tmp) / "small"
        generate_small_set(directory, args.small)
        files = sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".down.sql"))
        script = Path(tmp) / "one-session.psql"
        script.write_text(one_session_script(files))
        admin = psycopg.connect(pg.dsn(), autocommit=True)
        admin.execute(b"CREATE DATABASE tpl")
        env = {k: v for k, v in os.environ.items() if k != "DBMIGRATOR_CHECKS_JSON"}
        env["PGPASSWORD"] = pg.password

        def psql(db: str) -> None:
            subprocess.run(
                ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
                 "-d", db, "-v", "ON_ERROR_STOP=1", "-f", str(script)],
                env=env, check=True, capture_output=True,
            )  # fmt: skip

        def dbmigrator(cli: str) -> Callable[[str], None]:
            def run(db: str) -> None:
                proc = subprocess.run(
                    [cli, "up", "--dir", str(directory), "-o", "json", "--no-validate"],
                    env={**env, "DATABASE_URL": pg.dsn(db)}, capture_output=True, text=True,
                )  # fmt: skip
                if proc.returncode != 0:
                    raise SystemExit(f"{cli} failed: {proc.stdout[-800:]}{proc.stderr[-800:]}")

            return run

        contenders = {ONE_SESSION: psql, **{label: dbmigrator(cli) for label, cli in clis.items()}}
        wall: dict[str, list[float]] = {k: [] for k in contenders}
        cpu: dict[str, list[float]] = {k: [] for k in contenders}
        for n in range(args.rounds):
            for index, (label, run) in enumerate(contenders.items()):
                db = f"v{n}_{index}"
                admin.execute(f'CREATE DATABASE "{db}" TEMPLATE tpl'.encode())
                c0, t0 = client_seconds(), time.perf_counter()
                run(db)
                wall[label].append(time.perf_counter() - t0)
                cpu[label].append(client_seconds() - c0)
                admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)'.encode())
        admin.close()
    limit = statistics.median(wall[ONE_SESSION])
    print(f"{args.small} small files, PostgreSQL {args.major}, medians of {args.rounds} rounds:")
    print("| contender | wall | ratio to the limit | client CPU |")
    print("|---|---|---|---|")
    for label in contenders:
        median = statistics.median(wall[label])
        print(f"| {label} | {median:.2f} s | {median / limit:.2f}× "
              f"| {statistics.median(cpu[label]):.2f} s |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
