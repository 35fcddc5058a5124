"""How a run behaves: waits, timeouts, retries, validation. A plain value, cheap to import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RunOptions:
    lock_wait: float = 60.0
    lock_timeout: str = "5s"
    statement_timeout: str = "15min"
    retries: int = 3
    retry_delay: float = 1.0
    validate: bool = True
    on_failure: Literal["stop", "down"] = "stop"
    allow_out_of_order: bool = False
    expect_plan: str | None = None
    """Refuse unless the files run give this plan hash (`planhash`); checked before any change."""
    plan_from: str | None = None
    """The approved plan's start version (None: the database's version when the run starts)."""
    plan_target: str | None = None
    """The approved plan's target (None: this run's target)."""
    drift: Literal["fail", "warn", "ignore"] = "warn"
    """Schema changes made outside migrations since the last run: stop before anything runs,
    report and go on, or do not look."""
