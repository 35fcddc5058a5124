"""Reading the server-wide state a rehearsal can change, and putting it back (I/O).

`read_cluster_state` snapshots roles (from pg_authid when readable, so password changes are seen;
else pg_roles), memberships and pg_db_role_setting; `apply_revert` runs the steps of
`clusterstate.plan_revert`, one by one, reporting each (a step that fails is reported, not
fatal: the rest still runs). Role names are always passed as identifiers, settings as values.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from dbmigrator.engine.clusterstate import ClusterState, RevertStep, Role, RoleAttributes

_ROLE_COLUMNS = (
    "oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, "
    "rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil::text"
)


def read_cluster_state(conn: psycopg.Connection[Any]) -> ClusterState:
    """A snapshot (on an autocommit connection: a refused pg_authid read spoils nothing)."""
    with conn.cursor() as cur:
        try:
            cur.execute(f"SELECT {_ROLE_COLUMNS}, rolpassword FROM pg_authid".encode())
        except psycopg.errors.InsufficientPrivilege:
            cur.execute(f"SELECT {_ROLE_COLUMNS}, NULL FROM pg_roles".encode())
        roles = {int(r[0]): Role(str(r[1]), RoleAttributes(*r[2:])) for r in cur.fetchall()}
        cur.execute(
            b"SELECT roleid, member, bool_or(admin_option) FROM pg_auth_members GROUP BY 1, 2"
        )
        memberships = {(int(r), int(m)): bool(a) for r, m, a in cur.fetchall()}
        cur.execute(b"SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting")
        settings = {(int(d), int(r)): tuple(c or ()) for d, r, c in cur.fetchall()}
        cur.execute(b"SELECT oid, datname FROM pg_database")
        databases = {int(o): str(n) for o, n in cur.fetchall()}
    return ClusterState(roles, memberships, settings, databases)


def apply_revert(conn: psycopg.Connection[Any], steps: list[RevertStep]) -> list[str]:
    """Run the steps; one line per step saying what was done, or why it could not be."""
    done: list[str] = []
    for step in steps:
        try:
            with conn.transaction(), conn.cursor() as cur:
                for statement, params in _render(step):
                    cur.execute(statement, params)
            done.append(f"reverted: {step.display}")
        except psycopg.Error as exc:
            reason = (exc.diag.message_primary or type(exc).__name__).strip()
            done.append(f"could not revert: {step.display}: {reason}")
    return done


def _render(step: RevertStep) -> list[tuple[sql.SQL | sql.Composed, list[Any] | None]]:
    ids = [sql.Identifier(n) for n in step.names]
    if step.kind == "rename role":
        return [(sql.SQL("ALTER ROLE {} RENAME TO {}").format(*ids), None)]
    if step.kind == "drop role":
        return [(sql.SQL("DROP ROLE IF EXISTS {}").format(*ids), None)]
    if step.kind == "grant":
        admin = sql.SQL(" WITH ADMIN OPTION" if step.admin else "")
        return [(sql.SQL("GRANT {} TO {}{}").format(*ids, admin), None)]
    if step.kind == "revoke":
        return [(sql.SQL("REVOKE {} FROM {}").format(*ids), None)]
    if step.kind == "revoke admin":
        return [(sql.SQL("REVOKE ADMIN OPTION FOR {} FROM {}").format(*ids), None)]
    if step.kind in ("create role", "alter role"):
        assert step.attributes is not None
        verb = sql.SQL("CREATE ROLE" if step.kind == "create role" else "ALTER ROLE")
        fields = step.changed or tuple(step.attributes.__dict__)
        options, params = _role_options(step.attributes, fields)
        return [(sql.SQL("{} {} WITH {}").format(verb, ids[0], options), params)]
    return _settings(step)


_FLAGS = {
    "superuser": "SUPERUSER",
    "inherit": "INHERIT",
    "createrole": "CREATEROLE",
    "createdb": "CREATEDB",
    "login": "LOGIN",
    "replication": "REPLICATION",
    "bypassrls": "BYPASSRLS",
}


def _role_options(attrs: RoleAttributes, fields: tuple[str, ...]) -> tuple[sql.Composed, list[Any]]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for name in fields:
        value = getattr(attrs, name)
        if name in _FLAGS:
            parts.append(sql.SQL(("" if value else "NO") + _FLAGS[name]))
        elif name == "connection_limit":
            parts.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(value))))
        elif name == "valid_until":
            parts.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(value or "infinity")))
        elif name == "password":
            # The stored hash goes back as it was (PostgreSQL accepts a SCRAM/MD5 hash as is);
            # it is a parameter of this statement only, never in a message.
            parts.append(sql.SQL("PASSWORD NULL") if value is None else sql.SQL("PASSWORD %s"))
            if value is not None:
                params.append(value)
    return sql.SQL(" ").join(parts), params


def _settings(step: RevertStep) -> list[tuple[sql.SQL | sql.Composed, list[Any] | None]]:
    """Reset the row, then set each `name=value` back FROM CURRENT (so list values such as
    search_path come back exactly as they were stored)."""
    if step.names:
        target = sql.SQL("ALTER ROLE {}").format(sql.Identifier(step.names[0]))
        if step.database:
            target = sql.SQL("{} IN DATABASE {}").format(target, sql.Identifier(step.database))
    else:
        target = sql.SQL("ALTER DATABASE {}").format(sql.Identifier(step.database or ""))
    out: list[tuple[sql.SQL | sql.Composed, list[Any] | None]] = [
        (sql.SQL("{} RESET ALL").format(target), None)
    ]
    for item in step.settings:
        name, _, value = item.partition("=")
        out.append((sql.SQL("SELECT set_config(%s, %s, true)"), [name, value]))
        out.append((sql.SQL("{} SET {} FROM CURRENT").format(target, sql.Identifier(name)), None))
    return out
