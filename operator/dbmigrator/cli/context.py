"""What every engine command shares: its options, its Context, and how it ends (the result as
text, JSON and termination log; an expected error as one line and an exit code)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dbmigrator.engine.errors import EngineError, InputError
from dbmigrator.engine.options import RunOptions
from dbmigrator.engine.progress import Progress
from dbmigrator.engine.results import RunResult, format_error, render_compact, render_json
from dbmigrator.lineprogress import LineProgress

if TYPE_CHECKING:  # rich loads only for a terminal or text output (start-up time, issue 11)
    from rich.console import Console

    from dbmigrator.engine.database import Dsn
    from dbmigrator.engine.runner import Engine

# psycopg (engine.database, engine.interrupt) loads when a command runs, not for `--help` or
# `operator` (start-up time, issue 11).


@dataclass
class Context:
    database_url: str | None
    directory: Path
    output: str
    checks: Path | None
    termination_log: Path | None
    options: RunOptions
    verbose: bool
    dsn: Dsn | None = None

    @functools.cached_property
    def console(self) -> Console:
        """Where text output goes (stderr with --output json, so stdout stays one document)."""
        from rich.console import Console

        console = Console(stderr=self.output == "json", highlight=False)
        if not console.is_terminal:
            console.width = 160  # Job logs and pipes: long lines beat wrapped tables
        return console

    @functools.cached_property
    def progress(self) -> Progress:
        """A live bar on a terminal; elsewhere (a Job's log, CI, a pipe) plain lines, without
        loading rich: every Job runs with --output json, so it never loads rich at all."""
        stream = sys.stderr if self.output == "json" else sys.stdout
        if stream.isatty():
            from dbmigrator.console import ConsoleProgress

            return ConsoleProgress(self.console, self.verbose)
        return LineProgress(stream, self.verbose)

    def resolve_dsn(self) -> Dsn:
        from dbmigrator.engine.database import resolve_dsn

        if self.dsn is None:
            self.dsn = resolve_dsn(self.database_url)
        return self.dsn

    def engine(self, *, optional_dir: bool = False, **overrides: Any) -> Engine:
        # Loaded here: pglast and the validation code are not needed by backup, restore, status.
        from dbmigrator.engine.files import build_migration_set
        from dbmigrator.engine.runner import Engine
        from dbmigrator.engine.source import read_checks, read_migration_dir

        if optional_dir and not self.directory.exists():
            migrations = build_migration_set(str(self.directory), [])
        else:
            migrations = read_migration_dir(self.directory)
        checks = read_checks(self.checks, os.environ.get("DBMIGRATOR_CHECKS_JSON"), self.directory)
        options = RunOptions(**{**self.options.__dict__, **overrides})
        return Engine(self.resolve_dsn(), migrations, checks, options, self.progress)


def common(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options every engine command takes, so they can be given after the command name too."""
    options = [
        click.option("--database-url", envvar="DATABASE_URL", default=None, show_envvar=True,
                     help="postgresql:// URI (prefer the DATABASE_URL variable: arguments are visible to other users)."),
        click.option("--dir", "directory", envvar="DBMIGRATOR_DIR", default="migrations", show_default=True,
                     type=click.Path(path_type=Path), help="Directory with NNN_name.sql and NNN_name.down.sql files."),
        click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True,
                     help="text for people, json for machines (progress then goes to stderr)."),
        click.option("--checks", type=click.Path(path_type=Path), default=None,
                     help="Checks file (YAML/JSON). Default: DBMIGRATOR_CHECKS_JSON, else DIR/checks.yaml."),
        click.option("--termination-log", envvar="DBMIGRATOR_TERMINATION_LOG", type=click.Path(path_type=Path),
                     default=None, help="Also write the JSON result (max 4096 bytes) here, e.g. /dev/termination-log."),
        click.option("--lock-wait", type=float, default=60.0, show_default=True,
                     help="Seconds to wait for another runner's migration lock."),
        click.option("--lock-timeout", default="5s", show_default=True,
                     help="PostgreSQL lock_timeout per statement, so a migration never queues traffic for long."),
        click.option("--statement-timeout", default="15min", show_default=True, help="PostgreSQL statement_timeout."),
        click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
                     help="Retries of a file after a lock timeout or deadlock."),
        click.option("--verbose", "-v", is_flag=True, help="Show each statement as it runs."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


drift_option = click.option(
    "--drift", "drift_mode", type=click.Choice(["fail", "warn", "ignore"]), default="warn",
    show_default=True,
    help="Schema changes made outside migrations since the last run: stop before anything "
    "runs (fail), report them and go on (warn), or do not look (ignore).",
)  # fmt: skip


_EXPECT_PLAN = [
    click.option("--expect-plan", "expect_plan", default=None, metavar="HASH",
                 help="Run only if the files give this plan hash (as printed by `plan`); checked "
                      "before anything changes."),
    click.option("--plan-from", "plan_from", default=None, metavar="VERSION",
                 help="With --expect-plan: the version the approved plan starts from "
                      "(default: the database's version)."),
    click.option("--plan-target", "plan_target", default=None, metavar="VERSION",
                 help="With --expect-plan: the approved plan's target (default: --target)."),
]  # fmt: skip


def expect_plan_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_EXPECT_PLAN):
        f = option(f)
    return f


