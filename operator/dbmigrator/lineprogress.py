"""Progress as plain lines, for a Job's log, CI and pipes: what `console.ConsoleProgress` shows
when not on a terminal, without loading rich (start-up time: issue 11) and without wrapping.

One line per phase, per file started and finished, per warning and per validation; with
`verbose`, one per statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from dbmigrator.engine.files import Migration
from dbmigrator.engine.progress import Progress

if TYPE_CHECKING:  # pglast loads only for the commands that parse SQL
    from dbmigrator.engine.sqlparse import Statement


class LineProgress(Progress):
    def __init__(self, stream: TextIO, verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()  # a Job's log shows each line as it happens

    def info(self, text: str) -> None:
        self._line(f"  {text}")

    def warning(self, text: str) -> None:
        self._line(f"  warning: {text}")

    def phase(self, name: str, count: int) -> None:
        self._line(f"▶ {name} ({count} migration{'s' if count != 1 else ''})")

    def migration_started(self, migration: Migration, statements: int, transactional: bool) -> None:
        mode = "" if transactional else " (statement by statement)"
        self._line(f"  {migration.label}: {statements} statements{mode}")

    def statement(self, migration: Migration, index: int, total: int, statement: Statement) -> None:
        if self.verbose:
            self._line(f"    [{index}/{total}] line {statement.line}: {statement.summary}")

    def migration_finished(self, migration: Migration, duration_ms: float, direction: str) -> None:
        arrow = "↑" if direction == "up" else "↓"
        self._line(f"  ✓ {arrow} {migration.label} {duration_ms:.0f} ms")

    def retrying(self, migration: Migration, attempt: int, reason: str, delay: float) -> None:
        self._line(f"  retry {attempt} {migration.label} in {delay:.1f}s: {reason}")

    def validation(self, migration: Migration | None, headline: str, passed: bool) -> None:
        mark = "✓" if passed else "✗"
        after = f" after {migration.version}" if migration else ""
        self._line(f"    {mark} validation{after}: {headline}")
