"""The engine's small error vocabulary, split by whose fault it is.

`InputError`: the user must fix something (bad file, bad target, bad flag) -> exit 2.
`MigrationError` and its kin: the database refused or a check failed -> exit 1, the database is
left consistent. `DatabaseUnavailable`: the world's fault (unreachable, auth) -> exit 1, retryable.
Every error carries structured facts (file, line, SQLSTATE, hint) for the JSON result, and never a
password: messages are built from redacted values only.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbmigrator.engine.results import ErrorInfo, ErrorKind, format_error


@dataclass
class EngineError(Exception):
    """Base of all expected failures; `kind` and `exit_code` decide how it is reported."""

    message: str
    file: str | None = None
    line: int | None = None
    sqlstate: str | None = None
    hint: str | None = None

    kind: ErrorKind = "migration"
    exit_code: int = 1

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return format_error(self.info())

    def info(self) -> ErrorInfo:
        # The message alone: file, line, SQLSTATE and hint travel in their own fields.
        return ErrorInfo(
            kind=self.kind,
            message=self.message,
            file=self.file,
            line=self.line,
            sqlstate=self.sqlstate,
            hint=self.hint,
        )


@dataclass
class InputError(EngineError):
    """Bad input the user must fix: files, names, targets, flags, checks file."""

    kind: ErrorKind = "input"
    exit_code: int = 2


@dataclass
class SqlSyntaxError(InputError):
    """A migration file that the PostgreSQL grammar rejects."""


@dataclass
class DriftError(EngineError):
    """An applied migration whose file changed since it was applied."""

    kind: ErrorKind = "drift"
    exit_code: int = 1


@dataclass
class PlanChanged(EngineError):
    """The files a run would execute are not the plan that was approved (`--expect-plan`)."""

    kind: ErrorKind = "plan"
    exit_code: int = 1


@dataclass
class DriftDetected(EngineError):
    """The live schema differs from the snapshot recorded after the last run (`--drift fail`):
    nothing ran."""

    kind: ErrorKind = "schema-drift"
    exit_code: int = 1


@dataclass
class MigrationError(EngineError):
    """A statement failed; the file's transaction was rolled back."""

    kind: ErrorKind = "migration"


@dataclass
class ValidationFailed(EngineError):
    """Checks after a migration failed."""

    kind: ErrorKind = "validation"


@dataclass
class LockTimeout(EngineError):
    """Another runner holds the migration lock for longer than we are willing to wait."""

    kind: ErrorKind = "lock"


@dataclass
class DatabaseUnavailable(EngineError):
    """Cannot connect or authenticate: the world's fault, worth retrying later."""

    kind: ErrorKind = "database"


@dataclass
class RunInterrupted(EngineError):
    """A signal (SIGTERM, SIGINT) stopped the run; exit code 128 + the signal's number."""

    kind: ErrorKind = "interrupted"
    exit_code: int = 143


@dataclass
class BackupError(EngineError):
    """pg_dump/pg_restore failed or produced an unreadable archive."""

    kind: ErrorKind = "backup"
