"""What to run: pending migrations up to a target in phases, or down files back to a target. Pure.

Inputs are the migration set (from files) and the tracking rows read from the database; the
output is an ordered plan or an error naming what the user must fix. Drift (an applied file
that changed since it was applied) is refused here, before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dbmigrator.engine.clisplit import split_like_cli
from dbmigrator.engine.errors import DriftError, InputError
from dbmigrator.engine.files import Migration, MigrationSet

RowOrigin = Literal["dbmigrator", "external", "readded"]


@dataclass(frozen=True)
class AppliedRow:
    """One row of supabase_migrations.schema_migrations and where it came from.

    `dbmigrator`: our history says we applied it, with `checksum`. `external`: no history of
    ours (the Supabase CLI wrote it); `statements` as recorded, compared with the file split the
    CLI's way. `readded`: our latest event for the version removed it (`removed_by`, e.g. a
    down), yet the row is back: someone marked it applied outside dbmigrator.
    """

    version: str
    name: str | None = None
    checksum: str | None = None
    origin: RowOrigin = "dbmigrator"
    statements: tuple[str, ...] | None = None
    removed_by: str | None = None

    @property
    def key(self) -> int:
        return int(self.version)


@dataclass(frozen=True)
class Phase:
    name: str
    through: str


@dataclass(frozen=True)
class PhasePlan:
    name: str
    through: str
    migrations: tuple[Migration, ...]


@dataclass(frozen=True)
class DriftItem:
    """An applied file that changed: by checksum (our rows) or by statements (the CLI's rows)."""

    version: str
    file: str
    recorded: str
    current: str
    by: Literal["checksum", "statements"] = "checksum"

    @property
    def display(self) -> str:
        if self.by == "statements":
            return f"{self.file} (recorded by another tool: {self.recorded}; now {self.current})"
        return f"{self.file} (recorded {self.recorded[:19]}, now {self.current[:19]})"


@dataclass(frozen=True)
class Readded:
    """A version dbmigrator reverted that was marked applied again without running it."""

    version: str
    file: str | None
    removed_by: str

    @property
    def display(self) -> str:
        return (
            f"{self.file or self.version}: reverted by dbmigrator ({self.removed_by}), then "
            "marked applied again outside dbmigrator (e.g. `supabase migration repair --status "
            "applied`) without running it: its objects may be missing"
        )


READDED_HINT = (
    "`dbmigrator repair --status reverted VERSION` then `dbmigrator up` applies it again; "
    "`dbmigrator repair --status applied VERSION` if the database really has its objects"
)


@dataclass(frozen=True)
class StatusReport:
    applied: tuple[tuple[Migration | None, AppliedRow], ...]
    pending: tuple[Migration, ...]
    drift: tuple[DriftItem, ...]
    unknown: tuple[AppliedRow, ...]
    current: str | None
    readded: tuple[Readded, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.drift and not self.readded


@dataclass(frozen=True)
class UpPlan:
    current: str | None
    target: str | None
    phases: tuple[PhasePlan, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def migrations(self) -> list[Migration]:
        return [m for p in self.phases for m in p.migrations]


@dataclass(frozen=True)
class DownPlan:
    current: str | None
    target: str
    migrations: tuple[Migration, ...]


def current_version(applied: Mapping[str, AppliedRow]) -> str | None:
    if not applied:
        return None
    return max(applied.values(), key=lambda r: r.key).version


def plan_status(migrations: MigrationSet, applied: Mapping[str, AppliedRow]) -> StatusReport:
    by_key = {m.key: m for m in migrations}
    rows = sorted(applied.values(), key=lambda r: r.key)
    return StatusReport(
        applied=tuple((by_key.get(r.key), r) for r in rows),
        pending=tuple(m for m in migrations if not _is_applied(m, applied)),
        drift=tuple(find_drift(migrations, applied)),
        unknown=tuple(r for r in rows if r.key not in by_key),
        current=current_version(applied),
        readded=tuple(find_readded(migrations, applied)),
    )


def find_readded(migrations: MigrationSet, applied: Mapping[str, AppliedRow]) -> list[Readded]:
    out = []
    for row in sorted(applied.values(), key=lambda r: r.key):
        if row.origin == "readded":
            m = migrations.get(row.version)
            out.append(Readded(row.version, m.up.name if m else None, row.removed_by or "?"))
    return out


def find_drift(migrations: MigrationSet, applied: Mapping[str, AppliedRow]) -> list[DriftItem]:
    out = []
    for m in migrations:
        row = _row(m, applied)
        if row is None:
            continue
        if row.checksum and row.checksum != m.checksum:
            out.append(DriftItem(m.version, m.up.name, row.checksum, m.checksum))
        elif row.origin == "external" and row.statements:
            item = _statement_drift(m, row.statements)
            if item is not None:
                out.append(item)
    return out


def _statement_drift(m: Migration, recorded: tuple[str, ...]) -> DriftItem | None:
    """A row without our history (the Supabase CLI's): its statements against the file's,
    split as the CLI splits them. An empty or NULL `statements` cannot be compared."""
    current = split_like_cli(m.up.text)
    if current == recorded:
        return None
    first = next(
        (i for i, (a, b) in enumerate(zip(recorded, current, strict=False)) if a != b),
        min(len(recorded), len(current)),
    )
    return DriftItem(
        m.version,
        m.up.name,
        f"{len(recorded)} statement(s)",
        f"{len(current)} in the file, statement {first + 1} differs",
        by="statements",
    )


def plan_up(
    migrations: MigrationSet,
    applied: Mapping[str, AppliedRow],
    target: str | None = None,
    phases: Sequence[Phase] = (),
    *,
    allow_out_of_order: bool = False,
) -> UpPlan:
    drift = find_drift(migrations, applied)
    if drift:
        raise DriftError(
            "applied migrations changed since they were applied: "
            + ", ".join(d.display for d in drift),
            file=drift[0].file,
            hint="restore the original file, or accept the change with "
            "`dbmigrator repair --status applied VERSION`",
        )
    readded = find_readded(migrations, applied)
    if readded:
        raise DriftError(
            "; ".join(r.display for r in readded), file=readded[0].file, hint=READDED_HINT
        )
    if not migrations.migrations:
        return UpPlan(current_version(applied), None, ())
    target_key = (
        migrations.resolve(target, what="target")
        if target is not None
        else migrations.migrations[-1].key
    )
    current = current_version(applied)
    pending = [m for m in migrations if m.key <= target_key and not _is_applied(m, applied)]
    warnings = []
    unknown = [r.version for r in applied.values() if migrations.get(r.version) is None]
    if unknown:
        warnings.append(
            "versions recorded in the database have no file here: " + ", ".join(sorted(unknown))
        )
    if current is not None:
        late = [m for m in pending if m.key < int(current)]
        if late and not allow_out_of_order:
            raise InputError(
                "pending migrations are older than the newest applied one "
                f"({current}): {', '.join(m.up.name for m in late)}",
                file=late[0].up.name,
                hint="renumber them after the latest version, or pass --allow-out-of-order",
            )
    phase_plans = _assign_phases(migrations, pending, phases, target_key)
    target_migration = migrations.get(str(target_key))
    target_version = target_migration.version if target_migration else None
    return UpPlan(current, target_version, tuple(phase_plans), tuple(warnings))


def plan_down(migrations: MigrationSet, applied: Mapping[str, AppliedRow], target: str) -> DownPlan:
    target_key = migrations.resolve(target, allow_zero=True, what="down target")
    current = current_version(applied)
    rows = sorted((r for r in applied.values() if r.key > target_key), key=lambda r: -r.key)
    missing_file = [r.version for r in rows if migrations.get(r.version) is None]
    if missing_file:
        raise InputError(
            f"cannot go down to {target}: applied versions {', '.join(missing_file)} have no "
            f"migration file in {migrations.source}"
        )
    plan = [migrations.get(r.version) for r in rows]
    todo = [m for m in plan if m is not None]
    no_down = [m.version for m in todo if m.down is None]
    if no_down:
        raise InputError(
            f"cannot go down to {target}: no down file for version(s) {', '.join(no_down)} "
            f"(expected {', '.join(m.label + '.down.sql' for m in todo if m.down is None)})",
            file=next(m.up.name for m in todo if m.down is None),
        )
    drift = find_drift(migrations, {r.version: r for r in rows})
    if drift:
        raise DriftError(
            "cannot run down files for migrations that changed since they were applied: "
            + ", ".join(d.file for d in drift),
            file=drift[0].file,
            hint="restore the original file, or `dbmigrator repair --status applied VERSION`",
        )
    return DownPlan(current, target, tuple(todo))


def parse_phase(text: str) -> Phase:
    """`NAME=THROUGH` from the command line."""
    name, sep, through = text.partition("=")
    if not sep or not name or not through.isdigit():
        raise InputError(f"--phase {text!r}: expected NAME=THROUGH, e.g. core=003")
    return Phase(name.strip(), through.strip())


def _assign_phases(
    migrations: MigrationSet, pending: list[Migration], phases: Sequence[Phase], target_key: int
) -> list[PhasePlan]:
    if not phases:
        return [PhasePlan("all", str(pending[-1].version), tuple(pending))] if pending else []
    previous = -1
    for i, phase in enumerate(phases):
        key = migrations.resolve(phase.through, what=f"phase {phase.name!r} (#{i + 1}) through")
        if key <= previous:
            raise InputError(
                f"phase {phase.name!r} ends at {phase.through}, not after the previous phase; "
                "phases must be contiguous ranges in increasing order"
            )
        previous = key
    if previous < target_key:
        raise InputError(
            f"the last phase {phases[-1].name!r} ends at {phases[-1].through}, before the target; "
            "add a phase that reaches the target"
        )
    out = []
    lower = -1
    for phase in phases:
        upper = int(phase.through)
        chosen = tuple(m for m in pending if lower < m.key <= upper)
        out.append(PhasePlan(phase.name, phase.through, chosen))
        lower = upper
    return out


def _row(m: Migration, applied: Mapping[str, AppliedRow]) -> AppliedRow | None:
    row = applied.get(m.version)
    if row is not None:
        return row
    return next((r for r in applied.values() if r.key == m.key), None)


def _is_applied(m: Migration, applied: Mapping[str, AppliedRow]) -> bool:
    return _row(m, applied) is not None
