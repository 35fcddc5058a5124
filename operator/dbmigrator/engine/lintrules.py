"""Migration lint, the pure half: squawk's findings as the project's, in plan context.

The rules, their default levels and reasons are `api/lint.py`; the levels a project sets are the
checks' `lint:` (`api/checks.py` LintConfig). Here squawk's JSON becomes findings with levels,
and the plan context is applied: beyond squawk, which sees one file at a time, a table created
earlier in the same plan does not exist in the live database yet, so it has no rows, readers or
writers, and lock, rewrite and client findings on it are dropped. Which table a statement
targets comes from the PostgreSQL grammar (pglast), not from squawk's parser. No I/O here:
`engine/lint.py` runs squawk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums, parser

from dbmigrator.api.checks import LintConfig
from dbmigrator.api.lint import RULES, Direction, FailOn, Level
from dbmigrator.engine.sqlparse import ParsedFile, Statement

# Rules about the table a statement alters: moot when the table was created earlier in the same
# plan (it does not exist in the live database yet, so it has no rows, locks or clients).
NEW_TABLE_EXEMPT = frozenset(
    {name for name, rule in RULES.items() if rule.category in ("lock", "clients", "loss")}
    - {"ban-drop-database", "ban-drop-schema", "ban-create-domain-with-constraint"}
)


@dataclass(frozen=True)
class LintFinding:
    """One finding, as the user knows the file: its name and 1-based line and column."""

    file: str
    line: int
    column: int
    rule: str
    level: Level
    message: str
    help: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
        }

    @property
    def display(self) -> str:
        return f"{self.file}:{self.line} {self.level} {self.rule} {self.message}"


@dataclass(frozen=True)
class LintReport:
    findings: tuple[LintFinding, ...] = ()
    files: tuple[str, ...] = ()
    direction: Direction = "up"
    fail_on: FailOn = "error"
    dropped: tuple[LintFinding, ...] = field(default=(), compare=False)
    """Findings dropped because their table is created earlier in the plan (for --verbose)."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            "error": sum(f.level == "error" for f in self.findings),
            "warning": sum(f.level == "warning" for f in self.findings),
        }

    @property
    def failed(self) -> bool:
        return any(reaches(f.level, self.fail_on) for f in self.findings)

    def for_file(self, name: str) -> list[LintFinding]:
        return [f for f in self.findings if f.file == name]

    def as_json(self) -> dict[str, Any]:
        return {
            "command": "lint",
            "ok": not self.failed,
            "direction": self.direction,
            "failOn": self.fail_on,
            "files": list(self.files),
            "lint": [f.as_json() for f in self.findings],
            "counts": self.counts,
        }

    def summary(self) -> str:
        c = self.counts
        verdict = "fails" if self.failed else "passes"
        return (
            f"{len(self.files)} file(s) linted: {c['error']} error(s), {c['warning']} warning(s); "
            f"{verdict} --fail-on {self.fail_on}"
        )


def reaches(level: Level, fail_on: FailOn) -> bool:
    if fail_on == "never":
        return False
    return level == "error" or fail_on == "warning"


# --------------------------------------------------------------------------- squawk's output


@dataclass(frozen=True)
class RawFinding:
    """squawk's JSON, 0-based as it reports, `file` as we named it for squawk."""

    file: str
    line: int
    column: int
    rule: str
    message: str
    help: str | None


def parse_squawk_json(text: str) -> list[RawFinding]:
    """squawk --reporter json -> findings; ValueError when the output is not its JSON shape."""
    data = json.loads(text) if text.strip() else []
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of findings")
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError(f"expected a finding object, got {item!r}")
        out.append(
            RawFinding(
                file=str(item["file"]),
                line=int(item.get("line") or 0),
                column=int(item.get("column") or 0),
                rule=str(item.get("rule_name") or "unknown"),
                message=str(item.get("message") or ""),
                help=str(item["help"]) if item.get("help") else None,
            )
        )
    return out


def build_report(
    files: Sequence[ParsedFile],
    raw: Iterable[RawFinding],
    config: LintConfig,
    *,
    direction: Direction = "up",
    fail_on: FailOn | None = None,
    names: Mapping[str, str] | None = None,
    plan_context: bool = True,
) -> LintReport:
    """squawk's findings -> the project's: the file's own name, 1-based positions, levels from
    the config, ignored rules gone and, with `plan_context`, lock/rewrite/client findings on
    tables created earlier in the plan dropped. `names` maps squawk's file names to ours."""
    order = {p.file.name: i for i, p in enumerate(files)}
    names = names or {}
    kept: list[LintFinding] = []
    for r in raw:
        level = config.level(r.rule, direction)
        if level is None:
            continue
        kept.append(
            LintFinding(
                file=names.get(r.file, r.file),
                line=r.line + 1,
                column=r.column + 1,
                rule=r.rule,
                level=level,
                message=r.message,
                help=r.help,
            )
        )
    dropped: list[LintFinding] = []
    if plan_context and any(f.rule in NEW_TABLE_EXEMPT for f in kept):
        kept, dropped = plan_new_table_filter(files, kept)
    key = _sort_key(order)
    return LintReport(
        findings=tuple(sorted(set(kept), key=key)),
        files=tuple(p.file.name for p in files),
        direction=direction,
        fail_on=fail_on or config.fail_on,
        dropped=tuple(sorted(dropped, key=key)),
    )


