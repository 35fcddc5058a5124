"""The engine's machine-readable result: what `--output json` prints and a Job's termination message.

This is the contract between the engine (inside a Job) and the operator (reading the pod's
termination message). Pure data, no I/O. Keys are camelCase on the wire.
A termination message holds at most 4096 bytes, so `render_compact` drops detail (longest lists
first) until the document fits, and says so with `truncated: true`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

RESULT_VERSION = 1
TERMINATION_MESSAGE_LIMIT = 4096

ErrorKind = Literal[
    "input",
    "migration",
    "validation",
    "database",
    "lock",
    "drift",
    "schema-drift",
    "backup",
    "interrupted",
    "plan",
]
Command = Literal[
    "plan",
    "up",
    "down",
    "status",
    "validate",
    "backup",
    "restore",
    "rehearse",
    "repair",
    "bootstrap",
    "lint",
    "drift",
]
DRIFT_LIMIT = 20
"""Schema changes listed in a result (`driftCount` counts them all)."""


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class AppliedMigration(_Wire):
    version: str
    name: str
    checksum: str = ""
    duration_ms: float = 0.0
    applied_at: str = ""
    empty: bool | None = None
    """True when the file had no statements (empty or only comments): recorded, nothing ran."""


class RevertedMigration(_Wire):
    version: str
    name: str
    duration_ms: float = 0.0


class CheckFailure(_Wire):
    check: str
    target: str
    message: str


class ValidationSummary(_Wire):
    passed: bool
    total: int
    failed: int
    warnings: int = 0
    failures: list[CheckFailure] = Field(default_factory=list)
    warning_details: list[CheckFailure] = Field(default_factory=list)
    """Each warning named: check, object, message."""


class QueryTiming(_Wire):
    name: str
    baseline_ms: float | None = None
    current_ms: float | None = None
    degradation_percent: float | None = None
    max_degradation_percent: float = 50.0
    passed: bool = True


class BackupInfo(_Wire):
    file: str
    size_bytes: int
    sha256: str
    version: str = ""
    completed_at: str = ""


class PlanFileInfo(_Wire):
    version: str
    name: str
    checksum: str = ""


class LintCounts(_Wire):
    error: int = 0
    warning: int = 0


class PlanLintItem(_Wire):
    file: str
    line: int | None = None
    rule: str
    level: Literal["error", "warning"]
    message: str


class PlanInfo(_Wire):
    """What `plan` computed: the run's files and their hash, what lint found (live-schema
    drift is the result's own `drift`/`driftCount`, as for `up`).

    The hash and the counts always survive compaction; the lists are bounded and then trimmed.
    """

    direction: Literal["up", "down"]
    from_version: str | None = None
    target_version: str
    hash: str
    files: list[PlanFileInfo] = Field(default_factory=list)
    file_count: int = 0
    lint: list[PlanLintItem] = Field(default_factory=list)
    lint_counts: LintCounts = Field(default_factory=LintCounts)


class DriftItem(_Wire):
    """One object changed outside migrations since the last recorded snapshot."""

    object: str
    kind: str
    name: str = ""
    change: str
    message: str


class ErrorInfo(_Wire):
    kind: ErrorKind
    message: str
    file: str | None = None
    line: int | None = None
    sqlstate: str | None = None
    hint: str | None = None


def format_error(error: ErrorInfo) -> str:
    """`file:line: ERROR sqlstate: message (hint: ...)`, the way people read errors."""
    where = ""
    if error.file:
        where = f"{error.file}:{error.line}: " if error.line else f"{error.file}: "
    state = f"ERROR {error.sqlstate}: " if error.sqlstate else ""
    hint = f" (hint: {error.hint})" if error.hint else ""
    return f"{where}{state}{error.message}{hint}"


class RunResult(_Wire):
    """Everything a command reports. Fields a command does not fill keep their defaults."""

    v: int = RESULT_VERSION
    command: Command
    ok: bool
    exit_code: int
    database: str = ""
    from_version: str | None = None
    current_version: str | None = None
    target_version: str | None = None
    applied: list[AppliedMigration] = Field(default_factory=list)
    reverted: list[RevertedMigration] = Field(default_factory=list)
    validation: ValidationSummary | None = None
    performance: list[QueryTiming] = Field(default_factory=list)
    backup: BackupInfo | None = None
    plan: PlanInfo | None = None
    error: ErrorInfo | None = None
    warnings: list[str] = Field(default_factory=list)
    """What the run could not do as asked, e.g. what a rehearsal could not isolate."""
    drift: list[DriftItem] = Field(default_factory=list)
    """Schema changes made outside migrations, found before the run (at most DRIFT_LIMIT)."""
    drift_count: int | None = None
    """How many there were; None when drift was not checked (no baseline, or --drift ignore)."""
    duration_ms: float = 0.0
    truncated: bool = False


def render_json(result: RunResult) -> str:
    """The full result as one line of JSON."""
    return result.model_dump_json(by_alias=True, exclude_none=True)


def render_compact(result: RunResult, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
    """The result as JSON of at most `limit` bytes, dropping detail until it fits."""
    text = render_json(result)
    if len(text.encode()) <= limit:
        return text
    data = json.loads(text)
    data["truncated"] = True
    # Drop per-item detail first, then whole lists, keeping the counts and the error.
    shrinkers: list[Callable[[dict[str, Any]], None]] = [
        lambda d: _trim_list(d.get("validation", {}), "warningDetails", 5),
        lambda d: _trim_list(d.get("validation", {}), "failures", 5),
        lambda d: _trim_list(d, "warnings", 5),
        lambda d: _trim_list(d, "drift", 5),
        lambda d: _trim_list(d, "performance", 5),
        lambda d: _trim_list(d.get("plan", {}), "files", 20),
        lambda d: _trim_list(d.get("plan", {}), "lint", 10),
        lambda d: _trim_list(d, "applied", 20),
        lambda d: _strip_keys(d.get("applied", []), ("checksum", "appliedAt")),
        lambda d: _trim_list(d.get("validation", {}), "warningDetails", 0),
        lambda d: _trim_list(d.get("validation", {}), "failures", 1),
        lambda d: _strip_keys(d.get("plan", {}).get("files", []), ("checksum",)),
        lambda d: _trim_list(d.get("plan", {}), "lint", 3),
        lambda d: _trim_list(d.get("plan", {}), "files", 0),
        lambda d: _trim_list(d.get("plan", {}), "lint", 0),
        lambda d: _trim_list(d, "applied", 0),
        lambda d: _trim_list(d, "reverted", 0),
        lambda d: _trim_list(d, "performance", 0),
        lambda d: _trim_list(d, "warnings", 0),
        lambda d: _trim_list(d, "drift", 0),
        lambda d: _trim_list(d.get("validation", {}), "failures", 0),
        lambda d: _shorten(d.get("error", {}), "message", 1000),
        lambda d: _shorten(d.get("error", {}), "hint", 200),
    ]
    for shrink in shrinkers:
        shrink(data)
        text = json.dumps(data, separators=(",", ":"))
        if len(text.encode()) <= limit:
            return text
    return text.encode()[:limit].decode(errors="ignore")


def parse_result(text: str) -> RunResult:
    """Read a result written by `render_json`/`render_compact` (raises ValueError when it is not one)."""
    return RunResult.model_validate_json(text)


def _trim_list(container: dict[str, object], key: str, keep: int) -> None:
    items = container.get(key)
    if isinstance(items, list) and len(items) > keep:
        container[key] = items[:keep]


def _strip_keys(items: list[dict[str, object]], keys: tuple[str, ...]) -> None:
    for item in items:
        for key in keys:
            item.pop(key, None)


def _shorten(container: dict[str, object], key: str, size: int) -> None:
    value = container.get(key)
    if isinstance(value, str) and len(value) > size:
        container[key] = value[: size - 1] + "…"
