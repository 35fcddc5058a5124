"""Human-readable text for status messages, conditions and Events (pure).

Engine errors read like `004_x.sql:12: ERROR 42P01: relation "x" does not exist (hint: ...);
details: kubectl logs job/NAME -n NS`. Anything that looks like a database URI is redacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dbmigrator.api import constants as c
from dbmigrator.api.status import DatabaseMigrationStatus, RunState
from dbmigrator.controller.jobs import build_log_hint
from dbmigrator.controller.observed import ObservedJob
from dbmigrator.controller.stepids import StepId
from dbmigrator.engine.results import RunResult, format_error

# The credentials (up to an '@' on the same line, blanks included: a malformed password may have
# them), then the host part up to a blank, quote, parenthesis or bracket, so the text after a
# URI in `(hint: ...)` survives.
_URI = re.compile(r"postgres(?:ql)?://(?:[^@\n]{0,256}@)?[^\s'\"()\[\]<>]*")


def render_engine_error(result: RunResult | None, job: ObservedJob, namespace: str) -> str:
    """`file:line: ERROR sqlstate: message (hint: ...); details: kubectl logs job/NAME -n NS`."""
    details = f"details: {build_log_hint(job.name, namespace)}"
    if result is not None and result.error is not None:
        text = format_error(result.error)
    elif result is not None:
        text = f"{result.command} failed with exit code {result.exit_code}"
    elif job.state == "Active" and job.stuck is not None:
        text = f"the job's pod could not start, so it was deleted: {job.stuck.describe()}"
    elif job.interrupted:
        text = "the job's pod was deleted or evicted before it reported a result"
        if job.failure_reason:
            text += f" ({job.failure_reason})"
    else:
        text = "the job failed without a result"
        if job.failure_reason:
            text += f" ({job.failure_reason})"
        if job.termination_message:
            first = job.termination_message.strip().splitlines()[-1:] or [""]
            text += f": {first[0][:200]}"
    return clip(redact(f"{text}; {details}"))


def summarize_validation(total: int, failed: int) -> str:
    """'14/14 checks passed' or '2/14 checks failed'."""
    if failed:
        return f"{failed}/{total} checks failed"
    return f"{total}/{total} checks passed"


def redact(text: str) -> str:
    """Hide anything that looks like a database URI (defence in depth: the engine redacts too)."""
    return _URI.sub("postgresql://[redacted]", text)


def success_message(status: DatabaseMigrationStatus, run: RunState) -> str:
    """'8 migrations applied in 3 phases; 14/14 checks passed' (or the rollback's summary)."""
    migrates = [r for r in run.completed if StepId.parse(r.step).kind == "migrate" and r.succeeded]
    applied = sum(r.applied for r in migrates)
    if run.operation == "rollback":
        reverted = sum(r.reverted for r in run.completed)
        text = (
            f"{plural(reverted, 'migration')} reverted "
            f"({run.start_version} -> {status.current_version})"
        )
    elif applied == 0:
        text = f"database is at version {status.current_version}; no migrations were pending"
    else:
        text = f"{plural(applied, 'migration')} applied in {plural(len(migrates), 'phase')}"
    if status.validation is not None:
        text += "; " + summarize_validation(status.validation.total, status.validation.failed)
    return text


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def clip(text: str) -> str:
    return text if len(text) <= c.MESSAGE_LIMIT else text[: c.MESSAGE_LIMIT - 1] + "…"


def render_spec_problems(errors: Sequence[Mapping[str, Any]], limit: int = 5) -> str:
    """The first `limit` problems pydantic found in a spec, each naming its field."""
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:limit]
    )
