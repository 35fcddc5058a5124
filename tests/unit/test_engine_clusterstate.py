"""What a rehearsal cannot run in its scratch database, and how it puts the server back:
cluster-wide statements found by the parser, and the revert steps from two snapshots."""

from __future__ import annotations

import pytest

from dbmigrator.engine.clusterstate import (
    ClusterState,
    RevertStep,
    Role,
    RoleAttributes,
    plan_revert,
)
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.sqlparse import parse_file, plan_cluster_wide, without_cluster_wide


@pytest.mark.parametrize(
    ("sql", "what", "handling"),
    [
        ("create role app_x login", "CREATE ROLE", "reverted"),
        ("create user app_x", "CREATE ROLE", "reverted"),
        ("alter role app_x nologin", "ALTER ROLE", "reverted"),
        ("alter group app_x add user other", "ALTER ROLE", "reverted"),
        ("alter role app_x set search_path = a, b", "ALTER ROLE ... SET", "reverted"),
        ("alter role app_x rename to app_y", "ALTER ROLE ... RENAME", "reverted"),
        ("drop role app_x", "DROP ROLE", "reverted"),
        ("grant app_x to other", "GRANT/REVOKE role membership", "reverted"),
        ("alter system set work_mem = '8MB'", "ALTER SYSTEM", "skipped"),
        ("create database other", "CREATE DATABASE", "skipped"),
        ("alter database shop set work_mem = '8MB'", "ALTER DATABASE ... SET", "skipped"),
        ("alter database shop owner to app_x", "ALTER ... OWNER ON DATABASE", "skipped"),
        ("alter database shop rename to shop2", "ALTER DATABASE ... RENAME", "skipped"),
        ("grant connect on database shop to app_x", "GRANT/REVOKE ON DATABASE", "skipped"),
        ("comment on role app_x is 'x'", "COMMENT ON ROLE", "skipped"),
        ("create tablespace t location '/x'", "CREATE TABLESPACE", "skipped"),
        ("reassign owned by app_x to other", "REASSIGN OWNED", "not isolated"),
        ("drop owned by app_x", "DROP OWNED", "not isolated"),
    ],
)
def test_cluster_wide_statements_are_found(sql: str, what: str, handling: str) -> None:
    parsed = parse_file(SqlFile("003_roles.sql", f"create table t (a int);\n{sql};\n"))
    (found,) = plan_cluster_wide([parsed])
    assert (found.file, found.line, found.scope.what, found.scope.handling) == (
        "003_roles.sql", 2, what, handling,
    )  # fmt: skip
    kept = without_cluster_wide(parsed).statements
    assert len(kept) == (1 if handling == "skipped" else 2)


@pytest.mark.parametrize(
    "sql",
    [
        "grant select on table t to app_x",
        "comment on table t is 'x'",
        "alter table t owner to app_x",
        "create policy p on t to app_x using (true)",
        "insert into t values (1)",
    ],
)
def test_database_local_statements_are_not_cluster_wide(sql: str) -> None:
    assert plan_cluster_wide([parse_file(SqlFile("001_x.sql", f"{sql};\n"))]) == []


APP = Role("app", RoleAttributes(login=True))
ADMIN = Role("admin", RoleAttributes(superuser=True, login=True))


def state(**changes: object) -> ClusterState:
    base: dict[str, object] = {
        "roles": {10: ADMIN, 20: APP},
        "memberships": {},
        "settings": {(0, 20): ("search_path=public",)},
        "databases": {1: "shop"},
    }
    return ClusterState(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("after", "steps"),
    [
        (state(), []),
        (
            state(roles={10: ADMIN, 20: APP, 30: Role("new_role", RoleAttributes())}),
            [RevertStep("drop role", ("new_role",))],
        ),
        (
            state(roles={10: ADMIN, 20: Role("app_renamed", APP.attributes)}),
            [RevertStep("rename role", ("app_renamed", "app"))],
        ),
        (
            state(roles={10: ADMIN}, settings={}),
            [RevertStep("create role", ("app",), APP.attributes),
             RevertStep("restore settings", ("app",), settings=("search_path=public",))],
        ),
        (
            state(roles={10: ADMIN, 20: Role("app", RoleAttributes(login=False, createdb=True))}),
            [RevertStep("alter role", ("app",), APP.attributes, ("createdb", "login"))],
        ),
        (
            state(memberships={(10, 20): True}),
            [RevertStep("revoke", ("admin", "app"))],
        ),
        (
            state(settings={(0, 20): ("search_path=x, y",), (1, 0): ("work_mem=8MB",)}),
            [RevertStep("restore settings", ("app",), settings=("search_path=public",)),
             RevertStep("restore settings", (), database="shop", settings=())],
        ),
    ],
)  # fmt: skip
def test_plan_revert_puts_the_server_back(after: ClusterState, steps: list[RevertStep]) -> None:
    assert plan_revert(state(), after) == steps


def test_plan_revert_grants_back_a_revoked_membership_and_admin_option() -> None:
    before = state(memberships={(10, 20): True})
    assert plan_revert(before, state()) == [RevertStep("grant", ("admin", "app"), admin=True)]
    assert plan_revert(before, state(memberships={(10, 20): False})) == [
        RevertStep("grant", ("admin", "app"), admin=True)
    ]
    assert plan_revert(state(memberships={(10, 20): False}), before) == [
        RevertStep("revoke admin", ("admin", "app"))
    ]


def test_new_roles_take_their_memberships_and_settings_with_them() -> None:
    after = state(
        roles={10: ADMIN, 20: APP, 30: Role("new_role", RoleAttributes())},
        memberships={(30, 20): False},
        settings={(0, 20): ("search_path=public",), (0, 30): ("work_mem=1MB",)},
    )
    assert plan_revert(state(), after) == [RevertStep("drop role", ("new_role",))]
