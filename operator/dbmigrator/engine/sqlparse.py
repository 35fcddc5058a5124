"""SQL files through the real PostgreSQL grammar (pglast/libpg_query). Pure.

Splits a file into statements with their line numbers (sqlsplit), classifies each one
(sqlclassify: transactional, cluster-wide, transaction control) and finds the objects a file
creates and drops (sqlobjects) so validation can check that they exist. Syntax errors are
reported with file and line before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pglast import ast, parser

from dbmigrator.engine.errors import SqlSyntaxError
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.sqlclassify import (
    ClusterWide,
    IndexTarget,
    cluster_wide,
    forbidden_transaction_control,
    index_target,
    why_not_transactional,
)
from dbmigrator.engine.sqlneeds import NO_NEEDS, Needs, plan_dml_needs, plan_needs
from dbmigrator.engine.sqlobjects import Change, DbObject, changes_of, expected_after
from dbmigrator.engine.sqlsplit import dml_kind, split_statements, syntax_error


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


def parse_file(file: SqlFile) -> ParsedFile:
    """Parse one file; raises SqlSyntaxError with the file and line of the first error.

    Linear in the size of the file: the statements are located without pglast's quadratic
    location mapping (sqlsplit), line numbers are counted on from the previous statement, and
    only statements whose tree matters (not plain INSERT/UPDATE/DELETE/SELECT/MERGE) are parsed
    into a tree, one by one.
    """
    statements: list[Statement] = []
    changes: list[Change] = []
    line, previous = 1, 0
    for text, start in split_statements(file):
        line += file.text.count("\n", previous, start)
        previous = start
        dml = dml_kind(text)
        node = None if dml is not None else _tree(file, text, line)
        forbidden = forbidden_transaction_control(node)
        if forbidden is not None:
            raise SqlSyntaxError(
                f"{forbidden} is not allowed in a migration file: the engine runs each "
                "file in one transaction of its own",
                file=file.name,
                line=line,
            )
        why = why_not_transactional(node) if node is not None else None
        statements.append(
            Statement(
                text=text,
                line=line,
                kind=type(node).__name__ if node is not None else dml or "",
                transactional=why is None,
                why_not_transactional=why,
                transaction_control=isinstance(node, ast.TransactionStmt),
                index=index_target(node),
                cluster_wide=cluster_wide(node) if node is not None else None,
                needs=plan_needs(node) if node is not None else plan_dml_needs(text),
            )
        )
        if node is not None:
            changes.extend(changes_of(node))
    return ParsedFile(file, tuple(statements), tuple(changes))


def _tree(file: SqlFile, text: str, line: int) -> Any:
    """The statement's parse tree (not asked for row-level DML: no tree needed)."""
    try:
        (raw,) = parser.parse_sql(text)
    except parser.ParseError as exc:  # split accepted it, so this is not expected
        raise syntax_error(SqlFile(file.name, text), exc, first_line=line) from None
    return raw.stmt


def plan_expected_objects(files: Iterable[ParsedFile]) -> list[DbObject]:
    """Objects that should exist after running `files` in order: creates minus later drops."""
    return expected_after(change for parsed in files for change in parsed.changes)


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
