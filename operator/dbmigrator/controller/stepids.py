"""The step vocabulary: what a run is made of, named once (pure).

A step id is `StepId(kind, index)`: `plan` (the gate: files, hash, lint, drift), `backup`, `rehearse`, `migrate-<n>` (n = 1-based index of the
phase), `down` or `restore`. `StepId.parse` and `str()` are the only places that read or write the
text form that status, Job names and labels carry. `KINDS` is the one table of what each kind
means to the rest of the operator: the status.phase while it runs, its progress reason, the reason
when it fails, the engine command its Job runs and whether it undoes a failed run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from dbmigrator.api.conditions import Reason

StepKind = Literal["plan", "backup", "rehearse", "migrate", "down", "restore"]
STEP_KINDS: tuple[StepKind, ...] = get_args(StepKind)


@dataclass(frozen=True)
class KindFacts:
    """What one step kind means: `failure` None means the engine's error kind decides."""

    phase: str
    progress: str
    failure: str | None
    command: str
    recovery: bool = False


KINDS: dict[StepKind, KindFacts] = {
    "plan": KindFacts("Planning", Reason.PLANNING, Reason.PLAN_FAILED, "plan"),
    "backup": KindFacts("BackingUp", Reason.BACKING_UP, Reason.BACKUP_FAILED, "backup"),
    "rehearse": KindFacts("Rehearsing", Reason.REHEARSING, Reason.REHEARSAL_FAILED, "rehearse"),
    "migrate": KindFacts("Migrating", Reason.MIGRATING, None, "up"),
    "down": KindFacts("RollingBack", Reason.ROLLING_BACK, Reason.ROLLBACK_FAILED, "down", True),
    "restore": KindFacts("RollingBack", Reason.RESTORING, Reason.RESTORE_FAILED, "restore", True),
}


@dataclass(frozen=True)
class StepId:
    """One step of a run; `index` is the 1-based phase of a migrate step (None otherwise)."""

    kind: StepKind
    index: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {self.kind!r}")
        if (self.kind == "migrate") != (self.index is not None):
            raise ValueError(f"step {self.kind!r}: only a migrate step has a phase index")
        if self.index is not None and self.index < 1:
            raise ValueError(f"migrate step index {self.index} is not 1 or more")

    @classmethod
    def migrate(cls, index: int) -> StepId:
        """The step that migrates phase `index` (1-based)."""
        return cls("migrate", index)

    @classmethod
    def parse(cls, text: str) -> StepId:
        """`migrate-2` -> StepId('migrate', 2); raises ValueError naming an unknown step."""
        head, sep, tail = text.partition("-")
        for kind in STEP_KINDS:
            if head != kind:
                continue
            if kind == "migrate" and sep and tail.isdigit() and not tail.startswith("0"):
                return cls(kind, int(tail))
            if kind != "migrate" and not sep:
                return cls(kind)
        raise ValueError(
            f"unknown step {text!r} (expected plan, backup, rehearse, migrate-<n>, down or restore)"
        )

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}-{self.index}"

    @property
    def facts(self) -> KindFacts:
        """This step's row of `KINDS`."""
        return KINDS[self.kind]

    @property
    def phase_index(self) -> int | None:
        """0-based index into status.phases of a migrate step (None for other steps)."""
        return None if self.index is None else self.index - 1


def parse_step_or_none(text: str | None) -> StepId | None:
    """A step id read from something not ours to trust (a Job label): None when it is not one."""
    try:
        return StepId.parse(text) if text else None
    except ValueError:
        return None
