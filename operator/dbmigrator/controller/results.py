"""Reading a Job's result document without trusting it (pure).

The result comes from a pod's termination message: text written by whatever ran in the pod.
Before any of it reaches status, Events or a restore path, `read_job_result` checks its shape
(and drops the `backup` a step other than `backup` reports: nothing uses it):
the command is the one the step ran, versions are digits, the backup file is a plain relative
path under the resource's own backup directory (no `..`, no absolute path, no odd characters),
the sha256 is 64 hex digits, names, messages and lists have bounded sizes, numbers are finite.
A document that parses but breaks a rule is rejected as a whole (`RejectedResult`); the reason
names the field, never its content.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dbmigrator.controller.jobs import backup_relative_path
from dbmigrator.controller.stepids import StepId
from dbmigrator.engine.results import RunResult, parse_result

MAX_DOCUMENT = 16 * 1024  # the kubelet keeps 4 KiB; anything far larger did not come from it
MAX_NAME = 255
MAX_TEXT = 4096
MAX_ITEMS = 500  # a 4 KiB document holds far fewer
MAX_PATH = 1024

_VERSION = re.compile(r"[0-9]{1,18}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHECKSUM = re.compile(r"[A-Za-z0-9:+/=_-]{0,128}")
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_TIME = re.compile(r"[0-9TZ:.+-]{0,40}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class RejectedResult:
    """A result document that parsed but broke a rule: `problem` names the field."""

    problem: str


def read_job_result(
    text: str | None, step: StepId, resource: str
) -> RunResult | RejectedResult | None:
    """The validated result of `step`'s Job; None when the text is no result document at all
    (a log tail of a container that died first), RejectedResult when it is one but untrustworthy.
    """
    if not text:
        return None
    if len(text) > MAX_DOCUMENT:
        return RejectedResult(f"the document is larger than {MAX_DOCUMENT} characters")
    try:
        result = parse_result(text)
    except ValueError:
        return None
    if step.kind != "backup" and result.backup is not None:
        # Only a backup step's dump becomes status.backup and a restore path; the rehearsal
        # reports its scratch dump (a temporary file): never used, so never kept.
        result = result.model_copy(update={"backup": None})
    problem = check_result(result, step, resource)
    return RejectedResult(problem) if problem else result


def check_result(result: RunResult, step: StepId, resource: str) -> str | None:
    """The first rule `result` breaks for `step` of `resource`, or None."""
    expected = step.facts.command
    if result.command != expected:
        return f"command is {result.command!r}, but the step runs {expected!r}"
    for where, version in (
        ("fromVersion", result.from_version),
        ("currentVersion", result.current_version),
        ("targetVersion", result.target_version),
    ):
        if version is not None and not _VERSION.fullmatch(version):
            return f"{where} is not a version (digits)"
    lists = (
        ("applied", len(result.applied)),
        ("reverted", len(result.reverted)),
        ("performance", len(result.performance)),
    )
    for where, count in lists:
        if count > MAX_ITEMS:
            return f"{where} has more than {MAX_ITEMS} items"
    for i, a in enumerate(result.applied):
        problem = _check_migration(f"applied[{i}]", a.version, a.name) or _check_time(
            f"applied[{i}].appliedAt", a.applied_at
        )
        if problem:
            return problem
        if not _CHECKSUM.fullmatch(a.checksum):
            return f"applied[{i}].checksum is not a checksum"
    for i, r in enumerate(result.reverted):
        problem = _check_migration(f"reverted[{i}]", r.version, r.name)
        if problem:
            return problem
    return _check_backup(result, resource) or _check_plan(result) or _check_details(result)


_PLAN_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def _check_plan(result: RunResult) -> str | None:
    """A plan's hash becomes an approval target and its texts reach status: all bounded."""
    p = result.plan
    if p is None:
        return None
    if not _PLAN_HASH.fullmatch(p.hash):
        return "plan.hash is not sha256:<64 lowercase hex digits>"
    for where, version in (
        ("plan.fromVersion", p.from_version),
        ("plan.targetVersion", p.target_version),
    ):
        if version is not None and not _VERSION.fullmatch(version):
            return f"{where} is not a version (digits)"
    if max(len(p.files), len(p.lint), len(result.drift)) > MAX_ITEMS:
        return f"plan has a list of more than {MAX_ITEMS} items"
    if min(p.file_count, result.drift_count or 0, p.lint_counts.error, p.lint_counts.warning) < 0:
        return "plan has a negative count"
    for i, f in enumerate(p.files):
        problem = _check_migration(f"plan.files[{i}]", f.version, f.name)
        if problem:
            return problem
        if not _CHECKSUM.fullmatch(f.checksum):
            return f"plan.files[{i}].checksum is not a checksum"
    texts = [
        (f"plan.lint[{i}].{k}", v)
        for i, x in enumerate(p.lint)
        for k, v in (("file", x.file), ("rule", x.rule), ("message", x.message))
    ]
    texts += [(f"drift[{i}].{k}", v) for i, x in enumerate(result.drift)
              for k, v in (("object", x.object), ("kind", x.kind), ("name", x.name),
                           ("change", x.change), ("message", x.message))]  # fmt: skip
    for where, value in texts:
        problem = _check_text(where, value, MAX_TEXT if where.endswith("message") else MAX_NAME)
        if problem:
            return problem
    return None


