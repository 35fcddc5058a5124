"""Migration lint with squawk: runs the binary once over the files of a plan (the I/O edge).

The files are written to a private temporary directory under neutral names (so no project
`.squawk.toml` or path pattern changes the result) and squawk runs once with `--reporter json
--assume-in-transaction` (the engine runs every file in a transaction of its own, except files
with CONCURRENTLY, which it runs statement by statement). Levels, ignores and the plan context
are `api/lint.py` and `engine/lintrules.py` (pure). squawk's own `-- squawk-ignore rule` and
`-- squawk-ignore-file` comments keep working: squawk reads the file text as written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dbmigrator.api.checks import LintConfig
from dbmigrator.api.lint import Direction, FailOn
from dbmigrator.engine.errors import EngineError, InputError
from dbmigrator.engine.lintrules import LintReport, build_report, parse_squawk_json
from dbmigrator.engine.sqlparse import ParsedFile

SQUAWK_ENV = "DBMIGRATOR_SQUAWK"
SQUAWK_TIMEOUT = 300.0


@dataclass
class LintUnavailable(EngineError):
    """squawk is missing or failed: not the files' fault."""

    exit_code: int = 1


def find_squawk() -> str:
    """$DBMIGRATOR_SQUAWK, else the squawk beside this Python (the venv or the image, where the
    squawk-cli wheel puts it), else the first on PATH."""
    override = os.environ.get(SQUAWK_ENV)
    if override:
        if not Path(override).is_file():
            raise InputError(f"{SQUAWK_ENV}={override} is not a file")
        return override
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("squawk")
    if found:
        return found
    raise InputError(
        "squawk is not installed: lint needs the squawk binary",
        hint=f"pip install squawk-cli (it ships the binary), or set {SQUAWK_ENV}",
    )


def lint_files(
    files: Sequence[ParsedFile],
    config: LintConfig | None = None,
    *,
    direction: Direction = "up",
    fail_on: FailOn | None = None,
    plan_context: bool = True,
) -> LintReport:
    """Lint the files of one plan, in plan order (an up plan's up files, or a down plan's down
    files in the order they would run). `plan_context`: findings of lock/rewrite/client rules
    on tables created earlier in the plan are dropped (see lintrules)."""
    config = config or LintConfig()
    if not files:
        return build_report([], [], config, direction=direction, fail_on=fail_on)
    squawk = find_squawk()
    args = [squawk, "--reporter", "json", "--assume-in-transaction"]
    if config.included:
        args.append("--include=" + ",".join(config.included))
    try:
        with tempfile.TemporaryDirectory(prefix="dbmigrator-lint-") as tmp:
            names: dict[str, str] = {}
            for index, parsed in enumerate(files):
                alias = f"{index:05d}.sql"
                Path(tmp, alias).write_text(parsed.file.text, encoding="utf-8")
                names[alias] = parsed.file.name
            done = subprocess.run(
                [*args, *names],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=SQUAWK_TIMEOUT,
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise LintUnavailable(f"squawk took longer than {SQUAWK_TIMEOUT:.0f}s") from None
    except OSError as exc:  # no writable temporary directory, or the binary cannot start
        raise LintUnavailable(
            f"cannot run squawk ({squawk}) on copies of the files in a temporary directory: {exc}",
            hint="lint needs a writable TMPDIR (or /tmp)",
        ) from None
    if done.returncode not in (0, 1):
        raise LintUnavailable(
            f"squawk failed (exit {done.returncode}): {done.stderr.strip()[:500]}"
        )
    try:
        raw = parse_squawk_json(done.stdout)
    except (ValueError, KeyError) as exc:
        raise LintUnavailable(f"squawk printed output that is not its JSON report: {exc}") from None
    return build_report(
        files,
        raw,
        config,
        direction=direction,
        fail_on=fail_on,
        names=names,
        plan_context=plan_context,
    )


def squawk_version() -> str:
    """`squawk --version`'s answer, e.g. `squawk 2.70.0`."""
    done = subprocess.run(
        [find_squawk(), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout.strip()
