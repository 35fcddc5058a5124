"""What a statement needs from the database before it can run: the schemas it names and the
extension it creates. Pure (pglast trees); the preflight compares this with the server.

Schemas are taken from every qualified name in the statement's tree (relations, functions and
their calls, types, `ON SCHEMA`, `IN SCHEMA`, `CREATE EXTENSION … SCHEMA`) and from the bodies
of `LANGUAGE sql` functions, which PostgreSQL checks when the function is created. Row-level
statements (INSERT/UPDATE/DELETE, not parsed into a tree for speed) give their target table's
schema from their first words. DO blocks and plpgsql bodies are opaque: what they need shows
only when they run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast, enums, parser

SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})


@dataclass(frozen=True)
class Needs:
    schemas: frozenset[str] = frozenset()
    extension: str | None = None
    """CREATE EXTENSION's name."""
    creates_schema: str | None = None


NO_NEEDS = Needs()

_DML_TARGET = re.compile(
    r"""^\s*(?:insert\s+into|update|delete\s+from|merge\s+into)\s+(?:only\s+)?
        ("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*\.""",
    re.IGNORECASE | re.VERBOSE,
)


def plan_dml_needs(text: str) -> Needs:
    """The schema of an INSERT/UPDATE/DELETE/MERGE's target, from its first words."""
    match = _DML_TARGET.match(text)
    return NO_NEEDS if match is None else _target_needs(match.group(1))


@functools.lru_cache(maxsize=256)
def _target_needs(schema: str) -> Needs:
    """Needs of a DML target's schema as written (a file of many INSERTs names a few)."""
    return _needs({_ident(schema)})


def plan_needs(node: Any) -> Needs:
    """What one parsed statement needs."""
    schemas = set(_schemas(node))
    extension = creates = None
    if isinstance(node, ast.CreateExtensionStmt):
        extension = str(node.extname)
    if isinstance(node, ast.CreateSchemaStmt) and node.schemaname:
        creates = str(node.schemaname)
    needs = _needs(schemas)
    if extension is None and creates is None:
        return needs
    return Needs(needs.schemas, extension, creates)


def _needs(schemas: set[str]) -> Needs:
    wanted = frozenset(
        s for s in schemas if s not in SYSTEM_SCHEMAS and not s.startswith("pg_temp")
    )
    return Needs(wanted) if wanted else NO_NEEDS


def _ident(text: str) -> str:
    return text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()


def _qualifier(names: Any) -> str | None:
    parts = [str(n.sval) for n in names or () if isinstance(n, ast.String)]
    return parts[-2] if len(parts) >= 2 else None


def _schemas(node: Any) -> Iterator[str]:
    for item in _walk(node):
        if isinstance(item, ast.RangeVar) and item.schemaname:
            yield str(item.schemaname)
        elif isinstance(item, ast.FuncCall | ast.CreateFunctionStmt):
            schema = _qualifier(item.funcname)
            if schema:
                yield schema
        elif isinstance(item, ast.TypeName):
            schema = _qualifier(item.names)
            if schema:
                yield schema
        elif isinstance(item, ast.ObjectWithArgs):
            schema = _qualifier(item.objname)
            if schema:
                yield schema
        elif isinstance(item, ast.GrantStmt) and (
            item.objtype == enums.ObjectType.OBJECT_SCHEMA
            or item.targtype == enums.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA
        ):
            yield from (str(o.sval) for o in item.objects or () if isinstance(o, ast.String))
        elif isinstance(item, ast.DefElem) and item.defname in ("schema", "schemas"):
            arg = item.arg
            values = arg if isinstance(arg, tuple | list) else [arg]
            yield from (str(v.sval) for v in values if isinstance(v, ast.String))
        if isinstance(item, ast.CreateFunctionStmt):
            yield from _sql_body_schemas(item)


def _sql_body_schemas(node: Any) -> Iterator[str]:
    """A LANGUAGE sql function's body is parsed and checked by PostgreSQL at CREATE time."""
    options = {o.defname: o.arg for o in node.options or () if isinstance(o, ast.DefElem)}
    language = options.get("language")
    if not isinstance(language, ast.String) or str(language.sval).lower() != "sql":
        return
    body = options.get("as")
    parts = body if isinstance(body, tuple | list) else [body]
    texts = [str(p.sval) for p in parts if isinstance(p, ast.String)]
    if len(texts) != 1:
        return
    try:
        statements = parser.parse_sql(texts[0])
    except parser.ParseError:
        return  # PostgreSQL will say so, with its own position
    for raw in statements:
        yield from _schemas(raw.stmt)


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}
"""Each node class's attribute names (a pglast node iterates over its class's slots)."""


def _walk(node: Any) -> Iterator[Any]:
    """Every node of the tree. On the hot path of parsing (each DDL statement of every file):
    attribute names are looked up once per node class, scalars are skipped by type."""
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    fields_of = _FIELDS
    while stack:
        item = pop()
        cls = type(item)
        if cls is tuple or cls is list:
            extend(item)
            continue
        fields = fields_of.get(cls)
        if fields is None:
            if not isinstance(item, ast.Node):
                continue
            fields = fields_of[cls] = tuple(item)
        yield item
        for name in fields:
            value = getattr(item, name, None)
            if not isinstance(value, _SCALARS):
                push(value)
