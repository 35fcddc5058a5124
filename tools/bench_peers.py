"""`make bench-peers`: dbmigrator next to the migration tools people pick instead of it.

Same files, same server, alternating runs, a fresh database cloned from one template for each run
(bench_engine's Bench), medians and ratios:

- the shop (`migrations/`, on a bootstrapped template) and 200 generated small files;
- contenders: psql one session (the limit: one connection, a transaction and a tracking row per
  file), `psql -1 -f` per file, `dbmigrator up --no-validate`, `dbmigrator up` (validation on),
  golang-migrate (`migrate -path DIR -database URL up`) and Flyway (`flyway migrate`), the peers
  built by hack/build-peers.sh; a peer whose binary is missing is skipped with its reason;
- one generated ~10 MB file (~90,000 statements): `dbmigrator plan` and `up` against the one
  session psql (issue 11, item 3).

Writes the "## Peers" section of docs/benchmarks.md when given --write.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_engine import (
    CLI,
    ONE_SESSION,
    PYTHON_FLOOR,
    REPO,
    Bench,
    generate_big_file,
    generate_small_set,
    make_template,
    med,
    migrate_contenders,
    one_session_script,
    precompile,
    sh,
    write_section,
)
from localpg import LocalPostgres
from peers import flyway_args, migrate_args, peer_layout

HEADING = "## Peers"
NO_VALIDATE = "dbmigrator up --no-validate"
MIGRATE = "golang-migrate"
FLYWAY = "Flyway"
Contenders = dict[str, Callable[[str], None]]


def default_peers_dir() -> Path:
    cache = Path(os.environ.get("DBMIGRATOR_CACHE", Path.home() / ".cache" / "dbmigrator"))
    return cache / "tools" / "peers"


def peer_binaries(peers_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The peers found under `peers_dir`, and a reason for each one that is not."""
    found: dict[str, str] = {}
    skipped: list[str] = []
    for label, path in (
        (MIGRATE, peers_dir / "migrate"),
        (FLYWAY, peers_dir / "flyway" / "flyway"),
    ):
        if os.access(path, os.X_OK):
            found[label] = str(path)
        else:
            skipped.append(f"{label} skipped: {path} is missing (run hack/build-peers.sh)")
    if FLYWAY in found and shutil.which("java") is None:
        del found[FLYWAY]
        skipped.append(f"{FLYWAY} skipped: java is not on PATH")
    return found, skipped


def stage(directory: Path, target: Path, rename: str) -> Path:
    """Copy the up migrations of `directory` into `target` under the peer's naming."""
    files = [p.name for p in directory.glob("*.sql") if not p.name.endswith(".down.sql")]
    target.mkdir(parents=True)
    for original, renamed in peer_layout(files, rename).items():
        shutil.copyfile(directory / original, target / renamed)
    return target


def peer_contenders(bench: Bench, directory: Path, work: Path, peers: dict[str, str]) -> Contenders:
    runs: Contenders = {}
    host, port, user = "127.0.0.1", bench.pg.port, "postgres"
    if MIGRATE in peers:
        src_m = stage(directory, work / "migrate", "migrate")
        runs[MIGRATE] = lambda db: sh(
            migrate_args(peers[MIGRATE], str(src_m), host, port, user, db), bench.env
        )
    if FLYWAY in peers:
        src_f = stage(directory, work / "flyway", "flyway")
        env = {
            **bench.env,
            "FLYWAY_PASSWORD": bench.pg.password,
            "REDGATE_DISABLE_TELEMETRY": "true",
        }
        runs[FLYWAY] = lambda db: sh(
            flyway_args(peers[FLYWAY], str(src_f), host, port, user, db), env
        )
    return runs


def all_contenders(bench: Bench, directory: Path, work: Path, peers: dict[str, str]) -> Contenders:
    ours = migrate_contenders(bench, directory)
    return {
        ONE_SESSION: ours[ONE_SESSION],
        PYTHON_FLOOR: ours[PYTHON_FLOOR],
        "psql -1 -f per file": ours["psql -1 -f per file"],
        NO_VALIDATE: ours[NO_VALIDATE],
        "dbmigrator up (validation on)": ours["dbmigrator up (validation on)"],
        **peer_contenders(bench, directory, work, peers),
    }


