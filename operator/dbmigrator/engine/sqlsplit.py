"""A SQL file cut into statements, each with its character offset, in linear time. Pure.

pglast's `parse_sql` maps every node location from UTF-8 bytes to characters by walking a list
of all multi-byte characters before it, which is quadratic for a big file with non-ASCII text (a
10 MB file took minutes). So the file is split with the parser (no location mapping) and each
statement is found in the text by skipping only blanks, semicolons and comments from the end of
the previous one. Syntax errors name the file and line, with a hint for the usual mistakes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pglast import parser

from dbmigrator.engine.errors import SqlSyntaxError
from dbmigrator.engine.files import SqlFile

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
_WHITESPACE = frozenset(" \t\n\r\f\v;")


def split_statements(file: SqlFile) -> list[tuple[str, int]]:
    """Each statement of the file with its character offset; raises SqlSyntaxError with the
    file and line of the first error."""
    try:
        texts = parser.split(file.text, with_parser=True)
    except parser.ParseError as exc:
        raise syntax_error(file, exc) from None
    located = _locate(file.text, texts)
    if located is None:  # cannot happen for parser output; stay exact if it ever does
        located = _locate_slowly(file)
    return located


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset (one lookup; parse_file counts incrementally)."""
    return text.count("\n", 0, max(0, offset)) + 1


def dml_kind(text: str) -> str | None:
    """The node type of a row-level DML statement (known from its first word), else None: the
    statement needs its parse tree."""
    return _DML_KINDS.get(_first_word(text))


def _first_word(text: str) -> str:
    match = _FIRST_WORD.match(text)
    return match.group(0).lower() if match else ""


def syntax_error(file: SqlFile, exc: parser.ParseError, first_line: int = 1) -> SqlSyntaxError:
    message = str(exc.args[0]) if exc.args else str(exc)
    offset = int(exc.args[1]) if len(exc.args) > 1 and exc.args[1] is not None else 0
    return SqlSyntaxError(
        f"syntax error: {message}",
        file=file.name,
        line=first_line - 1 + line_of(file.text, offset),
        hint=_syntax_hint(file.text, offset),
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