def _sort_key(order: Mapping[str, int]) -> Any:
    def key(f: LintFinding) -> tuple[int, int, int, str, str]:
        return (order.get(f.file, len(order)), f.line, f.column, f.rule, f.message)

    return key


# --------------------------------------------------------------------------- plan context

TableName = tuple[str, str]
"""(schema, table); an unqualified name counts as public."""


def plan_new_table_filter(
    files: Sequence[ParsedFile], findings: Sequence[LintFinding]
) -> tuple[list[LintFinding], list[LintFinding]]:
    """(kept, dropped): a finding of a NEW_TABLE_EXEMPT rule is dropped when every table its
    statement targets was created by an earlier statement of the plan (this file or an earlier
    one), so it does not exist in the live database yet."""
    facts = {p.file.name: list(_statement_facts(p)) for p in files}
    new_before: dict[tuple[str, int], frozenset[TableName]] = {}
    created: set[TableName] = set()
    for p in files:
        for fact in facts[p.file.name]:
            new_before[(p.file.name, fact.statement.line)] = frozenset(created)
            created |= fact.creates
            for old, new in fact.renames:
                if old in created:
                    created.add(new)
    kept: list[LintFinding] = []
    dropped: list[LintFinding] = []
    for finding in findings:
        at = _statement_at(facts.get(finding.file, []), finding.line)
        if (
            finding.rule in NEW_TABLE_EXEMPT
            and at is not None
            and at.targets
            and at.targets <= new_before[(finding.file, at.statement.line)]
        ):
            dropped.append(finding)
        else:
            kept.append(finding)
    return kept, dropped


@dataclass(frozen=True)
class StatementFacts:
    statement: Statement
    last_line: int
    creates: frozenset[TableName] = frozenset()
    targets: frozenset[TableName] = frozenset()
    """The existing tables the statement locks, alters or drops (empty: none we can tell)."""
    renames: tuple[tuple[TableName, TableName], ...] = ()


_TREE_KINDS = frozenset(
    {
        "CreateStmt",
        "CreateTableAsStmt",
        "IndexStmt",
        "AlterTableStmt",
        "RenameStmt",
        "DropStmt",
        "TruncateStmt",
        "ReindexStmt",
    }
)


def _statement_facts(parsed: ParsedFile) -> Iterator[StatementFacts]:
    for s in parsed.statements:
        last = s.line + s.text.count("\n")
        if s.kind not in _TREE_KINDS:
            yield StatementFacts(s, last)
            continue
        try:
            (raw,) = parser.parse_sql(s.text)
        except (parser.ParseError, ValueError):  # the engine parsed it already; stay safe
            yield StatementFacts(s, last)
            continue
        yield _facts(s, last, raw.stmt)


def _facts(s: Statement, last: int, node: Any) -> StatementFacts:
    if isinstance(node, ast.CreateStmt):
        return StatementFacts(s, last, creates=frozenset({_table(node.relation)}))
    if isinstance(node, ast.CreateTableAsStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        into: Any = node.into
        return StatementFacts(s, last, creates=frozenset({_table(into.rel)}))
    if isinstance(node, ast.IndexStmt | ast.AlterTableStmt) and node.relation is not None:
        return StatementFacts(s, last, targets=frozenset({_table(node.relation)}))
    if isinstance(node, ast.ReindexStmt) and node.relation is not None:
        return StatementFacts(s, last, targets=frozenset({_table(node.relation)}))
    if isinstance(node, ast.TruncateStmt):
        return StatementFacts(s, last, targets=frozenset(_table(r) for r in node.relations or ()))
    if isinstance(node, ast.RenameStmt) and node.relation is not None:
        table = _table(node.relation)
        renames: tuple[tuple[TableName, TableName], ...] = ()
        if node.renameType == enums.ObjectType.OBJECT_TABLE:
            renames = ((table, (table[0], str(node.newname))),)
        return StatementFacts(s, last, targets=frozenset({table}), renames=renames)
    if isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
        tables = set()
        for obj in node.objects or ():
            parts = [str(p.sval) for p in obj if isinstance(p, ast.String)]
            if parts:
                tables.add((parts[-2] if len(parts) > 1 else "public", parts[-1]))
        return StatementFacts(s, last, targets=frozenset(tables))
    return StatementFacts(s, last)


def _table(rangevar: Any) -> TableName:
    return (str(rangevar.schemaname or "public"), str(rangevar.relname))


def _statement_at(facts: Sequence[StatementFacts], line: int) -> StatementFacts | None:
    """The statement whose lines hold `line` (squawk points into it; a finding on a comment line
    before a statement belongs to the statement after it)."""
    for fact in facts:
        if fact.statement.line <= line <= fact.last_line:
            return fact
    following = [f for f in facts if f.statement.line > line]
    return following[0] if following else None