def plan_options(
    expect_plan: str | None, plan_from: str | None, plan_target: str | None
) -> dict[str, Any]:
    """RunOptions overrides of --expect-plan, --plan-from, --plan-target (validated)."""
    from dbmigrator.engine.planhash import parse_plan_hash

    if expect_plan is None:
        if plan_from is not None or plan_target is not None:
            raise InputError("--plan-from and --plan-target only go with --expect-plan HASH")
        return {}
    for flag, value in (("--plan-from", plan_from), ("--plan-target", plan_target)):
        if value is not None and not value.isdigit():
            raise InputError(f"{flag} {value!r}: expected a version (digits)")
    return {
        "expect_plan": parse_plan_hash(expect_plan),
        "plan_from": plan_from,
        "plan_target": plan_target,
    }


def _context(kwargs: dict[str, Any]) -> Context:
    output = kwargs.pop("output")
    return Context(
        database_url=kwargs.pop("database_url"),
        directory=kwargs.pop("directory"),
        output=output,
        checks=kwargs.pop("checks"),
        termination_log=kwargs.pop("termination_log"),
        options=RunOptions(
            lock_wait=kwargs.pop("lock_wait"),
            lock_timeout=kwargs.pop("lock_timeout"),
            statement_timeout=kwargs.pop("statement_timeout"),
            retries=kwargs.pop("retries"),
        ),
        verbose=kwargs.pop("verbose"),
    )


def finish(ctx: Context, result: RunResult) -> NoReturn:
    ctx.progress.close()
    result = _scrubbed(ctx, result)
    if ctx.termination_log is not None:
        write_termination_log(ctx.termination_log, result)
    if ctx.output == "json":
        click.echo(render_json(result))
    else:
        from dbmigrator.console import show_result

        show_result(ctx.console, result)
    sys.exit(result.exit_code)


def _scrubbed(ctx: Context | None, result: RunResult) -> RunResult:
    """The result with every string that may be the password removed from its error (message
    and hint: a server's HINT or a tool's stderr can echo anything). The URL may not have
    parsed (ctx.dsn is then None): what may be its password is scrubbed anyway."""
    from dbmigrator.engine.database import scrub, secret_candidates

    if result.error is None:
        return result
    dsn = ctx.dsn if ctx else None
    raw = (ctx.database_url if ctx else None) or os.environ.get("DATABASE_URL") or ""
    candidates = secret_candidates(raw)
    error = result.error
    clean = error.model_copy(update={
        "message": scrub(error.message, dsn, candidates),
        "hint": scrub(error.hint, dsn, candidates) if error.hint else error.hint,
    })  # fmt: skip
    return result.model_copy(update={"error": clean})


def write_termination_log(path: Path, result: RunResult) -> None:
    try:
        path.write_text(render_compact(result))
    except OSError as exc:
        print(f"warning: cannot write the termination log {path}: {exc.strerror}", file=sys.stderr)


def _fail(ctx: Context, command: str, exc: EngineError) -> NoReturn:
    result = RunResult(command=command, ok=False, exit_code=exc.exit_code, error=exc.info())
    result = _scrubbed(ctx, result)
    assert result.error is not None
    if ctx.termination_log is not None:
        write_termination_log(ctx.termination_log, result)
    if ctx.output == "json":
        click.echo(render_json(result))
    else:
        from rich.markup import escape

        ctx.console.print(f"[red]error:[/] {escape(format_error(result.error))}", highlight=False)
    sys.exit(exc.exit_code)


def guard(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a command body; expected errors become one line and an exit code, never a traceback."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(**kwargs: Any) -> None:
            from dbmigrator.engine import interrupt

            ctx = _context(kwargs)
            interrupt.handle_signals()  # SIGTERM/SIGINT: cancel the statement, report, exit
            try:
                body(ctx, **kwargs)
            except EngineError as exc:
                _fail(ctx, command, exc)
            except KeyboardInterrupt:  # a signal while no statement could be cancelled
                ctx.progress.close()
                _fail(ctx, command, interrupt.interrupted_error(f"during {command}"))

        wrapper.__name__ = body.__name__
        wrapper.__doc__ = body.__doc__
        return wrapper

    return decorate