def _check_migration(where: str, version: str, name: str) -> str | None:
    if not _VERSION.fullmatch(version):
        return f"{where}.version is not a version (digits)"
    return _check_text(f"{where}.name", name, MAX_NAME)


def _check_backup(result: RunResult, resource: str) -> str | None:
    b = result.backup
    if b is None:
        return None
    if b.version and not _VERSION.fullmatch(b.version):
        return "backup.version is not a version (digits)"
    if not _SHA256.fullmatch(b.sha256):
        return "backup.sha256 is not 64 lowercase hex digits"
    if b.size_bytes < 0:
        return "backup.sizeBytes is negative"
    problem = check_backup_path(b.file, resource)
    return problem or _check_time("backup.completedAt", b.completed_at)


def check_backup_path(path: str, resource: str) -> str | None:
    """A backup file must be a plain path inside the resource's own directory of the volume."""
    if len(path) > MAX_PATH:
        return f"backup.file is longer than {MAX_PATH} characters"
    relative = backup_relative_path(path)
    if path.startswith("/") and relative == path.lstrip("/"):
        return "backup.file is an absolute path outside the backup volume"
    parts = relative.split("/")
    if any(p in ("", ".", "..") or not _PATH_PART.fullmatch(p) for p in parts):
        return "backup.file is not a plain relative path (letters, digits, . _ -; no ..)"
    if len(parts) < 2 or parts[0] != resource:
        return "backup.file is not in this resource's backup directory"
    return None


def _check_details(result: RunResult) -> str | None:
    for i, p in enumerate(result.performance):
        problem = _check_text(f"performance[{i}].name", p.name, MAX_NAME)
        if problem:
            return problem
        numbers = (p.baseline_ms, p.current_ms, p.degradation_percent, p.max_degradation_percent)
        if any(n is not None and not math.isfinite(n) for n in numbers):
            return f"performance[{i}] has a number that is not finite"
    v = result.validation
    if v is not None:
        if min(v.total, v.failed, v.warnings) < 0 or len(v.failures) > MAX_ITEMS:
            return "validation has negative counts or too many failures"
        for i, f in enumerate(v.failures):
            for field, value in (("check", f.check), ("target", f.target)):
                problem = _check_text(f"validation.failures[{i}].{field}", value, MAX_NAME)
                if problem:
                    return problem
            if len(f.message) > MAX_TEXT:
                return f"validation.failures[{i}].message is too long"
    e = result.error
    if e is not None:
        texts = (("message", e.message, MAX_TEXT), ("hint", e.hint or "", MAX_TEXT))
        for field, value, limit in (*texts, ("file", e.file or "", MAX_NAME)):
            if len(value) > limit:
                return f"error.{field} is too long"
        if e.sqlstate is not None and not re.fullmatch(r"[0-9A-Z]{5}", e.sqlstate):
            return "error.sqlstate is not a SQLSTATE"
    if not math.isfinite(result.duration_ms):
        return "durationMs is not finite"
    return _check_text("database", result.database, MAX_NAME)


def _check_text(where: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{where} is longer than {limit} characters"
    if _CONTROL.search(value):
        return f"{where} has control characters"
    return None


def _check_time(where: str, value: str) -> str | None:
    return None if _TIME.fullmatch(value) else f"{where} is not a timestamp"
