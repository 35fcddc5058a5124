"""`make bench-engine`: dbmigrator against the tools people use by hand, side by side in one run.

1. `dbmigrator up` vs `psql -v ON_ERROR_STOP=1 -1 -f FILE` per file (the guide's way), for the
   shop's eight files and for 200 generated small migrations; validation off, then its cost.
2. `dbmigrator backup` vs raw `pg_dump -Fc` on a generated dataset of a few hundred MB.
3. With `--big` (alone): one generated ~10 MB file of ~90,000 statements with non-ASCII text,
   `dbmigrator plan` and `dbmigrator up --no-validate` vs one `psql -1 -f` session (issue 8:
   line numbering was quadratic, 176 s to plan such a file).

Runs alternate between the contenders, each on a fresh database cloned from the same template,
and the medians are compared as ratios (this machine is noisy; absolute times mean little).
Runs on PostgreSQL 15 (Debian's) and 17 (hack/fetch-pg.sh's download; `--majors 15` for one),
each with the client tools the engine picks (pg_dump of the server's major or newer).
Writes the "## Engine" (15) and "## Engine on PostgreSQL 17" sections of docs/benchmarks.md
when given --write.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg

from dbmigrator.engine.pgtools import find_tool
from localpg import LocalPostgres, fetched_bindirs, server_bindir
from python_floor import TRACKING

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"


def precompile() -> None:
    """Byte-compile the package, as pip does when it installs the wheel (and the image has):
    with PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile every module
    of dbmigrator at each start, a cost no installed copy pays."""
    compileall.compile_dir(REPO / "operator" / "dbmigrator", quiet=1)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sh(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")


def generate_small_set(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        (directory / f"{i:03d}_table_{i}.sql").write_text(
            f"create table if not exists public.t{i} (id bigint primary key, name text not null, "
            f"created_at timestamptz default now());\n"
            f"create index if not exists idx_t{i}_name on public.t{i} (name);\n"
            f"insert into public.t{i} (id, name) select g, 'n' || g from generate_series(1, 20) g "
            f"on conflict do nothing;\n"
        )


def generate_big_file(path: Path, statements: int) -> int:
    """One migration of `statements` statements (a table, then INSERTs with non-ASCII text,
    a comment every 100 rows); returns its size in bytes."""
    lines = [
        "-- a generated bulk migration: names with accents, umlauts and symbols",
        "create table if not exists public.big_parts (id bigint primary key, name text not null, "
        "note text);",
    ]
    for i in range(1, statements):
        if i % 100 == 0:
            lines.append(f"-- batch {i // 100}: pièces détachées, Größe {i}")
        lines.append(
            f"insert into public.big_parts (id, name, note) values ({i}, 'Bremsscheibe Ø{i} mm', "
            f"'naïve café ✓ {i}');"
        )
    path.write_text("\n".join(lines) + "\n")
    return path.stat().st_size


def bench_big(bench: Bench, statements: int, out: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "big"
        directory.mkdir()
        size = generate_big_file(directory / "001_big.sql", statements)
        template = make_template(bench, "tpl_big", bootstrap=False)
        times: dict[str, list[float]] = {"psql": [], "plan": [], "up": []}
        for _ in range(bench.rounds):
            db = bench.fresh(template)
            times["psql"].append(timed(lambda db=db: sh(
                [*bench.psql(db), "-v", "ON_ERROR_STOP=1", "-1", "-f", str(directory / "001_big.sql")],
                bench.env)))  # type: ignore[misc]  # fmt: skip
            bench.drop(db)
            db = bench.fresh(template)
            env = {**bench.env, "DATABASE_URL": bench.pg.dsn(db)}
            times["plan"].append(timed(lambda env=env: sh(
                [str(CLI), "plan", "--dir", str(directory), "-o", "json"], env)))  # type: ignore[misc]  # fmt: skip
            times["up"].append(timed(lambda env=env: sh(
                [str(CLI), "up", "--dir", str(directory), "--no-validate", "-o", "json"], env)))  # type: ignore[misc]  # fmt: skip
            bench.drop(db)
    base = med(times["psql"])
    out.append(
        f"One generated file of {size / 1e6:.1f} MB, {statements:,} statements with non-ASCII "
        f"text (`tools/bench_engine.py --big --rounds {bench.rounds}`), medians:"
    )
    out.append("")
    out.append("| contender | median | ratio to psql |")
    out.append("|---|---|---|")
    out.append(f"| `psql -v ON_ERROR_STOP=1 -1 -f` | {base:.2f} s | 1.00× |")
    for label, key in (("`dbmigrator plan`", "plan"), ("`dbmigrator up --no-validate`", "up")):
        value = med(times[key])
        out.append(f"| {label} | {value:.2f} s | {value / base:.2f}× |")


class Bench:
    def __init__(self, pg: LocalPostgres, rounds: int) -> None:
        self.pg = pg
        self.rounds = rounds
        self.n = 0
        self.admin = psycopg.connect(pg.dsn(), autocommit=True)
        self.env = {**os.environ, "PGPASSWORD": pg.password}
        self.psql_bin = find_tool("psql", pg.major)  # once: not inside the timed runs
        self.env.pop("DBMIGRATOR_CHECKS_JSON", None)

    def fresh(self, template: str) -> str:
        self.n += 1
        name = f"bench_{self.n}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def psql(self, db: str) -> list[str]:
        return [
            self.psql_bin,
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg.port),
            "-U",
            "postgres",
            "-d",
            db,
        ]

    def compare(
        self, template: str, contenders: dict[str, Callable[[str], None]]
    ) -> dict[str, list[float]]:
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(self.rounds):
            for label, run in contenders.items():
                db = self.fresh(template)
                times[label].append(timed(lambda run=run, db=db: run(db)))  # type: ignore[misc]
                self.drop(db)
        return times


ONE_SESSION = "psql, one session"
PYTHON_FLOOR = "Python + psycopg, one session"
"""tools/python_floor.py: the least a Python tool does, start-up included."""


def one_session_script(files: list[Path]) -> str:
    """The libpq + server limit for applying `files` with tracking: ONE psql session, each file
    in its own transaction with a row in the Supabase tracking table (version and name; fewer
    bytes than dbmigrator writes, so the baseline is if anything too kind to psql)."""
    lines = [f"{TRACKING};"]  # the same table tools/python_floor.py creates
    for f in files:
        version, _, name = f.name.removesuffix(".sql").partition("_")
        path = str(f).replace("'", "''")
        lines += ["begin;", f"\\i '{path}'",
                  "insert into supabase_migrations.schema_migrations (version, name) "
                  f"values ('{version}', '{name}');", "commit;"]  # fmt: skip
    return "\n".join(lines) + "\n"


def migrate_contenders(bench: Bench, directory: Path) -> dict[str, Callable[[str], None]]:
    files = sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".down.sql"))
    # Outside the work tree: for the shop, directory.parent is the repository.
    script = (
        Path(tempfile.mkdtemp(prefix="dbmigrator-bench-")) / f"{directory.name}-one-session.psql"
    )
    script.write_text(one_session_script(files))

    def psql_per_file(db: str) -> None:
        for f in files:
            sh([*bench.psql(db), "-v", "ON_ERROR_STOP=1", "-1", "-f", str(f)], bench.env)

    def psql_one_session(db: str) -> None:
        sh([*bench.psql(db), "-v", "ON_ERROR_STOP=1", "-f", str(script)], bench.env)

    def python_floor(db: str) -> None:
        floor = [sys.executable, str(REPO / "tools" / "python_floor.py"), str(directory)]
        sh(floor, {**bench.env, "DATABASE_URL": bench.pg.dsn(db)})

    def dbmigrator(validate: bool) -> Callable[[str], None]:
        def run(db: str) -> None:
            args = [str(CLI), "up", "--dir", str(directory), "-o", "json"]
            if not validate:
                args.append("--no-validate")
            sh(args, {**bench.env, "DATABASE_URL": bench.pg.dsn(db)})

        return run

    return {
        "psql -1 -f per file": psql_per_file,
        ONE_SESSION: psql_one_session,
        PYTHON_FLOOR: python_floor,
        "dbmigrator up --no-validate": dbmigrator(False),
        "dbmigrator up (validation on)": dbmigrator(True),
    }


TIMED = "dbmigrator up --no-validate, through tools/timed_up.py"


def timed_contender(
    bench: Bench, directory: Path, parts: dict[str, list[float]]
) -> Callable[[str], None]:
    """`up --no-validate` through tools/timed_up.py, which times each part inside the run; a
    contender of its own, so its runs alternate with the others like the plain CLI's."""

    def run(db: str) -> None:
        with tempfile.NamedTemporaryFile(suffix=".json") as timings:
            args = [sys.executable, str(REPO / "tools" / "timed_up.py"), "up", "--dir",
                    str(directory), "--no-validate", "-o", "json"]  # fmt: skip
            env = {
                **bench.env,
                "DATABASE_URL": bench.pg.dsn(db),
                "DBMIGRATOR_TIMINGS": timings.name,
            }
            sh(args, env)
            for key, value in json.loads(Path(timings.name).read_text()).items():
                parts.setdefault(key, []).append(value)

    return run