def big_contenders(bench: Bench, directory: Path, work: Path, peers: dict[str, str]) -> Contenders:
    """The one big file: psql one session (with its tracking row) against `plan` and `up`."""
    work.mkdir(parents=True, exist_ok=True)
    script = work / "big-one-session.psql"
    script.write_text(one_session_script(sorted(directory.glob("*.sql"))))

    def cli(*args: str) -> Callable[[str], None]:
        def run(db: str) -> None:
            sh([str(CLI), *args, "--dir", str(directory), "-o", "json"],
               {**bench.env, "DATABASE_URL": bench.pg.dsn(db)})  # fmt: skip

        return run

    return {
        ONE_SESSION: lambda db: sh(
            [*bench.psql(db), "-v", "ON_ERROR_STOP=1", "-f", str(script)], bench.env
        ),
        "dbmigrator plan": cli("plan"),
        NO_VALIDATE: cli("up", "--no-validate"),
        "dbmigrator up (validation on)": cli("up"),
        **peer_contenders(bench, directory, work, peers),
    }


def table(title: str, times: dict[str, list[float]], out: list[str]) -> None:
    limit = med(times[ONE_SESSION])
    fast = med(times[NO_VALIDATE])
    out += [
        f"**{title}**",
        "",
        f"| contender | median | ratio to the limit ({ONE_SESSION}) | ratio to `{NO_VALIDATE}` |",
        "|---|---|---|---|",
    ]
    for label, values in times.items():
        value = med(values)
        out.append(f"| {label} | {value:.2f} s | {value / limit:.2f}× | {value / fast:.2f}× |")
    out.append("")


def commands(bench_note: str) -> list[str]:
    return [
        "Exact commands (a fresh database `DB` each run; passwords in the environment, "
        "never on a command line):",
        "",
        "```",
        f"{ONE_SESSION}:  psql -X -q -h 127.0.0.1 -p PORT -U postgres -d DB -v ON_ERROR_STOP=1 "
        "-f SET-one-session.psql   # bench_engine.one_session_script",
        "psql per file:       psql -X -q ... -d DB -v ON_ERROR_STOP=1 -1 -f NNN_name.sql   # each file",
        f"{PYTHON_FLOOR}: DATABASE_URL=... python tools/python_floor.py DIR   # each file one message",
        "dbmigrator:          DATABASE_URL=... dbmigrator up --dir DIR -o json [--no-validate]",
        "dbmigrator plan:     DATABASE_URL=... dbmigrator plan --dir DIR -o json",
        "golang-migrate:      PGPASSWORD=... migrate -path DIR -database "
        "'postgres://postgres@127.0.0.1:PORT/DB?sslmode=disable' up   # NNN_name.up.sql",
        "Flyway:              FLYWAY_PASSWORD=... java -cp 'classes:lib/*' FlywayMigrate "
        "-url=jdbc:postgresql://127.0.0.1:PORT/DB -user=postgres -locations=filesystem:DIR "
        "-connectRetries=0 migrate   # V<n>__name.sql; hack/flyway/FlywayMigrate.java",
        "```",
        "",
        bench_note,
    ]


WHAT_EACH_DOES = """\
What each contender does per file, read in PostgreSQL's statement log (`log_statement=all`) on
this server and in the tools' sources, so the ratios compare like with like:

| contender | transaction per file | tracking | checksum | lock | statements |
|---|---|---|---|---|---|
| psql, one session | yes (`begin` … `commit`) | one `schema_migrations` row (version, name) | no | no | psql's lexer splits, one round trip each |
| psql per file | yes (`-1`) | none | no | no | as above; a process and a connection per file |
| dbmigrator up --no-validate | yes, with its tracking and history rows | Supabase `schema_migrations` row (every statement) + a history row | sha256 of each file, in the history | session advisory lock for the run | parsed first by pglast (the PostgreSQL parser: errors with file and line before anything runs); a transactional file then goes as one message (several over 256 KiB) |
| dbmigrator up | as above, then the checks after every file | as above | as above | as above | as above |
| golang-migrate v4.20.1 (postgres driver) | no `BEGIN`: the whole file is one simple-protocol query, which PostgreSQL runs as one implicit transaction; before it `SetVersion(v, dirty=true)`, after it `SetVersion(v, false)`, each its own transaction (`TRUNCATE` + `INSERT`) | one row (`version`, `dirty`) in `schema_migrations`, rewritten twice per file | no | session advisory lock (`pg_advisory_lock`) for the run | not split: the server parses the file |
| Flyway 13.12.1 (engine, PostgreSQL module) | yes, each versioned migration in its own transaction with its history row (`group=false`, the default) | a `flyway_schema_history` row (version, description, script, CRC32 checksum, user, time taken, success) | CRC32; `validateOnMigrate` (default on) checks applied files before migrating | `pg_try_advisory_xact_lock` on a second connection, taken again around each migration | its own SQL parser splits; one extended-protocol round trip per statement, plus `SET ROLE` and existence checks around each file |

Start-up is inside each contender's time, as it is for a person: golang-migrate is a Go binary
(milliseconds), Flyway a JVM (about a second of start-up and class loading here), dbmigrator
Python (imports, pglast).

Flyway runs through `hack/flyway/FlywayMigrate.java`, not `flyway-commandline`: the command
line's 13.12.1 jar needs `flyway-core-utilities`, `flyway-command-mcp` and the `flyway-verb-*`
modules, which Maven Central does not serve (`Could not find artifact
org.flywaydb:flyway-core-utilities:jar:13.12.1`; with that jar left out, `Main` stops on
`ClassNotFoundException: org.flywaydb.mcp.McpConfigurationLoader`, then on
`org.flywaydb.core.utilities.progresslogger.ProgressLoggerJson`). The launcher takes the command
line's `-key=value` options and runs `Flyway.migrate()`: the same engine, parser, transactions,
history table, validation and lock; the command line's own start-up (its option parsing, update
check, JSON output) is not measured.
"""

