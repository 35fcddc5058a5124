"""`dbmigrator` with a stopwatch, for bench_engine's breakdown: the parts of ONE real run.

    DBMIGRATOR_TIMINGS=out.json python tools/timed_up.py up --dir DIR --no-validate -o json

Runs the CLI as its console script does, in this process, and writes the seconds spent
importing psycopg, importing the rest of what `up` loads, parsing the files
(`Reader.parse_all`), the closing schema snapshot (`Engine._record_snapshot`) and the whole
`Engine.up`. Timing the parts inside the run they belong to keeps them consistent with its
wall time (parts timed in another process do not add up on a noisy machine). The wrappers
only read the clock around the real methods.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

spent: dict[str, float] = {}
started = time.perf_counter()
import psycopg  # noqa: E402  (timed: the driver every Python tool on psycopg loads)

spent["import_psycopg"] = time.perf_counter() - started
from dbmigrator.cli import runs  # noqa: E402, F401  (what `up` loads before it runs)
from dbmigrator.cli.main import main  # noqa: E402
from dbmigrator.engine import runner  # noqa: E402

spent["import_rest"] = time.perf_counter() - started - spent["import_psycopg"]
assert psycopg


def clocked(owner: type, name: str, key: str) -> None:
    real: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0

    setattr(owner, name, timed)


clocked(runner.Engine, "parse_all", "parse")
clocked(runner.Engine, "_record_snapshot", "snapshot")
clocked(runner.Engine, "up", "engine_up")


def write() -> None:
    with open(os.environ["DBMIGRATOR_TIMINGS"], "w") as out:
        json.dump(spent, out)


if __name__ == "__main__":
    if not os.environ.get("DBMIGRATOR_TIMINGS"):
        sys.exit("usage: DBMIGRATOR_TIMINGS=out.json python tools/timed_up.py up --dir DIR ...")
    sys.argv[0] = "dbmigrator"
    try:
        main()
    finally:
        write()
