"""One check's outcome (what validation reports per object, probe, query and table) and the
report of a validation: plain values, shared by the modules that run the checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dbmigrator.engine.results import CheckFailure, QueryTiming, ValidationSummary

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


@dataclass
class ValidationReport:
    results: list[CheckResult] = field(default_factory=list)
    timings: list[QueryTiming] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> ValidationSummary:
        counted = [r for r in self.results if r.outcome != "skip"]
        return ValidationSummary(
            passed=self.passed,
            total=len([r for r in counted if r.outcome != "warn"]),
            failed=len(self.failures),
            warnings=len(self.warnings),
            failures=[
                CheckFailure(check=r.check, target=r.target, message=r.message)
                for r in self.failures
            ],
            warning_details=[
                CheckFailure(check=r.check, target=r.target, message=r.message)
                for r in self.warnings
            ],
        )

    def failure_text(self, limit: int = 5) -> str:
        """The first `limit` failures on one line, for an error message."""
        return "; ".join(f"{f.check} {f.target}: {f.message}" for f in self.failures[:limit])

    def headline(self) -> str:
        s = self.summary()
        text = f"{s.total - s.failed}/{s.total} checks passed"
        return text + (f", {s.warnings} warning(s)" if s.warnings else "")
