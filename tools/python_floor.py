"""The least a migration tool written in Python can do: the floor `make bench-engine` and
`make bench-peers` compare dbmigrator with, next to one psql session.

    DATABASE_URL=postgresql://… python tools/python_floor.py DIR

One process: the interpreter, psycopg (the driver dbmigrator uses), one connection; each
`NNN_name.sql` of DIR in name order as ONE message (BEGIN, the file, the same tracking row as
bench_engine.one_session_script, COMMIT). No parsing, no lock, no history, no checks, no result:
what is left is Python's start-up, the driver's import and the server's work, so no Python tool
that applies these files with a tracking row can be faster. Imports nothing from dbmigrator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql

TRACKING = (  # also the first line of bench_engine.one_session_script
    "create schema if not exists supabase_migrations; "
    "create table if not exists supabase_migrations.schema_migrations "
    "(version text primary key, statements text[], name text)"
)


def main(directory: Path) -> None:
    files = sorted(p for p in directory.glob("*.sql") if not p.name.endswith(".down.sql"))
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(TRACKING)
        for path in files:
            version, _, name = path.name.removesuffix(".sql").partition("_")
            row = sql.SQL(
                "insert into supabase_migrations.schema_migrations (version, name) values ({}, {})"
            ).format(version, name)
            text = "begin;\n" + path.read_text() + "\n;\n" + row.as_string(conn) + ";\ncommit"
            conn.execute(text.encode())


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir() or not os.environ.get("DATABASE_URL"):
        sys.exit("usage: DATABASE_URL=postgresql://... python tools/python_floor.py DIR")
    main(Path(sys.argv[1]))
