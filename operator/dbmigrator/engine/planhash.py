"""The plan a run executes, and its hash: what a human approves is exactly what runs (pure).

A plan is a direction, the database version it starts from, the version it ends at, and the
files it executes in order (version, file name, checksum of that file's text). Its hash is
`sha256:` + the SHA-256 of the canonical JSON of those facts (sorted keys, no spaces, UTF-8), so
it is the same on every machine and after every restart. Only the files of the range run count:

    up    every up file with from < version <= target, ascending
    down  the down file of every version with target < version <= from, descending

`plan` prints the hash; `up`, `down` and `rehearse` take `--expect-plan HASH --plan-from F
--plan-target T` and refuse (PlanChanged) before touching the database when the files of that
range now give another hash, naming the files that changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dbmigrator.engine.errors import InputError, PlanChanged
from dbmigrator.engine.files import MigrationSet
from dbmigrator.engine.options import RunOptions
from dbmigrator.engine.results import PlanFileInfo, PlanInfo

Direction = Literal["up", "down"]
HASH_PREFIX = "sha256:"


@dataclass(frozen=True)
class PlanFile:
    """One file the plan executes."""

    version: str
    name: str
    checksum: str


@dataclass(frozen=True)
class PlanFacts:
    """What a run will do, as the hash sees it."""

    direction: Direction
    from_version: str | None
    target_version: str
    files: tuple[PlanFile, ...]

    @property
    def hash(self) -> str:
        return render_plan_hash(self)


def _key(version: str | None) -> int:
    return int(version) if version else 0


def build_plan(
    migrations: MigrationSet, direction: Direction, from_version: str | None, target: str
) -> PlanFacts:
    """The plan of the range (from, target] (up) or (target, from] (down) of `migrations`."""
    low, high = (_key(from_version), _key(target))
    files: list[PlanFile] = []
    if direction == "up":
        for m in migrations:
            if low < m.key <= high:
                files.append(PlanFile(m.version, m.up.name, m.up.checksum))
    else:
        for m in sorted(migrations, key=lambda m: -m.key):
            if high < m.key <= low:
                if m.down is None:
                    raise InputError(
                        f"no down file for {m.label} (expected {m.label}.down.sql)",
                        file=m.up.name,
                    )
                files.append(PlanFile(m.version, m.down.name, m.down.checksum))
    return PlanFacts(direction, from_version, target, tuple(files))


def render_plan_hash(plan: PlanFacts) -> str:
    """`sha256:<hex>` over the canonical JSON of the plan's facts."""
    document = {
        "direction": plan.direction,
        "fromVersion": str(_key(plan.from_version)),
        "targetVersion": str(_key(plan.target_version)),
        "files": [
            {"version": f.version, "name": f.name, "checksum": f.checksum} for f in plan.files
        ],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return HASH_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def short_hash(value: str) -> str:
    """`sha256:ab12cd34ef56` (12 hex digits) for messages; the full hash elsewhere."""
    head, sep, tail = value.partition(":")
    return f"{head}:{tail[:12]}" if sep else value[:12]


def parse_plan_hash(text: str) -> str:
    """A hash given on the command line: `sha256:` + 64 lowercase hex digits (prefix optional)."""
    value = text.strip().lower()
    if not value.startswith(HASH_PREFIX):
        value = HASH_PREFIX + value
    hexpart = value[len(HASH_PREFIX) :]
    if len(hexpart) != 64 or any(ch not in "0123456789abcdef" for ch in hexpart):
        raise InputError(
            f"--expect-plan {text!r}: expected sha256:<64 hex digits> as printed by "
            "`dbmigrator plan`"
        )
    return value


def check_plan(
    migrations: MigrationSet,
    direction: Direction,
    expected: str,
    from_version: str | None,
    target: str,
) -> PlanFacts:
    """The plan of the range, or PlanChanged (naming the files as they are now) when its hash
    is not `expected`."""
    plan = build_plan(migrations, direction, from_version, target)
    if plan.hash == expected:
        return plan
    raise PlanChanged(
        f"the approved plan {short_hash(expected)} ({direction} {from_version or '0'} -> "
        f"{target}) is not what the files give now ({short_hash(plan.hash)}): "
        f"{_list_files(plan.files)}",
        file=plan.files[0].name if len(plan.files) == 1 else None,
        hint="a migration file in the range changed (or was added or removed) after approval: "
        "compute the plan again (`dbmigrator plan`) and approve its hash",
    )


def _list_files(files: tuple[PlanFile, ...]) -> str:
    if not files:
        return "the range holds no files now"
    shown = ", ".join(f"{f.name} ({short_hash(f.checksum)})" for f in files[:5])
    more = f" and {len(files) - 5} more" if len(files) > 5 else ""
    return f"the range now holds {shown}{more}"


def check_in_range(
    direction: Direction, versions: list[str], from_version: str | None, target: str
) -> None:
    """Refuse (PlanChanged) when the database would run a file outside the approved range:
    the database moved since the plan was computed (another runner, a manual change)."""
    low, high = _key(from_version), _key(target)
    if direction == "up":
        outside = [v for v in versions if not low < int(v) <= high]
    else:
        outside = [v for v in versions if not high < int(v) <= low]
    if outside:
        raise PlanChanged(
            f"the database would run version(s) {', '.join(outside)}, outside the approved plan "
            f"({direction} {from_version or '0'} -> {target}): the database changed since the "
            "plan was computed",
            hint="compute the plan again (`dbmigrator plan`) and approve its hash",
        )


MAX_PLAN_FILES = 50


def build_plan_info(plan: PlanFacts, max_files: int = MAX_PLAN_FILES) -> PlanInfo:
    """The plan as the result document carries it (files bounded, their count kept)."""
    return PlanInfo(
        direction=plan.direction,
        from_version=plan.from_version,
        target_version=plan.target_version,
        hash=plan.hash,
        files=[PlanFileInfo(version=f.version, name=f.name, checksum=f.checksum)
               for f in plan.files[:max_files]],
        file_count=len(plan.files),
    )  # fmt: skip


def check_approved(
    migrations: MigrationSet,
    options: RunOptions,
    direction: Direction,
    current: str | None,
    target: str | None,
    versions: Sequence[str],
) -> bool:
    """With `--expect-plan`: the files of the approved range must give the approved hash, and
    the versions a run executes must lie in that range (PlanChanged otherwise). False when the
    run has no approved plan to keep to. Called before anything changes."""
    if options.expect_plan is None:
        return False
    start = options.plan_from if options.plan_from is not None else current
    end = options.plan_target or target
    if end is None:
        latest = migrations.latest
        end = latest.version if latest is not None else "0"
    check_plan(migrations, direction, options.expect_plan, start, end)
    check_in_range(direction, list(versions), start, end)
    return True
