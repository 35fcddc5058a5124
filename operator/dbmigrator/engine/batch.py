"""A transactional file as a few multi-statement queries instead of one round trip a statement.

PostgreSQL's simple query protocol takes several statements in one message and runs them in
order, stopping at the first error. One message per file (BEGIN, the settings, the file's
statements, the tracking and history rows, COMMIT) saves the per-statement client work and round
trips that dominate small files; a large file is cut into messages of about `MAX_CHARS` so
progress and interrupt checks still come between them. Pure: composing the text and finding the
statement an error belongs to, from the error's position in the message (errors found while
analysing a statement) or from how many statements completed before it (all others).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

SEPARATOR = "\n;\n"  # a statement may end in a -- comment: the semicolon goes on a line of its own
MAX_CHARS = 256 * 1024
"""Statements are gathered into one message up to this size (a longer statement is alone)."""


@dataclass(frozen=True)
class Batch:
    """One message's text; for each of its statements, `indexes`: the file statement's number
    (1-based), 0 for the engine's own (BEGIN, settings, tracking rows, COMMIT); `starts`: its
    0-based offset in the text."""

    text: str
    indexes: tuple[int, ...]
    starts: tuple[int, ...]

    def locate(self, completed: int | None, position: int | None) -> tuple[int, int | None]:
        """The file statement (1-based; 0 when the failure is in the engine's own part or cannot
        be told) an error belongs to, and the error's 1-based position inside that statement.

        `position` is the server's 1-based character position in the whole message, present for
        errors found while parsing or analysing a statement; `completed` is how many of the
        message's statements completed before the failing one (from the results received)."""
        if position is not None and 0 < position <= len(self.text):
            n = max(bisect.bisect_right(self.starts, position - 1) - 1, 0)
            index = self.indexes[n]
            return index, (position - self.starts[n] if index else None)
        if completed is not None and 0 <= completed < len(self.indexes):
            return self.indexes[completed], None
        return 0, None


def compose(
    head: Sequence[str], statements: Sequence[tuple[int, str]], tail: Sequence[str], label: str = ""
) -> Batch:
    """One message: the engine's `head` statements, the file's (index, text) statements, then
    the engine's `tail`; `label` first, as a comment (see `label`)."""
    texts = [*head, *(text for _, text in statements), *tail]
    indexes = (0,) * len(head) + tuple(index for index, _ in statements) + (0,) * len(tail)
    prefix = f"/* {label} */\n" if label else ""
    starts, offset = [], len(prefix)
    for text in texts:
        starts.append(offset)
        offset += len(text) + len(SEPARATOR)
    return Batch(prefix + SEPARATOR.join(texts), indexes, tuple(starts))


def label(direction: str, file: str, first_line: int | None, statements: range, total: int) -> str:
    """What a message says about itself in `pg_stat_activity.query`, which shows a message from
    its start (the first 1 KiB by default): the file and the statements it carries. Text that
    would end or nest the comment is broken up."""
    where = f"{file}:{first_line}" if first_line is not None else file
    what = (
        f"statements {statements.start + 1}-{statements.stop} of {total}"
        if statements
        else "tracking"
    )
    text = f"dbmigrator {direction} {where}, {what}"
    return text.replace("*/", "*_/").replace("/*", "/_*")


def chunks(texts: Sequence[str], max_chars: int = MAX_CHARS) -> list[range]:
    """The file's statements (their texts, in order) cut into runs of consecutive indexes
    (0-based) of at most `max_chars` characters each; a longer statement makes a run alone.
    No statements: one empty run, so the message with the tracking rows is still sent."""
    runs: list[range] = []
    start, size = 0, 0
    for i, text in enumerate(texts):
        if i > start and size + len(text) > max_chars:
            runs.append(range(start, i))
            start, size = i, 0
        size += len(text) + len(SEPARATOR)
    runs.append(range(start, len(texts)))
    return runs
