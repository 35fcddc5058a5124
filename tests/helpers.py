"""Shared test helpers: the real `dbmigrator` CLI as a subprocess, SQL queries, migration sets on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, dsn: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> CliResult:  # fmt: skip
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DBMIGRATOR_CHECKS_JSON")
    }
    if dsn is not None:
        full_env["DATABASE_URL"] = dsn
    full_env.update(env or {})
    proc = subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def write_set(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def query(dsn: str, text: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(text.encode(), params or None)
        return list(cur.fetchall()) if cur.description else []
