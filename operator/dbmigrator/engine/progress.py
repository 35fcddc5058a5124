"""How the engine tells people what it is doing: a small listener interface, no I/O of its own.

The CLI implements it with rich (progress per file and statement); tests collect events;
`Silent` ignores everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbmigrator.engine.files import Migration

if TYPE_CHECKING:  # pglast loads only for the commands that parse SQL
    from dbmigrator.engine.sqlparse import Statement


class Progress:
    """Base listener: every hook is a no-op, override what you show."""

    def info(self, text: str) -> None:
        """A line worth showing."""

    def warning(self, text: str) -> None:
        """Something odd that does not stop the run."""

    def phase(self, name: str, count: int) -> None:
        """A phase with `count` pending migrations starts."""

    def migration_started(self, migration: Migration, statements: int, transactional: bool) -> None:
        """A file starts (up or down)."""

    def statement(self, migration: Migration, index: int, total: int, statement: Statement) -> None:
        """Statement `index` (1-based) of `total` is about to run."""

    def migration_finished(self, migration: Migration, duration_ms: float, direction: str) -> None:
        """A file committed."""

    def retrying(self, migration: Migration, attempt: int, reason: str, delay: float) -> None:
        """A retryable failure (lock timeout, deadlock); the file will run again."""

    def validation(self, migration: Migration | None, headline: str, passed: bool) -> None:
        """Validation after a file (or on demand) finished."""

    def close(self) -> None:
        """The command ends: stop anything live (a progress bar)."""


class Silent(Progress):
    """Shows nothing."""
