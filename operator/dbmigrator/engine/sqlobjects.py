"""The objects a migration creates, drops and renames, read off its parse trees, and the objects
that should exist after a run (what validation checks are present). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pglast import ast, enums

ObjectKind = Literal[
    "schema",
    "table",
    "view",
    "materialized view",
    "sequence",
    "function",
    "index",
    "policy",
    "trigger",
    "type",
    "publication",
    "publication member",
    "extension",
]
ALL_MEMBERS = "*"
"""`table` of a dropped "publication member" that stands for every table (ALTER … SET TABLE)."""


@dataclass(frozen=True)
class DbObject:
    """An object a migration creates. `table` is set for policies, triggers and indexes, and for
    a publication member (`name` is the publication, `table` one of its tables)."""

    kind: ObjectKind
    name: str
    schema: str | None = None
    table: str | None = None
    table_schema: str | None = None

    @property
    def display(self) -> str:
        qualified = f"{self.schema}.{self.name}" if self.schema else self.name
        if self.kind == "publication member":
            on = f"{self.table_schema}.{self.table}" if self.table_schema else self.table
            return f"table {on} in publication {self.name}"
        if self.table and self.kind in ("policy", "trigger"):
            on = f"{self.table_schema}.{self.table}" if self.table_schema else self.table
            return f"{self.kind} {self.name} on {on}"
        return f"{self.kind} {qualified}"

    def identity(self) -> tuple[str, str, str, str]:
        """What makes two references the same object (unqualified names default to public)."""
        if self.kind in ("policy", "trigger", "publication member"):
            return (self.kind, self.table_schema or "public", self.table or "", self.name)
        if self.kind in ("schema", "publication", "extension"):
            return (self.kind, "", "", self.name)
        kind = (
            "relation"
            if self.kind in ("table", "view", "materialized view", "sequence")
            else self.kind
        )
        return (kind, self.schema or "public", "", self.name)


Change = tuple[Literal["create", "drop", "rename"], DbObject, DbObject | None]


def changes_of(node: Any) -> list[Change]:
    """Objects one statement creates, drops and renames (rename: old, new), in that order."""
    changes: list[Change] = [("create", obj, None) for obj in _created(node)]
    changes.extend(("drop", obj, None) for obj in _dropped(node))
    changes.extend(_publication_changes(node))
    renamed = _renamed(node)
    if renamed:
        changes.append(("rename", renamed[0], renamed[1]))
    return changes


def expected_after(changes: Iterable[Change]) -> list[DbObject]:
    """Objects that should exist after `changes` in order: creates minus later drops."""
    present: dict[tuple[str, str, str, str], DbObject] = {}
    for action, obj, new in changes:
        if action == "create":
            present[obj.identity()] = obj
        elif action == "drop":
            _drop(present, obj)
        elif new is not None:
            old = present.pop(obj.identity(), None)
            if old is not None:
                present[new.identity()] = new
    return list(present.values())


def _drop(present: dict[tuple[str, str, str, str], DbObject], obj: DbObject) -> None:
    present.pop(obj.identity(), None)
    if obj.kind == "publication" or (obj.kind == "publication member" and obj.table == ALL_MEMBERS):
        for key, other in list(present.items()):
            if other.kind == "publication member" and other.name == obj.name:
                del present[key]
    if obj.kind in ("table", "view", "materialized view"):
        # Dropping a table drops its indexes, policies and triggers.
        schema = obj.schema or "public"
        for key, other in list(present.items()):
            if other.table == obj.name and (other.table_schema or "public") == schema:
                del present[key]
    if obj.kind == "schema":
        for key, other in list(present.items()):
            if (other.schema or other.table_schema) == obj.name:
                del present[key]


def _publication_changes(node: Any) -> list[Change]:
    """Tables a CREATE/ALTER PUBLICATION adds or drops, as "publication member" objects (a
    table's membership is visible in pg_publication_tables). ALTER … SET first drops all."""
    if not isinstance(node, ast.CreatePublicationStmt | ast.AlterPublicationStmt):
        return []
    pub = str(node.pubname)
    members = [
        DbObject("publication member", pub, None, str(rel.relname), rel.schemaname)
        for spec in node.pubobjects or ()
        if spec.pubobjtype == enums.PublicationObjSpecType.PUBLICATIONOBJ_TABLE
        and (rel := spec.pubtable.relation) is not None
    ]
    action = getattr(node, "action", enums.AlterPublicationAction.AP_AddObjects)
    if action == enums.AlterPublicationAction.AP_DropObjects:
        return [("drop", m, None) for m in members]
    out: list[Change] = []
    if action == enums.AlterPublicationAction.AP_SetObjects:
        out.append(("drop", DbObject("publication member", pub, None, ALL_MEMBERS), None))
    return out + [("create", m, None) for m in members]


def _strings(items: Sequence[Any] | None) -> list[str]:
    return [str(i.sval) for i in items or () if isinstance(i, ast.String)]


def _split_name(parts: list[str]) -> tuple[str | None, str]:
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None, parts[-1]


def _rel(kind: ObjectKind, rangevar: Any) -> DbObject:
    return DbObject(kind, str(rangevar.relname), rangevar.schemaname)


def _created(node: Any) -> list[DbObject]:
    if isinstance(node, ast.CreateStmt):
        return [_rel("table", node.relation)]
    if isinstance(node, ast.CreateTableAsStmt):
        kind: ObjectKind = (
            "materialized view" if node.objtype == enums.ObjectType.OBJECT_MATVIEW else "table"
        )
        into: Any = node.into
        return [_rel(kind, into.rel)]
    if isinstance(node, ast.ViewStmt):
        return [_rel("view", node.view)]
    if isinstance(node, ast.CreateSeqStmt):
        return [_rel("sequence", node.sequence)]
    if isinstance(node, ast.CreateFunctionStmt):
        schema, name = _split_name(_strings(node.funcname))
        return [DbObject("function", name, schema)]
    if isinstance(node, ast.IndexStmt) and node.idxname:
        rel: Any = node.relation
        return [
            DbObject("index", str(node.idxname), rel.schemaname, str(rel.relname), rel.schemaname)
        ]
    if isinstance(node, ast.CreatePolicyStmt):
        t: Any = node.table
        return [DbObject("policy", str(node.policy_name), None, str(t.relname), t.schemaname)]
    if isinstance(node, ast.CreateTrigStmt):
        r: Any = node.relation
        return [DbObject("trigger", str(node.trigname), None, str(r.relname), r.schemaname)]
    if isinstance(node, ast.CreateSchemaStmt) and node.schemaname:
        return [DbObject("schema", str(node.schemaname))]
    if isinstance(node, ast.CompositeTypeStmt):
        typevar: Any = node.typevar
        return [DbObject("type", str(typevar.relname), typevar.schemaname)]
    if isinstance(node, ast.CreateEnumStmt):
        schema, name = _split_name(_strings(node.typeName))
        return [DbObject("type", name, schema)]
    if isinstance(node, ast.CreateDomainStmt):
        schema, name = _split_name(_strings(node.domainname))
        return [DbObject("type", name, schema)]
    if isinstance(node, ast.CreatePublicationStmt):
        return [DbObject("publication", str(node.pubname))]
    if isinstance(node, ast.CreateExtensionStmt):
        return [DbObject("extension", str(node.extname))]
    return []


_DROP_KINDS: dict[Any, ObjectKind] = {
    enums.ObjectType.OBJECT_TABLE: "table",
    enums.ObjectType.OBJECT_VIEW: "view",
    enums.ObjectType.OBJECT_MATVIEW: "materialized view",
    enums.ObjectType.OBJECT_SEQUENCE: "sequence",
    enums.ObjectType.OBJECT_INDEX: "index",
    enums.ObjectType.OBJECT_FUNCTION: "function",
    enums.ObjectType.OBJECT_PROCEDURE: "function",
    enums.ObjectType.OBJECT_POLICY: "policy",
    enums.ObjectType.OBJECT_TRIGGER: "trigger",
    enums.ObjectType.OBJECT_SCHEMA: "schema",
    enums.ObjectType.OBJECT_TYPE: "type",
    enums.ObjectType.OBJECT_DOMAIN: "type",
    enums.ObjectType.OBJECT_PUBLICATION: "publication",
    enums.ObjectType.OBJECT_EXTENSION: "extension",
}


def _dropped(node: Any) -> list[DbObject]:
    if not isinstance(node, ast.DropStmt):
        return []
    kind = _DROP_KINDS.get(node.removeType)
    if kind is None:
        return []
    out: list[DbObject] = []
    for obj in node.objects or ():
        if isinstance(obj, ast.ObjectWithArgs):
            parts = _strings(obj.objname)
        elif isinstance(obj, ast.TypeName):
            parts = _strings(obj.names)
        elif isinstance(obj, ast.String):
            parts = [str(obj.sval)]
        else:
            parts = _strings(obj)
        if not parts:
            continue
        if kind in ("policy", "trigger"):
            table_parts, name = parts[:-1], parts[-1]
            t_schema, table = _split_name(table_parts)
            out.append(DbObject(kind, name, None, table, t_schema))
        elif kind in ("schema", "publication", "extension"):
            out.append(DbObject(kind, parts[-1]))
        else:
            schema, name = _split_name(parts)
            out.append(DbObject(kind, name, schema))
    return out


_RENAME_KINDS: dict[Any, ObjectKind] = {
    enums.ObjectType.OBJECT_TABLE: "table",
    enums.ObjectType.OBJECT_VIEW: "view",
    enums.ObjectType.OBJECT_INDEX: "index",
    enums.ObjectType.OBJECT_SEQUENCE: "sequence",
}


def _renamed(node: Any) -> tuple[DbObject, DbObject] | None:
    if not isinstance(node, ast.RenameStmt) or node.relation is None:
        return None
    kind = _RENAME_KINDS.get(node.renameType)
    if kind is None:
        return None
    rel = node.relation
    return DbObject(kind, str(rel.relname), rel.schemaname), DbObject(
        kind, str(node.newname), rel.schemaname
    )