def breakdown(name: str, times: dict[str, list[float]], parts: dict[str, list[float]]) -> list[str]:
    """Where `dbmigrator up --no-validate`'s time goes, from the TIMED contender's runs: the
    parts timed inside each run (importing psycopg, importing the rest, parsing, the closing
    snapshot, the engine's whole `up`), medians; the rest of the wall time is the interpreter's
    start and exit, reading the files and the result's JSON."""
    part = {key: med(values) for key, values in parts.items()}
    total = med(times[TIMED])
    rest = total - part["import_psycopg"] - part["import_rest"] - part["engine_up"]
    rows = [
        ("importing psycopg (the Python floor pays it too)", part["import_psycopg"]),
        ("importing the rest of what `up` loads (pydantic and the result models, pglast, click, "
         "dbmigrator)", part["import_rest"]),
        ("parsing every file (pglast)", part["parse"]),
        ("the schema snapshot after the run (the drift baseline)", part["snapshot"]),
        ("the engine's run without parsing and snapshot (connection, lock, tracking tables, "
         "preflight, each file with its tracking and history rows)",
         part["engine_up"] - part["parse"] - part["snapshot"]),
        ("the rest: the interpreter's start and exit, reading the files, the result", rest),
    ]  # fmt: skip
    out = [
        "",
        f"Where `dbmigrator up --no-validate`'s time goes on {name}: the same command through "
        "`tools/timed_up.py`, which times each part inside the run, alternating with the "
        f"contenders above (medians; {total:.2f} s a run, "
        f"{med(times['dbmigrator up --no-validate']):.2f} s without the stopwatch; "
        f"*{ONE_SESSION}* took {med(times[ONE_SESSION]):.2f} s, *{PYTHON_FLOOR}* "
        f"{med(times[PYTHON_FLOOR]):.2f} s):",
        "",
        "| part | seconds | share |",
        "|---|---|---|",
    ]
    out += [f"| {label} | {value:.2f} | {value / total:.0%} |" for label, value in rows]
    return out