ROUND_TRIPS = """\
How to read the limit: *psql, one session* is the limit for a client that sends one statement
per round trip, as psql and Flyway do. golang-migrate sends each file as one query, and
dbmigrator sends a transactional file as one message (a file over 256 KiB as several), so on
files of many statements both can beat that limit. golang-migrate pays for it: a failing
statement is reported by the server's character position in the whole file, no statement can
run outside the file's implicit transaction, and a failure leaves the version marked dirty until
`migrate force`. dbmigrator still names the failing statement's file and line (from the
server's position or from how many statements completed before it), runs a file with
statements that cannot run in a transaction statement by statement, and leaves nothing of a
failed file. *Python + psycopg, one session* (`tools/python_floor.py`) is the floor for a tool
written in Python: the interpreter, the driver and one message per file with its tracking row.
"""

ATLAS_NOTE = """\
Atlas (community CLI) is not compared: its command module is not served by the Go module proxy
here. `go list -m -versions ariga.io/atlas/cmd/atlas` answers
`reading <proxy>/ariga.io/atlas/cmd/atlas/@v/list: 404 Not Found` (and, falling back to
`direct`, `unrecognized import path "ariga.io/atlas/cmd/atlas"`: no network but the
registries); `ariga.io/atlas` itself is served only as a library pseudo-version without the CLI.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big-statements", type=int, default=90_490)
    parser.add_argument("--no-big", action="store_true", help="Leave out the 10 MB file.")
    parser.add_argument("--peers-dir", type=Path, default=default_peers_dir())
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    precompile()
    peers, skipped = peer_binaries(args.peers_dir)
    for reason in skipped:
        print(reason, file=sys.stderr)
    argv = f"--rounds {args.rounds} --small {args.small}" + (
        " --no-big" if args.no_big else f" --big-statements {args.big_statements}"
    )
    out = [
        HEADING,
        "",
        f"Measured by `make bench-peers` (`tools/bench_peers.py {argv}`) on PostgreSQL 15 and "
        f"{os.cpu_count()} cores shared with other work (noisy: read the ratios, not the "
        "seconds), PostgreSQL and every contender on the same machine, alternating runs, each on "
        f"a fresh database cloned from the same template, medians of {args.rounds} runs.",
        "",
    ]
    out += [f"- {reason}" for reason in skipped] + ([""] if skipped else [])
    with LocalPostgres() as pg, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench = Bench(pg, args.rounds)
        shop = make_template(bench, "tpl_shop", bootstrap=True)
        times = bench.compare(
            shop, all_contenders(bench, REPO / "migrations", work / "shop", peers)
        )
        table("The shop, 8 files (bootstrapped template)", times, out)
        small = work / "small"
        generate_small_set(small, args.small)
        template = make_template(bench, "tpl_small", bootstrap=False)
        times = bench.compare(template, all_contenders(bench, small, work / "small-peers", peers))
        table(f"Generated, {args.small} small files", times, out)
        if not args.no_big:
            big = work / "big"
            big.mkdir()
            size = generate_big_file(big / "001_big.sql", args.big_statements)
            template = make_template(bench, "tpl_big", bootstrap=False)
            times = bench.compare(template, big_contenders(bench, big, work / "big-peers", peers))
            table(
                f"One generated file of {size / 1e6:.1f} MB, {args.big_statements:,} statements "
                "with non-ASCII text (`bench_engine.generate_big_file`)",
                times,
                out,
            )
        bench.admin.close()
    out += commands(
        "`dbmigrator plan` opens no transaction but parses the whole file, reads the tracking "
        "table and lints the file with squawk (since the safety gate; the 2.66 s measured before "
        "it did not lint); it is compared with applying the file because that is what a person "
        "waits for before `up`."
    )
    out += ["", WHAT_EACH_DOES, ROUND_TRIPS, ATLAS_NOTE]
    text = "\n".join(out).rstrip() + "\n"
    print(text)
    if args.write:
        write_section(args.write, HEADING, text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:  # pragma: no cover - surfaced by sh() already
        raise SystemExit(str(exc)) from exc
