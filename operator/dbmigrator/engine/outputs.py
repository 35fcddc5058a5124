"""The `--output json` documents of the commands that report more than a run: plan, status,
drift and lint. Pure data, no I/O; the other commands print a `RunResult` (results.py).

One model per document, used by the CLI to build it and by readers (tests, scripts) to parse
it. Keys are camelCase; unlike `RunResult`, every key is written and an unknown value is
`null` (`currentVersion` before the first run, a plan's `baseline` before the first snapshot),
except the few keys a model names in `_omit_when_none`, which are left out instead. The nested
`plan` object is the `PlanInfo` of the plan step's result and, as there, leaves out its nulls.
A document with a key a model does not know, a missing key or a wrong type is refused
(pydantic's ValidationError names the key).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from dbmigrator.engine.planning import RowOrigin
from dbmigrator.engine.results import DriftItem, LintCounts, PlanInfo

if TYPE_CHECKING:
    from dbmigrator.engine.drift import Baseline

LintLevel = Literal["error", "warning"]
"""lintrules.Level (that module loads pglast; tests/unit/test_engine_outputs.py pins the copy)."""
RehearsalHandling = Literal["reverted", "skipped", "not isolated"]
"""sqlclassify.RehearsalHandling (pinned the same way)."""


class _Output(BaseModel):
    """A command's JSON document, in results.py's wire style but stricter: every key written
    (None as null) unless named in `_omit_when_none`; extra keys refused when parsing."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )
    _omit_when_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _leave_out_nones(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._omit_when_none:
            for key in (name, to_camel(name)):
                if key in data and data[key] is None:
                    del data[key]
        return data


def render_output(document: _Output) -> str:
    """The document as `--output json` prints it: one line, `json.dumps` spacing."""
    return json.dumps(document.model_dump(mode="json", by_alias=True))


class LintFindingItem(_Output):
    """One squawk finding at its file's own 1-based line and column."""

    file: str
    line: int
    column: int
    rule: str
    level: LintLevel
    message: str


class BaselineInfo(_Output):
    """The schema snapshot recorded after the last run (drift is measured against it)."""

    version: str | None
    taken_at: str
    sha256: str

    @classmethod
    def of(cls, baseline: Baseline | None) -> BaselineInfo | None:
        if baseline is None:
            return None
        return cls(version=baseline.version, taken_at=baseline.taken_at, sha256=baseline.sha256)


class NonTransactionalItem(_Output):
    line: int
    reason: str | None


class ClusterWideItem(_Output):
    line: int
    what: str
    rehearsal: RehearsalHandling


class PlanMigration(_Output):
    """One pending up file of `plan` (up): how it will run."""

    version: str
    name: str
    file: str
    checksum: str
    statements: int
    transactional: bool
    empty: bool
    non_transactional: list[NonTransactionalItem]
    cluster_wide: list[ClusterWideItem]
    down: str | None


class PlanPhase(_Output):
    name: str
    through: str
    migrations: list[PlanMigration]


class PlanOutput(_Output):
    """`dbmigrator plan -o json`. `phases` only for an up plan (`plan --down` has none)."""

    _omit_when_none: ClassVar[tuple[str, ...]] = ("phases",)

    command: Literal["plan"] = "plan"
    ok: bool
    current_version: str | None
    target_version: str | None
    warnings: list[str]
    lint: list[LintFindingItem]
    lint_counts: LintCounts
    baseline: BaselineInfo | None
    drift: list[DriftItem]
    drift_count: int
    phases: list[PlanPhase] | None = None
    plan: PlanInfo

    @field_serializer("plan")
    def _sparse_plan(self, plan: PlanInfo) -> dict[str, Any]:
        data: dict[str, Any] = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data


class StatusApplied(_Output):
    version: str
    name: str | None
    checksum: str | None
    recorded_by: RowOrigin
    file: str | None
    """None when the version has no file in the directory."""


class StatusPending(_Output):
    version: str
    name: str
    file: str


class ChecksumDrift(_Output):
    """An applied file that changed since it ran (by checksum, or by statements for rows the
    Supabase CLI wrote)."""

    version: str
    file: str
    by: Literal["checksum", "statements"]
    recorded: str
    current: str


class ReaddedItem(_Output):
    version: str
    file: str | None
    removed_by: str
    message: str


class StatusOutput(_Output):
    """`dbmigrator status -o json`."""

    command: Literal["status"] = "status"
    ok: bool
    current_version: str | None
    applied: list[StatusApplied]
    pending: list[StatusPending]
    drift: list[ChecksumDrift]
    readded: list[ReaddedItem]
    unknown: list[str]
    """Applied versions without a file."""


class DriftOutput(_Output):
    """`dbmigrator drift -o json`; `accepted` (true) only from `drift --accept`."""

    _omit_when_none: ClassVar[tuple[str, ...]] = ("accepted",)

    command: Literal["drift"] = "drift"
    ok: bool
    accepted: bool | None = None
    baseline: BaselineInfo | None
    drift: list[DriftItem]
    count: int


class LintOutput(_Output):
    """`dbmigrator lint -o json`."""

    command: Literal["lint"] = "lint"
    ok: bool
    direction: Literal["up", "down"]
    fail_on: Literal["error", "warning", "never"]
    files: list[str]
    lint: list[LintFindingItem]
    counts: LintCounts