def make_template(bench: Bench, name: str, bootstrap: bool) -> str:
    bench.admin.execute(f'CREATE DATABASE "{name}"'.encode())
    if bootstrap:
        sh([str(CLI), "bootstrap"], {**bench.env, "DATABASE_URL": bench.pg.dsn(name)})
    return name


def med(values: list[float]) -> float:
    return statistics.median(values)


def report_migrate(title: str, times: dict[str, list[float]], out: list[str]) -> None:
    base = med(times["psql -1 -f per file"])
    limit = med(times[ONE_SESSION])
    floor = med(times[PYTHON_FLOOR])
    fast = med(times["dbmigrator up --no-validate"])
    full = med(times["dbmigrator up (validation on)"])
    out.append(
        f"| {title} | {base:.2f} s | {limit:.2f} s | {floor:.2f} s ({floor / limit:.2f}×) "
        f"| {fast:.2f} s | **{fast / base:.2f}×** | **{fast / limit:.2f}×** "
        f"| **{fast / floor:.2f}×** | {full:.2f} s | {full / fast:.2f}× |"
    )


def bench_backup(bench: Bench, megabytes: int, out: list[str]) -> None:
    db = "bench_backup_data"
    bench.admin.execute(f'DROP DATABASE IF EXISTS "{db}"'.encode())
    bench.admin.execute(f'CREATE DATABASE "{db}"'.encode())
    rows = megabytes * 1024 * 1024 // 200
    with psycopg.connect(bench.pg.dsn(db), autocommit=True) as conn:
        conn.execute(
            b"create table events (id bigint primary key, kind text, payload text, at timestamptz)"
        )
        conn.execute(
            "insert into events select g, 'kind' || (g %% 17), md5(g::text) || repeat(md5((g * 7)::text), 4), "
            "now() - (g || ' seconds')::interval from generate_series(1, %s) g",
            [rows],
        )
        size = conn.execute(b"select pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    tmp = Path(tempfile.mkdtemp(prefix="dbmigrator-bench-"))
    times: dict[str, list[float]] = {"pg_dump -Fc": [], "dbmigrator backup": []}
    env = {**bench.env, "DATABASE_URL": bench.pg.dsn(db)}
    pg_dump = find_tool("pg_dump", bench.pg.major)
    for i in range(bench.rounds):
        raw = tmp / f"raw{i}.dump"
        dump = [pg_dump, "-Fc", "-h", "127.0.0.1", "-p", str(bench.pg.port), "-U", "postgres",
                "-f", str(raw), db]  # fmt: skip
        backup = [str(CLI), "backup", "--out", str(tmp / f"ours{i}.dump"), "-o", "json"]
        times["pg_dump -Fc"].append(timed(partial(sh, dump, env)))
        times["dbmigrator backup"].append(timed(partial(sh, backup, env)))
        for f in tmp.glob("*"):
            f.unlink()
    base, ours = med(times["pg_dump -Fc"]), med(times["dbmigrator backup"])
    out.append("")
    out.append(
        f"Backup of a generated {size / 1e6:.0f} MB database ({rows:,} rows), {bench.rounds} alternating runs:"
    )
    out.append("")
    out.append("| contender | median | ratio |")
    out.append("|---|---|---|")
    out.append(f"| `pg_dump -Fc` | {base:.2f} s | 1.00× |")
    out.append(
        f"| `dbmigrator backup` (pg_dump -Fc + pg_restore --list + sha256 + sidecar) | {ours:.2f} s | **{ours / base:.2f}×** |"
    )
    bench.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'.encode())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--backup-mb", type=int, default=300)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument(
        "--big", action="store_true", help="Only the one-big-file comparison (its own section)."
    )
    parser.add_argument("--big-statements", type=int, default=90_490)
    parser.add_argument("--majors", default="15,17", help="PostgreSQL majors, comma-separated.")
    args = parser.parse_args()
    precompile()
    if args.big:
        return main_big(args.rounds, args.big_statements, args.write)
    majors = [int(m) for m in args.majors.split(",") if m]
    if any(m != 15 for m in majors):  # the fetched client tools serve the 17 server
        known = os.environ.get("DBMIGRATOR_PG_BINDIRS", "")
        client = str(fetched_bindirs()[1])
        os.environ["DBMIGRATOR_PG_BINDIRS"] = f"{known}:{client}" if known else client
    for major in majors:
        main_engine(args, major)
    return 0


