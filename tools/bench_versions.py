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
import resource
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_engine import (
    ONE_SESSION,
    Bench,
    generate_small_set,
    make_template,
    one_session_script,
    precompile,
    sh,
)
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
    bad = [item for item in args.cli if "=" not in item or not item.split("=", 1)[1]]
    if bad:
        parser.error(f"--cli {bad[0]!r}: expected LABEL=PATH, e.g. new=.venv/bin/dbmigrator")
    clis = dict(item.split("=", 1) for item in args.cli)
    with (
        LocalPostgres(bindir=server_bindir(args.major)) as pg,
        tempfile.TemporaryDirectory() as tmp,
    ):
        bench = Bench(pg, args.rounds)
        directory = Path(tmp) / "small"
        generate_small_set(directory, args.small)
        files = sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".down.sql"))
        script = Path(tmp) / "one-session.psql"
        script.write_text(one_session_script(files))
        template = make_template(bench, "tpl_small", bootstrap=False)
        cpu: dict[str, list[float]] = {}

        def counted(label: str, run: Callable[[str], None]) -> Callable[[str], None]:
            """`run`, with the client CPU of its processes added to cpu[label]."""

            def timed_run(db: str) -> None:
                before = client_seconds()
                run(db)
                cpu.setdefault(label, []).append(client_seconds() - before)

            return timed_run

        def psql(db: str) -> None:
            sh([*bench.psql(db), "-v", "ON_ERROR_STOP=1", "-f", str(script)], bench.env)

        def dbmigrator(cli: str) -> Callable[[str], None]:
            def run(db: str) -> None:
                args = [cli, "up", "--dir", str(directory), "-o", "json", "--no-validate"]
                sh(args, {**bench.env, "DATABASE_URL": pg.dsn(db)})

            return run

        runs = {ONE_SESSION: psql, **{label: dbmigrator(cli) for label, cli in clis.items()}}
        wall = bench.compare(template, {k: counted(k, run) for k, run in runs.items()})
        bench.admin.close()
    limit = statistics.median(wall[ONE_SESSION])
    print(f"{args.small} small files, PostgreSQL {args.major}, medians of {args.rounds} rounds:")
    print("| contender | wall | ratio to the limit | client CPU |")
    print("|---|---|---|---|")
    for label, times in wall.items():
        median = statistics.median(times)
        print(f"| {label} | {median:.2f} s | {median / limit:.2f}× "
              f"| {statistics.median(cpu[label]):.2f} s |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
