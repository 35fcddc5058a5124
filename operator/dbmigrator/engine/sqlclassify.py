"""What a parsed statement is, beyond its text: whether it can run in a transaction block,
whether it acts beyond its own database (and what a rehearsal does with it), whether it is
transaction control, and which index it creates. Pure: pglast nodes in, facts out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pglast import ast, enums

RehearsalHandling = Literal["reverted", "skipped", "not isolated"]


@dataclass(frozen=True)
class ClusterWide:
    """A statement whose effect reaches beyond its database (roles, settings, tablespaces, other
    databases), and what a rehearsal on a scratch database of the same server does with it."""

    what: str
    handling: RehearsalHandling

    @property
    def explanation(self) -> str:
        return {
            "reverted": "runs in the rehearsal; roles, memberships and role/database settings "
            "are put back as they were afterwards",
            "skipped": "skipped in the rehearsal: it would act on the real server",
            "not isolated": "runs in the rehearsal but also acts on databases and tablespaces "
            "the roles own or are granted: the rehearsal cannot isolate it",
        }[self.handling]


@dataclass(frozen=True)
class IndexTarget:
    """What a CREATE INDEX names: its table (schema as written, None: the search_path decides)
    and its name (None: PostgreSQL picks one)."""

    table_schema: str | None
    table: str
    name: str | None


_ROLE_STATEMENTS: dict[type, str] = {
    ast.CreateRoleStmt: "CREATE ROLE",
    ast.AlterRoleStmt: "ALTER ROLE",
    ast.AlterRoleSetStmt: "ALTER ROLE ... SET",
    ast.DropRoleStmt: "DROP ROLE",
    ast.GrantRoleStmt: "GRANT/REVOKE role membership",
}
_SERVER_STATEMENTS: dict[type, str] = {
    ast.AlterSystemStmt: "ALTER SYSTEM",
    ast.CreatedbStmt: "CREATE DATABASE",
    ast.DropdbStmt: "DROP DATABASE",
    ast.AlterDatabaseStmt: "ALTER DATABASE",
    ast.AlterDatabaseSetStmt: "ALTER DATABASE ... SET",
    ast.AlterDatabaseRefreshCollStmt: "ALTER DATABASE ... REFRESH COLLATION VERSION",
    ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
    ast.DropTableSpaceStmt: "DROP TABLESPACE",
    ast.AlterTableSpaceOptionsStmt: "ALTER TABLESPACE",
    ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION",
    ast.AlterSubscriptionStmt: "ALTER SUBSCRIPTION",
    ast.DropSubscriptionStmt: "DROP SUBSCRIPTION",
}
_SHARED_OBJECTS = {
    enums.ObjectType.OBJECT_DATABASE: "DATABASE",
    enums.ObjectType.OBJECT_TABLESPACE: "TABLESPACE",
    enums.ObjectType.OBJECT_ROLE: "ROLE",
}


# Statements on a shared object, by the field that names the object's type.
_ON_SHARED: dict[type, tuple[str, str]] = {
    ast.AlterOwnerStmt: ("objectType", "ALTER ... OWNER"),
    ast.GrantStmt: ("objtype", "GRANT/REVOKE"),
    ast.CommentStmt: ("objtype", "COMMENT"),
    ast.SecLabelStmt: ("objtype", "SECURITY LABEL"),
}


def cluster_wide(node: Any) -> ClusterWide | None:
    """Whether a statement acts beyond its own database, and how a rehearsal handles it."""
    if type(node) in _ROLE_STATEMENTS:
        return ClusterWide(_ROLE_STATEMENTS[type(node)], "reverted")
    if type(node) in _SERVER_STATEMENTS:
        return ClusterWide(_SERVER_STATEMENTS[type(node)], "skipped")
    if isinstance(node, ast.RenameStmt) and node.renameType in _SHARED_OBJECTS:
        shared = _SHARED_OBJECTS[node.renameType]
        return ClusterWide(
            f"ALTER {shared} ... RENAME", "reverted" if shared == "ROLE" else "skipped"
        )
    if type(node) in _ON_SHARED:
        field_name, verb = _ON_SHARED[type(node)]
        on = _SHARED_OBJECTS.get(getattr(node, field_name))
        return ClusterWide(f"{verb} ON {on}", "skipped") if on else None
    if isinstance(node, ast.ReassignOwnedStmt):
        return ClusterWide("REASSIGN OWNED", "not isolated")
    if isinstance(node, ast.DropOwnedStmt):
        return ClusterWide("DROP OWNED", "not isolated")
    return None


_ALLOWED_TXN = {
    enums.TransactionStmtKind.TRANS_STMT_BEGIN,
    enums.TransactionStmtKind.TRANS_STMT_START,
    enums.TransactionStmtKind.TRANS_STMT_COMMIT,
}


def forbidden_transaction_control(node: Any) -> str | None:
    """The name of a transaction-control statement a migration file may not hold (ROLLBACK,
    SAVEPOINT, PREPARE TRANSACTION...); None for BEGIN/START/COMMIT and every other statement."""
    if not isinstance(node, ast.TransactionStmt) or node.kind in _ALLOWED_TXN:
        return None
    kind: Any = node.kind
    return str(kind.name).removeprefix("TRANS_STMT_").replace("_", " ")


def why_not_transactional(node: Any) -> str | None:
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt):
        if any(getattr(p, "defname", None) == "concurrently" for p in node.params or ()):
            return "REINDEX CONCURRENTLY"
        if node.kind in (
            enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM,
            enums.ReindexObjectType.REINDEX_OBJECT_DATABASE,
        ):
            return "REINDEX SYSTEM/DATABASE"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return "VACUUM"
    if isinstance(node, ast.ClusterStmt) and node.relation is None:
        return "CLUSTER without a table"
    names = {
        ast.CreatedbStmt: "CREATE DATABASE",
        ast.DropdbStmt: "DROP DATABASE",
        ast.AlterSystemStmt: "ALTER SYSTEM",
        ast.CreateTableSpaceStmt: "CREATE TABLESPACE",
        ast.DropTableSpaceStmt: "DROP TABLESPACE",
        ast.CreateSubscriptionStmt: "CREATE SUBSCRIPTION",
        ast.DropSubscriptionStmt: "DROP SUBSCRIPTION",
    }
    for node_type, why in names.items():
        if isinstance(node, node_type):
            return why
    return None


def index_target(node: Any) -> IndexTarget | None:
    if not isinstance(node, ast.IndexStmt):
        return None
    rel: Any = node.relation
    return IndexTarget(rel.schemaname, str(rel.relname), node.idxname)