def main_engine(args: argparse.Namespace, major: int) -> None:
    heading = "## Engine" if major == 15 else f"## Engine on PostgreSQL {major}"
    out = [
        heading,
        "",
        f"Measured by `make bench-engine` (`tools/bench_engine.py --rounds {args.rounds} "
        f"--backup-mb {args.backup_mb} --majors {major}`) on PostgreSQL {major} and "
        f"{os.cpu_count()} cores, PostgreSQL and the contenders on the same machine, alternating "
        "runs, each on a fresh database cloned from the same template. Medians; ratios are what "
        "to read (the machine is noisy).",
        "",
        "| migration set | `psql -v ON_ERROR_STOP=1 -1 -f` per file | psql, one session (the limit) | Python + psycopg, one session (the floor of a Python tool; its ratio to the limit) | `dbmigrator up --no-validate` | ratio to per file | ratio to the limit (goal ≤ 1.25×) | ratio to the Python floor | `dbmigrator up` with validation | validation cost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    with LocalPostgres(bindir=server_bindir(major)) as pg, tempfile.TemporaryDirectory() as tmp:
        bench = Bench(pg, args.rounds)
        shop_template = make_template(bench, "tpl_shop", bootstrap=True)
        times = bench.compare(shop_template, migrate_contenders(bench, REPO / "migrations"))
        report_migrate("shop, 8 files", times, out)
        small = Path(tmp) / "small"
        generate_small_set(small, args.small)
        small_template = make_template(bench, "tpl_small", bootstrap=False)
        parts: dict[str, list[float]] = {}
        contenders = {
            **migrate_contenders(bench, small),
            TIMED: timed_contender(bench, small, parts),
        }
        times = bench.compare(small_template, contenders)
        report_migrate(f"generated, {args.small} small files", times, out)
        explained = breakdown(f"{args.small} small files", times, parts)
        out.append("")
        out.append(
            "dbmigrator does more than psql here: it parses every file first, takes the advisory "
            "lock, writes the Supabase tracking row and a history row in each file's transaction. "
            "Validation runs after every migration (object, RLS, probe and FK checks; the shop "
            "also times three queries 6× each with EXPLAIN ANALYZE), so its cost grows with the "
            "number of files. *psql, one session* is the physical limit: one connection applies "
            "every file in its own transaction with a tracking row (`one_session_script`), no "
            "process per file, no parsing, no lock, no history; the CLI's start-up is inside "
            "dbmigrator's time (broken down below). *Python + psycopg, one session* "
            "(`tools/python_floor.py`) is the floor for any tool written in Python: the "
            "interpreter, psycopg and one connection sending each file as one message with the "
            "same tracking row; nothing else."
        )
        out += explained
        bench_backup(bench, args.backup_mb, out)
        bench.admin.close()
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        write_section(args.write, heading, text)


def main_big(rounds: int, statements: int, write: Path | None) -> int:
    out = ["## Engine: one big file", ""]
    with LocalPostgres() as pg:
        bench = Bench(pg, rounds)
        bench_big(bench, statements, out)
        bench.admin.close()
    out.append("")
    out.append(
        "Before the fix (issue 8, item 12) such a file took 176 s to `plan` and 388 s to `up` "
        "where it was reported; on this machine the old code did not finish planning this one "
        "within 900 s (a 20,001-statement file: 30 s to `plan`, 43 s to `up`). pglast maps each "
        "node's location through a list of all multi-byte characters before it, and every line "
        "number was counted from the top of the file. Against one psql session with a tracking "
        "row, and next to golang-migrate and Flyway: `make bench-peers` (section *Peers*)."
    )
    text = "\n".join(out) + "\n"
    print(text)
    if write:
        write_section(write, "## Engine: one big file", text)
    return 0


def write_section(path: Path, heading: str, text: str) -> None:
    current = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    updated = (
        pattern.sub(lambda _: text + "\n", current)
        if pattern.search(current)
        else current.rstrip() + "\n\n" + text
    )
    path.write_text(updated)


if __name__ == "__main__":
    sys.exit(main())
