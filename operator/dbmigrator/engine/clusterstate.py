"""The server-wide state a rehearsal can change, and the steps that put it back. Pure.

A rehearsal migrates a scratch database on the same server, but roles, role memberships and
role/database settings (`pg_db_role_setting`) belong to the whole server: a `CREATE ROLE` in a
migration would stay behind and make the real `up` fail (`42710 role already exists`). So the
rehearsal takes a `ClusterState` before and after, and `plan_revert` says what to do to get
back: rename roles back, re-create dropped ones, reset changed attributes, undo membership
changes, restore settings, drop roles that appeared. Roles are compared by oid, so a rename is
a rename, not a drop and a create.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class RoleAttributes:
    superuser: bool = False
    inherit: bool = True
    createrole: bool = False
    createdb: bool = False
    login: bool = False
    replication: bool = False
    bypassrls: bool = False
    connection_limit: int = -1
    valid_until: str | None = None
    password: str | None = None
    """The stored hash, when readable (superuser); None otherwise or when there is none."""


@dataclass(frozen=True)
class Role:
    name: str
    attributes: RoleAttributes


SettingKey = tuple[int, int]
"""(database oid, role oid) of a pg_db_role_setting row; 0 means all."""


@dataclass(frozen=True)
class ClusterState:
    roles: Mapping[int, Role] = field(default_factory=dict)
    memberships: Mapping[tuple[int, int], bool] = field(default_factory=dict)
    """(role oid, member oid) -> admin option."""
    settings: Mapping[SettingKey, tuple[str, ...]] = field(default_factory=dict)
    databases: Mapping[int, str] = field(default_factory=dict)


StepKind = Literal[
    "rename role", "create role", "alter role", "grant", "revoke", "revoke admin",
    "restore settings", "drop role",
]  # fmt: skip


@dataclass(frozen=True)
class RevertStep:
    """One statement's worth of undoing. `names` are role names (role, member) or (old, new);
    `database` names the database of a settings row."""

    kind: StepKind
    names: tuple[str, ...]
    attributes: RoleAttributes | None = None
    changed: tuple[str, ...] = ()
    """For "alter role": the attributes to set back (only those, so a non-superuser never
    touches SUPERUSER)."""
    admin: bool = False
    database: str | None = None
    settings: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        target = " ".join(self.names)
        where = f" in database {self.database}" if self.database else ""
        return f"{self.kind} {target}{where}".strip()


def plan_revert(before: ClusterState, after: ClusterState) -> list[RevertStep]:
    """The steps that turn `after` back into `before`, in an order that works."""
    steps: list[RevertStep] = []
    for oid, old in sorted(before.roles.items()):
        now = after.roles.get(oid)
        if now is None:
            steps.append(RevertStep("create role", (old.name,), old.attributes))
        elif now.name != old.name:
            steps.append(RevertStep("rename role", (now.name, old.name)))
    for oid, old in sorted(before.roles.items()):
        now = after.roles.get(oid)
        if now is not None and now.attributes != old.attributes:
            changed = tuple(
                name
                for name, value in old.attributes.__dict__.items()
                if getattr(now.attributes, name) != value
            )
            steps.append(RevertStep("alter role", (old.name,), old.attributes, changed))
    steps.extend(_memberships(before, after))
    steps.extend(_settings(before, after))
    new = sorted((r.name for oid, r in after.roles.items() if oid not in before.roles))
    steps.extend(RevertStep("drop role", (name,)) for name in new)
    return steps


def _memberships(before: ClusterState, after: ClusterState) -> list[RevertStep]:
    """Memberships between roles that existed before (new roles take theirs with them)."""

    def name(oid: int) -> str | None:
        role = before.roles.get(oid)
        return role.name if role else None

    steps: list[RevertStep] = []
    for (role, member), admin in sorted(after.memberships.items()):
        names = (name(role), name(member))
        if names[0] is None or names[1] is None:
            continue
        was = before.memberships.get((role, member))
        pair = (names[0], names[1])
        if was is None:
            steps.append(RevertStep("revoke", pair))
        elif admin and not was:
            steps.append(RevertStep("revoke admin", pair))
    for (role, member), admin in sorted(before.memberships.items()):
        now = after.memberships.get((role, member))
        if now is None or (admin and not now):
            pair = (_name(before, role), _name(before, member))
            steps.append(RevertStep("grant", pair, admin=admin))
    return steps


def _name(state: ClusterState, oid: int) -> str:
    return state.roles[oid].name


def _settings(before: ClusterState, after: ClusterState) -> list[RevertStep]:
    steps: list[RevertStep] = []
    keys = sorted(set(before.settings) | set(after.settings))
    for key in keys:
        database, role = key
        old, now = before.settings.get(key, ()), after.settings.get(key, ())
        if old == now:
            continue
        if role and role not in before.roles:
            continue  # a new role: dropping it drops its settings
        if database and database not in before.databases:
            continue  # a database that is gone (the scratch database)
        steps.append(
            RevertStep(
                "restore settings",
                (before.roles[role].name,) if role else (),
                database=before.databases.get(database) if database else None,
                settings=old,
            )
        )
    return steps
