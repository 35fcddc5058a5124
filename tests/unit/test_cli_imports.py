"""Start-up time (issue 11): registering the commands loads none of the heavy modules; each
command loads what it needs when it runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "psycopg",
    "pglast",
    "kopf",
    "kubernetes",
    "dbmigrator.controller",
    "dbmigrator.engine.runner",
    "dbmigrator.engine.outputs",
    "rich",
    "yaml",
)


def test_the_command_group_loads_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from dbmigrator.cli.main import main\n"
        "assert len(main.commands) == 13, sorted(main.commands)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", f"loaded at start-up: {out.stdout}"


def test_python_dash_m_runs_the_same_command() -> None:
    for module in ("dbmigrator", "dbmigrator.cli"):
        out = subprocess.run(
            [sys.executable, "-m", module, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("dbmigrator, version "), out.stdout
