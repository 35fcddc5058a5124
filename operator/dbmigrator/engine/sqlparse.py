"""SQL files through the real PostgreSQL grammar (pglast/libpg_query). Pure.

Splits a file into statements with their line numbers, spots statements that cannot run inside a
transaction block, and finds the objects a file creates and drops so validation can check that
they exist. Syntax errors are reported with file and line before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pglast import ast, enums, parser

from dbmigrator.engine.errors import SqlSyntaxError
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.sqlneeds import NO_NEEDS, Needs, plan_dml_needs, plan_needs

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


@dataclass(frozen=True)
class Statement:
    text: str
    line: int
    kind: str
    transactional: bool = True
    why_not_transactional: str | None = None
    transaction_control: bool = False
    index: IndexTarget | None = None
    cluster_wide: ClusterWide | None = None
    needs: Needs = NO_NEEDS
    """Schemas it names and the extension it creates (the preflight's input)."""

    @property
    def summary(self) -> str:
        first = " ".join(self.text.split())
        return first if len(first) <= 72 else first[:69] + "..."


Change = tuple[Literal["create", "drop", "rename"], DbObject, DbObject | None]


@dataclass(frozen=True)
class ParsedFile:
    file: SqlFile
    statements: tuple[Statement, ...]
    changes: tuple[Change, ...]
    """Objects created, dropped and renamed, in file order (rename: old, new)."""

    @property
    def creates(self) -> list[DbObject]:
        return [obj for action, obj, _ in self.changes if action == "create"]

    @property
    def transactional(self) -> bool:
        return all(s.transactional for s in self.statements)

    @property
    def non_transactional(self) -> list[Statement]:
        return [s for s in self.statements if not s.transactional]

    @property
    def executable(self) -> list[Statement]:
        """Statements to run: explicit BEGIN/COMMIT are dropped, the engine owns transactions."""
        return [s for s in self.statements if not s.transaction_control]

    @property
    def empty(self) -> bool:
        """Nothing to run: the file is empty, only comments, or only BEGIN/COMMIT."""
        return not any(not s.transaction_control for s in self.statements)


def plan_empty_warnings(files: Iterable[ParsedFile]) -> list[str]:
    """A warning per file that would be recorded as applied without running anything."""
    return [
        f"{p.file.name} has no statements (empty or only comments): it would be recorded as "
        "applied without running anything"
        for p in files
        if p.empty
    ]


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset (one lookup; parse_file counts incrementally)."""
    return text.count("\n", 0, max(0, offset)) + 1


def parse_file(file: SqlFile) -> ParsedFile:
    """Parse one file; raises SqlSyntaxError with the file and line of the first error.

    Linear in the size of the file. pglast's `parse_sql` maps every node location from UTF-8
    bytes to characters by walking a list of all multi-byte characters before it, which is
    quadratic for a big file with non-ASCII text (a 10 MB file took minutes). So the file is
    split with the parser (no location mapping), each statement is found in the text by
    skipping only blanks, semicolons and comments from the end of the previous one, line numbers
    are counted on from the previous statement, and only statements whose tree matters (not
    plain INSERT/UPDATE/DELETE/SELECT/MERGE) are parsed into a tree, one by one.
    """
    try:
        texts = parser.split(file.text, with_parser=True)
    except parser.ParseError as exc:
        raise _syntax_error(file, exc) from None
    located = _locate(file.text, texts)
    if located is None:  # cannot happen for parser output; stay exact if it ever does
        located = _locate_slowly(file)
    statements: list[Statement] = []
    changes: list[Change] = []
    line, previous = 1, 0
    for text, start in located:
        line += file.text.count("\n", previous, start)
        previous = start
        node = _tree(file, text, line)
        why = _why_not_transactional(node) if node is not None else None
        control = isinstance(node, ast.TransactionStmt)
        if control and node.kind not in _ALLOWED_TXN:
            raise SqlSyntaxError(
                f"{_txn_name(node)} is not allowed in a migration file: the engine runs each "
                "file in one transaction of its own",
                file=file.name,
                line=line,
            )
        statements.append(
            Statement(
                text=text,
                line=line,
                kind=type(node).__name__ if node is not None else _dml_kind(text),
                transactional=why is None,
                why_not_transactional=why,
                transaction_control=control,
                index=_index_target(node),
                cluster_wide=cluster_wide(node) if node is not None else None,
                needs=plan_needs(node) if node is not None else plan_dml_needs(text),
            )
        )
        if node is None:
            continue
        changes.extend(("create", obj, None) for obj in _created(node))
        changes.extend(("drop", obj, None) for obj in _dropped(node))
        changes.extend(_publication_changes(node))
        renamed = _renamed(node)
        if renamed:
            changes.append(("rename", renamed[0], renamed[1]))
    return ParsedFile(file, tuple(statements), tuple(changes))


# Statements whose first word says they only read or write rows: nothing in their tree matters
# to planning (they never create objects nor need to run outside a transaction).
_DML_KINDS = {
    "insert": "InsertStmt",
    "update": "UpdateStmt",
    "delete": "DeleteStmt",
    "select": "SelectStmt",
    "values": "SelectStmt",
    "merge": "MergeStmt",
}
_FIRST_WORD = re.compile(r"[A-Za-z]+")


def _dml_kind(text: str) -> str:
    return _DML_KINDS[_first_word(text)]


def _first_word(text: str) -> str:
    match = _FIRST_WORD.match(text)
    return match.group(0).lower() if match else ""


def _tree(file: SqlFile, text: str, line: int) -> Any:
    """The statement's parse tree, or None for row-level DML (no tree needed)."""
    if _first_word(text) in _DML_KINDS:
        return None
    try:
        (raw,) = parser.parse_sql(text)
    except parser.ParseError as exc:  # split accepted it, so this is not expected
        raise _syntax_error(SqlFile(file.name, text), exc, first_line=line) from None
    return raw.stmt


def _syntax_error(file: SqlFile, exc: parser.ParseError, first_line: int = 1) -> SqlSyntaxError:
    message = str(exc.args[0]) if exc.args else str(exc)
    offset = int(exc.args[1]) if len(exc.args) > 1 and exc.args[1] is not None else 0
    return SqlSyntaxError(
        f"syntax error: {message}",
        file=file.name,
        line=first_line - 1 + line_of(file.text, offset),
        hint=_syntax_hint(file.text, offset),
    )


_WHITESPACE = frozenset(" \t\n\r\f\v;")


def _locate(text: str, statements: Sequence[str]) -> list[tuple[str, int]] | None:
    """Each statement with its character offset, found by skipping what may lie between two
    statements (blanks, semicolons, comments); None if a statement is not where expected."""
    out: list[tuple[str, int]] = []
    pos = 0
    for statement in statements:
        pos = _skip_gap(text, pos)
        if not text.startswith(statement, pos):
            return None
        out.append((statement, pos))
        pos += len(statement)
    return out


def _skip_gap(text: str, pos: int) -> int:
    size = len(text)
    while pos < size:
        char = text[pos]
        if char in _WHITESPACE or char.isspace():  # the parser's split strips Unicode spaces too
            pos += 1
        elif text.startswith("--", pos):
            end = text.find("\n", pos)
            pos = size if end < 0 else end + 1
        elif text.startswith("/*", pos):
            pos = _skip_block_comment(text, pos)
        else:
            break
    return pos


def _skip_block_comment(text: str, pos: int) -> int:
    """PostgreSQL block comments nest."""
    depth, pos = 1, pos + 2
    while depth and pos < len(text):
        if text.startswith("/*", pos):
            depth, pos = depth + 1, pos + 2
        elif text.startswith("*/", pos):
            depth, pos = depth - 1, pos + 2
        else:
            pos += 1
    return pos


def _locate_slowly(file: SqlFile) -> list[tuple[str, int]]:
    """pglast's own character offsets (quadratic with non-ASCII text, but exact)."""
    out = []
    for item in parser.parse_sql(file.text):
        start = item.stmt_location or 0
        length = item.stmt_len or (len(file.text) - start)
        raw = file.text[start : start + length]
        out.append((raw.strip(), start + len(raw) - len(raw.lstrip())))
    return out


@dataclass(frozen=True)
class ClusterWideStatement:
    file: str
    line: int
    scope: ClusterWide

    @property
    def display(self) -> str:
        return f"{self.file}:{self.line}: {self.scope.what}: {self.scope.explanation}"


def plan_cluster_wide(files: Iterable[ParsedFile]) -> list[ClusterWideStatement]:
    """The statements of `files` that a rehearsal cannot simply run in its scratch database."""
    return [
        ClusterWideStatement(p.file.name, s.line, s.cluster_wide)
        for p in files
        for s in p.executable
        if s.cluster_wide is not None
    ]


def without_cluster_wide(parsed: ParsedFile) -> ParsedFile:
    """The file as a rehearsal runs it: statements it must skip are left out."""
    kept = tuple(
        s
        for s in parsed.statements
        if s.cluster_wide is None or s.cluster_wide.handling != "skipped"
    )
    return parsed if len(kept) == len(parsed.statements) else replace(parsed, statements=kept)


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


def plan_expected_objects(files: Iterable[ParsedFile]) -> list[DbObject]:
    """Objects that should exist after running `files` in order: creates minus later drops."""
    present: dict[tuple[str, str, str, str], DbObject] = {}
    for parsed in files:
        for action, obj, new in parsed.changes:
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


_ALLOWED_TXN = {
    enums.TransactionStmtKind.TRANS_STMT_BEGIN,
    enums.TransactionStmtKind.TRANS_STMT_START,
    enums.TransactionStmtKind.TRANS_STMT_COMMIT,
}


def _txn_name(node: Any) -> str:
    return str(node.kind.name).removeprefix("TRANS_STMT_").replace("_", " ")


def _why_not_transactional(node: Any) -> str | None:
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


def _index_target(node: Any) -> IndexTarget | None:
    if not isinstance(node, ast.IndexStmt):
        return None
    rel: Any = node.relation
    return IndexTarget(rel.schemaname, str(rel.relname), node.idxname)


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


def _syntax_hint(text: str, offset: int) -> str | None:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start : text.find("\n", offset) if "\n" in text[offset:] else len(text)]
    stripped = line.lstrip()
    if stripped.startswith("\\"):
        return "psql meta-commands (\\i, \\set, ...) are not SQL; the engine runs plain SQL only"
    if "from stdin" in text[max(0, offset - 200) : offset].lower():
        return "COPY ... FROM stdin data cannot be embedded in a migration; use INSERT statements"
    return f"near: {stripped[:80]}" if stripped else None
