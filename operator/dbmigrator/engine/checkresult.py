"""One check's outcome: what validation reports per object, probe, query and table. A plain
value, shared by the modules that run the checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["pass", "fail", "warn", "skip"]
MISSING_OBJECT_STATES = ("42P01", "42883", "42703", "3F000", "42704")
"""SQLSTATEs of a probe or query on an object that does not exist (yet): "not yet" until the
last migration."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    target: str
    outcome: Outcome
    message: str = ""
