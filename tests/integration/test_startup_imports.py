"""Start-up time (issue 11): what a Job's `dbmigrator up --no-validate -o json` loads, run for
real against PostgreSQL. A Job never prints for a terminal, reads its checks as JSON and, with
validation off, neither lints nor validates: rich, the YAML parser, squawk's wrapper, the
validation code, kopf and the controller stay out of the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, query, run_cli

NOT_LOADED = (
    "rich",
    "yaml",
    "kopf",
    "dbmigrator.console",
    "dbmigrator.controller",
    "dbmigrator.engine.lint",
    "dbmigrator.engine.validation",
    "dbmigrator.engine.outputs",
)


def test_a_jobs_up_loads_only_what_it_runs(dsn: str, tmp_path: Path) -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0  # Supabase's schemas on vanilla PG
    loaded = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(loaded)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from dbmigrator.cli.main import main\n"
        "main()\n"
    )
    env = {"DATABASE_URL": dsn, "DBMIGRATOR_CHECKS_JSON": json.dumps({"roleProbes": []})}
    proc = subprocess.run(
        [sys.executable, "-c", code, "up", "--dir", str(REPO / "migrations"), "--no-validate",
         "-o", "json", "--termination-log", str(tmp_path / "termination-log")],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["currentVersion"] == "008"
    assert "✓ ↑ 008_" in proc.stderr  # progress still shows, as plain lines
    modules = json.loads(loaded.read_text())
    assert "psycopg" in modules and "pglast" in modules  # it did run the files
    unexpected = sorted(m for m in modules if m.startswith(NOT_LOADED))
    assert unexpected == [], f"a Job's up loaded {unexpected}"
    assert query(dsn, "select count(*) from supabase_migrations.schema_migrations") == [(8,)]
