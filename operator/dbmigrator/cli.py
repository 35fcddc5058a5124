"""The `dbmigrator` command: the engine for people, for Jobs (JSON + termination log), and the operator.

Exit codes: 0 done; 1 a migration, validation or database failure (the database is left
consistent); 2 bad input. Expected failures print one clear line, never a traceback; the
database URL's password is never printed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from dbmigrator import __version__
from dbmigrator.console import (
    ConsoleProgress,
    show_down_plan,
    show_drift,
    show_lint,
    show_plan,
    show_result,
    show_status,
)
from dbmigrator.engine import interrupt, tracking
from dbmigrator.engine.archive import resolve_backup_path, verify_backup_digest
from dbmigrator.engine.backup import write_backup
from dbmigrator.engine.database import Dsn, connect, resolve_dsn, scrub, secret_candidates
from dbmigrator.engine.errors import EngineError, InputError
from dbmigrator.engine.pgtools import server_major
from dbmigrator.engine.planning import current_version, parse_phase
from dbmigrator.engine.results import (
    PlanInfo,
    RunResult,
    format_error,
    render_compact,
    render_json,
)

if TYPE_CHECKING:
    from dbmigrator.api.lint import Direction, FailOn
    from dbmigrator.engine.drift import Baseline, DriftReport
    from dbmigrator.engine.files import MigrationSet
    from dbmigrator.engine.lintrules import LintReport
    from dbmigrator.engine.runner import Engine
    from dbmigrator.engine.sqlparse import ParsedFile
from dbmigrator.engine.options import RunOptions


@dataclass
class Context:
    database_url: str | None
    directory: Path
    output: str
    checks: Path | None
    termination_log: Path | None
    options: RunOptions
    verbose: bool
    console: Console
    progress: ConsoleProgress
    dsn: Dsn | None = None

    def resolve_dsn(self) -> Dsn:
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


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
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


_drift_option = click.option(
    "--drift", "drift_mode", type=click.Choice(["fail", "warn", "ignore"]), default="warn",
    show_default=True,
    help="Schema changes made outside migrations since the last run: stop before anything "
    "runs (fail), report them and go on (warn), or do not look (ignore).",
)  # fmt: skip


def _drift_json(report: DriftReport) -> dict[str, Any]:
    """`baseline` (null before the first run) and the changes, for plan and drift."""
    from dbmigrator.engine.runner import drift_items

    items, _ = drift_items(report)
    return {
        "baseline": _baseline_json(report.baseline) if report.baseline else None,
        "drift": [i.model_dump(by_alias=True) for i in items] if report.baseline else [],
        "driftCount": len(report.changes),
    }


def _baseline_json(baseline: Baseline) -> dict[str, Any]:
    return {"version": baseline.version, "takenAt": baseline.taken_at, "sha256": baseline.sha256}


def _context(kwargs: dict[str, Any]) -> Context:
    output = kwargs.pop("output")
    console = Console(stderr=output == "json", highlight=False)
    if not console.is_terminal:
        console.width = 160  # Job logs and pipes: long lines beat wrapped tables
    ctx = Context(
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
        console=console,
        progress=ConsoleProgress(console),
    )
    ctx.progress.verbose = ctx.verbose
    return ctx


def _finish(ctx: Context, result: RunResult) -> NoReturn:
    ctx.progress.close()
    result = _scrubbed(ctx, result)
    if ctx.termination_log is not None:
        _write_termination_log(ctx.termination_log, result)
    if ctx.output == "json":
        click.echo(render_json(result))
    else:
        show_result(ctx.console, result)
    sys.exit(result.exit_code)


def _scrubbed(ctx: Context | None, result: RunResult) -> RunResult:
    """The result with every string that may be the password removed from its error (message
    and hint: a server's HINT or a tool's stderr can echo anything). The URL may not have
    parsed (ctx.dsn is then None): what may be its password is scrubbed anyway."""
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


def _write_termination_log(path: Path, result: RunResult) -> None:
    try:
        path.write_text(render_compact(result))
    except OSError as exc:
        print(f"warning: cannot write the termination log {path}: {exc.strerror}", file=sys.stderr)


def _fail(ctx: Context | None, command: str, exc: EngineError) -> NoReturn:
    result = RunResult(command=command, ok=False, exit_code=exc.exit_code, error=exc.info())
    result = _scrubbed(ctx, result)
    assert result.error is not None
    if ctx is None:
        click.echo(f"error: {format_error(result.error)}", err=True)
        sys.exit(exc.exit_code)
    if ctx.termination_log is not None:
        _write_termination_log(ctx.termination_log, result)
    if ctx.output == "json":
        click.echo(render_json(result))
    else:
        ctx.console.print(f"[red]error:[/] {escape(format_error(result.error))}", highlight=False)
    sys.exit(exc.exit_code)


def _guard(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a command body; expected errors become one line and an exit code, never a traceback."""

    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(**kwargs: Any) -> None:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dbmigrator")
def main() -> None:
    """Run Supabase-style PostgreSQL migrations safely: plan, apply in phases with validation,
    back up, rehearse on a scratch copy, roll back with down files or restore."""


@main.command()
@_common
@click.option("--target", default=None, help="Version to plan up to (default: the latest file).")
@click.option(
    "--phase", "phases", multiple=True, metavar="NAME=THROUGH", help="Group migrations in phases."
)
@click.option("--down", "down_plan", is_flag=True,
              help="Plan going down to --target with down files (what `down` would run).")  # fmt: skip
@_guard("plan")
def plan(ctx: Context, target: str | None, phases: tuple[str, ...], down_plan: bool) -> None:
    """Show what `up` (or `down`) would run, in which order and how, its lint findings and the
    plan's hash (`up --expect-plan HASH` runs only that plan); change nothing."""
    from dbmigrator.engine.planhash import build_plan, build_plan_info
    from dbmigrator.engine.sqlparse import plan_cluster_wide

    engine = ctx.engine()
    if down_plan:
        if target is None:
            raise InputError("plan --down needs --target VERSION (the version to go back to)")
        down = engine.plan_down(target)
        report, skipped = _plan_lint(lambda: engine.lint_down(down))
        drift = engine.drift()
        facts = build_plan(engine.migrations, "down", down.current, target)
        info = _with_lint(build_plan_info(facts), report)
        warnings = [skipped] if skipped else []
        if ctx.output == "json":
            click.echo(json.dumps({
                "command": "plan", "ok": True, "currentVersion": down.current, "targetVersion": target,
                "warnings": warnings, "lint": [f.as_json() for f in report.findings],
                "lintCounts": report.counts, **_drift_json(drift), "plan": _plan_json(info),
            }))  # fmt: skip
        else:
            show_down_plan(ctx.console, down)
            show_drift(ctx.console, drift)
            _show_lint_and_hash(ctx, report, skipped, info, target)
        _plan_result(ctx, info, warnings, drift)
        return
    up_plan = engine.plan(target, [parse_phase(p) for p in phases])
    end = up_plan.target or up_plan.current or "0"
    report, skipped = _plan_lint(lambda: engine.lint_up(up_plan))
    info = _with_lint(
        build_plan_info(build_plan(engine.migrations, "up", up_plan.current, end)), report
    )
    warnings = [*up_plan.warnings, *([skipped] if skipped else [])]
    drift = engine.drift()
    if ctx.output == "json":
        click.echo(json.dumps({
            "command": "plan", "ok": True, "currentVersion": up_plan.current, "targetVersion": up_plan.target,
            "warnings": warnings,
            "lint": [f.as_json() for f in report.findings], "lintCounts": report.counts,
            **_drift_json(drift),
            "phases": [{"name": ph.name, "through": ph.through, "migrations": [
                {"version": m.version, "name": m.name, "file": m.up.name, "checksum": m.checksum,
                 "statements": len(engine.parsed(m.up).executable),
                 "transactional": engine.parsed(m.up).transactional,
                 "empty": engine.parsed(m.up).empty,
                 "nonTransactional": [{"line": s.line, "reason": s.why_not_transactional}
                                      for s in engine.parsed(m.up).non_transactional],
                 "clusterWide": [{"line": c.line, "what": c.scope.what, "rehearsal": c.scope.handling}
                                 for c in plan_cluster_wide([engine.parsed(m.up)])],
                 "down": m.down.name if m.down else None}
                for m in ph.migrations]} for ph in up_plan.phases],
            "plan": _plan_json(info),
        }))  # fmt: skip
    else:
        show_plan(
            ctx.console, up_plan, {m.up.name: engine.parsed(m.up) for m in up_plan.migrations}
        )
        show_drift(ctx.console, drift)
        _show_lint_and_hash(ctx, report, skipped, info, end)
    _plan_result(ctx, info, warnings, drift)


def _show_lint_and_hash(
    ctx: Context, report: LintReport, skipped: str | None, info: PlanInfo, target: str
) -> None:
    show_lint(ctx.console, report, summary=False)
    if skipped:
        ctx.console.print(f"[yellow]warning:[/] {escape(skipped)}")
    command = "up" if info.direction == "up" else "down"
    ctx.console.print(f"Plan hash: [bold]{info.hash}[/]", highlight=False)
    ctx.console.print(
        f"Run exactly this plan: dbmigrator {command} --target {target} --expect-plan {info.hash}",
        highlight=False,
    )


def _with_lint(info: PlanInfo, report: LintReport) -> PlanInfo:
    """The plan with its lint findings (bounded like its files) and their counts."""
    from dbmigrator.engine.planhash import MAX_PLAN_FILES
    from dbmigrator.engine.results import LintCounts, PlanLintItem

    items = [PlanLintItem(file=f.file, line=f.line, rule=f.rule, level=f.level, message=f.message)
             for f in report.findings[:MAX_PLAN_FILES]]  # fmt: skip
    counts = LintCounts(**report.counts)
    return info.model_copy(update={"lint": items, "lint_counts": counts})


def _plan_json(info: PlanInfo) -> dict[str, Any]:
    data: dict[str, Any] = info.model_dump(by_alias=True, exclude_none=True)
    return data


def _plan_result(ctx: Context, info: PlanInfo, warnings: list[str], drift: DriftReport) -> None:
    """A Job's plan step reads the plan from the termination log, like every other command."""
    from dbmigrator.engine.runner import drift_items

    ctx.progress.close()
    if ctx.termination_log is not None:
        items, count = drift_items(drift)
        result = RunResult(
            command="plan", ok=True, exit_code=0, database=ctx.resolve_dsn().dbname,
            from_version=info.from_version, current_version=info.from_version or "0",
            target_version=info.target_version, plan=info, warnings=warnings,
            drift=items, drift_count=count,
        )  # fmt: skip
        _write_termination_log(ctx.termination_log, result)


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


def _expect_plan(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_EXPECT_PLAN):
        f = option(f)
    return f


def _plan_options(
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


def _plan_lint(lint: Callable[[], LintReport]) -> tuple[LintReport, str | None]:
    """The plan's lint findings; `plan` never fails on lint, so a missing or failing squawk
    becomes a warning (with an empty report)."""
    from dbmigrator.engine.lintrules import LintReport

    try:
        return lint(), None
    except EngineError as exc:
        return LintReport(), f"lint skipped: {exc}"


@main.command()
@_common
@click.option(
    "--target",
    default=None,
    help="Lint the pending files up to this version (default: the latest).",
)
@click.option(
    "--down-to",
    default=None,
    metavar="VERSION",
    help="Lint the down files a rollback to VERSION would run, in their order, instead.",
)
@click.option(
    "--all",
    "all_files",
    is_flag=True,
    help="Lint every file (up to --target, or down to --down-to) without a database, "
    "each as if the files before it were applied (for CI and pre-commit).",
)
@click.option("--fail-on", type=click.Choice(["error", "warning", "never"]), default=None,
              help="Lowest level that exits 1 (default: the checks file's lint.failOn, else error).")  # fmt: skip
@_guard("lint")
def lint(ctx: Context, target: str | None, down_to: str | None, all_files: bool,
         fail_on: FailOn | None) -> None:  # fmt: skip
    """Lint the plan's SQL with squawk: the pending up files (or, with --down-to, the down
    files of a rollback). Exit 1 when a finding reaches --fail-on, 2 on bad input."""
    from dbmigrator.engine.lint import lint_files
    from dbmigrator.engine.source import read_checks, read_migration_dir

    if target is not None and down_to is not None:
        raise InputError("give --target or --down-to, not both")
    if all_files:
        migrations = read_migration_dir(ctx.directory)
        checks = read_checks(ctx.checks, os.environ.get("DBMIGRATOR_CHECKS_JSON"), ctx.directory)
        files = _all_files(migrations, target, down_to)
        direction: Direction = "down" if down_to is not None else "up"
        report = lint_files(
            files, checks.lint, direction=direction, fail_on=fail_on, plan_context=False
        )
    elif down_to is not None:
        engine = ctx.engine()
        report = engine.lint_down(engine.plan_down(down_to), fail_on=fail_on)
    else:
        engine = ctx.engine()
        report = engine.lint_up(engine.plan(target), fail_on=fail_on)
    if ctx.output == "json":
        click.echo(json.dumps(report.as_json()))
    else:
        show_lint(ctx.console, report, summary=True)
    sys.exit(1 if report.failed else 0)


def _all_files(
    migrations: MigrationSet, target: str | None, down_to: str | None
) -> list[ParsedFile]:
    """Every up file to --target in order, or with --down-to every down file above it, newest
    first (the order a rollback runs them). Parsed first: a syntax error is bad input (exit 2)."""
    from dbmigrator.engine.sqlparse import parse_file

    if down_to is not None:
        floor = migrations.resolve(down_to, allow_zero=True, what="--down-to")
        return [
            parse_file(m.down)
            for m in reversed(list(migrations))
            if m.key > floor and m.down is not None
        ]
    top = migrations.resolve(target) if target is not None else None
    return [parse_file(m.up) for m in migrations if top is None or m.key <= top]


@main.command()
@_common
@click.option("--target", default=None, help="Apply up to this version (default: the latest file).")
@click.option("--phase", "phases", multiple=True, metavar="NAME=THROUGH",
              help="Apply in phases: contiguous ranges ending at THROUGH, in order.")  # fmt: skip
@click.option("--no-validate", is_flag=True, help="Skip validation after each migration.")
@click.option("--on-failure", type=click.Choice(["stop", "down"]), default="stop", show_default=True,
              help="When validation fails after a migration: stop there, or revert it with its down file.")  # fmt: skip
@click.option(
    "--allow-out-of-order",
    is_flag=True,
    help="Apply pending versions older than the newest applied one.",
)
@_expect_plan
@_drift_option
@_guard("up")
def up(ctx: Context, target: str | None, phases: tuple[str, ...], no_validate: bool,
       on_failure: str, allow_out_of_order: bool, drift_mode: str, expect_plan: str | None,
       plan_from: str | None, plan_target: str | None) -> None:  # fmt: skip
    """Apply pending migrations up to a target, validating after each one."""
    engine = ctx.engine(
        validate=not no_validate, on_failure=on_failure, allow_out_of_order=allow_out_of_order,
        drift=drift_mode, **_plan_options(expect_plan, plan_from, plan_target),
    )  # fmt: skip
    _finish(ctx, engine.up(target, [parse_phase(p) for p in phases]))


@main.command()
@_common
@click.option("--target", required=True, help="Version to go back to (000 = before the first).")
@click.option(
    "--dry-run", is_flag=True, help="Only show which down files would run, and their lint findings."
)
@click.option("--no-validate", is_flag=True, help="Skip validation afterwards.")
@_expect_plan
@_drift_option
@_guard("down")
def down(ctx: Context, target: str, dry_run: bool, no_validate: bool, drift_mode: str,
         expect_plan: str | None, plan_from: str | None, plan_target: str | None) -> None:  # fmt: skip
    """Run down files in reverse order back to a target version."""
    engine = ctx.engine(
        validate=not no_validate, drift=drift_mode,
        **_plan_options(expect_plan, plan_from, plan_target),
    )  # fmt: skip
    if dry_run:
        down_plan = engine.plan_down(target)
        show_down_plan(ctx.console, down_plan)
        try:  # the down files' lint, for information (`lint --down-to` is the gate)
            show_lint(ctx.console, engine.lint_down(down_plan), summary=False)
        except EngineError as exc:
            ctx.console.print(f"[yellow]warning:[/] lint skipped: {escape(str(exc))}")
        return
    _finish(ctx, engine.down(target))


@main.command()
@_common
@_guard("status")
def status(ctx: Context) -> None:
    """Applied vs pending migrations, checksums and drift."""
    engine = ctx.engine()
    report, history = engine.status()
    if ctx.output == "json":
        click.echo(json.dumps({
            "command": "status", "ok": report.ok, "currentVersion": report.current,
            "applied": [{"version": r.version, "name": r.name, "checksum": r.checksum,
                         "recordedBy": r.origin, "file": m.up.name if m else None}
                        for m, r in report.applied],
            "pending": [{"version": m.version, "name": m.name, "file": m.up.name} for m in report.pending],
            "drift": [{"version": d.version, "file": d.file, "by": d.by, "recorded": d.recorded,
                       "current": d.current} for d in report.drift],
            "readded": [{"version": r.version, "file": r.file, "removedBy": r.removed_by,
                         "message": r.display} for r in report.readded],
            "unknown": [r.version for r in report.unknown],
        }))  # fmt: skip
    else:
        show_status(ctx.console, report, history)
    sys.exit(0 if report.ok else 1)


@main.command("drift")
@_common
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Leave out objects matching this fnmatch pattern on schema.object (repeatable; "
    "added to the checks file's drift.exclude), e.g. 'public.tmp_*' or 'audit.*'.",
)
@click.option(
    "--accept",
    is_flag=True,
    help="Record the live schema as the new baseline (after reviewing the drift).",
)
@_guard("drift")
def drift_command(ctx: Context, excludes: tuple[str, ...], accept: bool) -> None:
    """Compare the live schema with the snapshot recorded after the last run: exit 1 on drift
    (each change on its own line), 0 when none or when there is no snapshot yet."""
    from dbmigrator.api.checks import DriftSettings

    try:
        DriftSettings(exclude=excludes)
    except ValueError as exc:
        raise InputError(f"--exclude: {exc}") from None
    engine = ctx.engine(optional_dir=True)
    if accept:
        baseline = engine.accept_drift()
        ctx.progress.close()
        if ctx.output == "json":
            click.echo(json.dumps({"command": "drift", "ok": True, "accepted": True,
                                   "baseline": _baseline_json(baseline), "drift": [], "count": 0}))  # fmt: skip
        else:
            ctx.console.print(
                f"recorded the live schema as the baseline (sha256 {baseline.sha256[:16]}…, "
                f"version {baseline.version or 'none'})", highlight=False,
            )  # fmt: skip
        return
    report = engine.drift(excludes)
    ctx.progress.close()
    if ctx.output == "json":
        data = _drift_json(report)
        click.echo(json.dumps({"command": "drift", "ok": not report.changes,
                               "baseline": data["baseline"], "drift": data["drift"],
                               "count": data["driftCount"]}))  # fmt: skip
    else:
        show_drift(Console(highlight=False, width=ctx.console.width), report)
    sys.exit(1 if report.changes else 0)


@main.command()
@_common
@_guard("validate")
def validate(ctx: Context) -> None:
    """Run the checks now: tracking, objects, RLS, role probes, foreign-key indexes, timings."""
    _finish(ctx, ctx.engine().validate())


@main.command()
@_common
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Backup file, or a directory to write <db>-<time>-<version>.dump into.")  # fmt: skip
@click.option(
    "--keep",
    type=click.IntRange(1, None),
    default=None,
    help="With a directory: keep the newest N.",
)
@click.option(
    "--compress", default=None, help="pg_dump --compress value (e.g. 0 for none, 6, lz4)."
)
@_guard("backup")
def backup(ctx: Context, out: Path, keep: int | None, compress: str | None) -> None:
    """pg_dump in custom format, verified readable, sha256 and size reported."""
    dsn = ctx.resolve_dsn()
    with connect(dsn, "backup") as conn:
        major = server_major(conn)
        version = current_version(tracking.read_applied(conn))
    ctx.progress.info(f"backing up {dsn.dbname} at version {version or 'none'}")
    info = write_backup(dsn, out, version=version, major=major, keep=keep, compress=compress)
    _finish(ctx, RunResult(command="backup", ok=True, exit_code=0, database=dsn.dbname,
                           current_version=version, backup=info))  # fmt: skip


@main.command()
@_common
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path),
    help="Backup file to restore.",
)
@click.option("--expect-sha256", "expect_sha256", default=None, metavar="HEX",
              help="Refuse unless the dump's sha256 is this (the operator passes status.backup.sha256).")  # fmt: skip
@click.option("--yes", is_flag=True, help="Confirm: everything written since the backup is lost.")
@_guard("restore")
def restore(ctx: Context, source: Path, expect_sha256: str | None, yes: bool) -> None:
    """EMERGENCY: bring the database back to a backup, in one transaction (data loss).

    Before the database is touched, the dump must lie under DBMIGRATOR_BACKUP_ROOT (when set)
    and its sha256 must match its .json sidecar (when present) and --expect-sha256 (when given).
    """
    if not yes:
        raise InputError(
            "restore replaces the database with the backup and loses everything written since; "
            "pass --yes to confirm"
        )
    from dbmigrator.engine.restore import apply_restore

    dsn = ctx.resolve_dsn()
    # The migrations only serve the validation after the restore; the operator's restore Job
    # mounts none (it needs only the backup volume).
    engine = ctx.engine() if ctx.directory.is_dir() else None
    if engine is None:
        ctx.progress.info(f"no migrations directory {ctx.directory}: no validation after restore")
    _finish(ctx, apply_restore(dsn, source, expect_sha256=expect_sha256, engine=engine,
                               lock_wait=ctx.options.lock_wait, progress=ctx.progress))  # fmt: skip


@main.command()
@_common
@click.option(
    "--target", default=None, help="Rehearse up to this version (default: the latest file)."
)
@click.option("--phase", "phases", multiple=True, metavar="NAME=THROUGH")
@click.option("--backup", "backup_file", type=click.Path(path_type=Path), default=None,
              help="Rehearse on this existing backup instead of taking a fresh one.")  # fmt: skip
@click.option("--no-validate", is_flag=True, help="Skip validation in the scratch database.")
@_expect_plan
@_guard("rehearse")
def rehearse(ctx: Context, target: str | None, phases: tuple[str, ...], backup_file: Path | None,
             no_validate: bool, expect_plan: str | None, plan_from: str | None,
             plan_target: str | None) -> None:  # fmt: skip
    """Back up, restore into a scratch database, run `up` + validation there, drop it."""
    from dbmigrator.engine.rehearsal import rehearse as run_rehearsal

    engine = ctx.engine(
        validate=not no_validate, **_plan_options(expect_plan, plan_from, plan_target)
    )
    if backup_file is not None:  # the same checks as restore: under the root, matching its sidecar
        backup_file = resolve_backup_path(backup_file)
        verify_backup_digest(backup_file, None)
    _finish(ctx, run_rehearsal(engine, target, [parse_phase(p) for p in phases], backup_file))


@main.command()
@_common
@click.option("--status", "mark", type=click.Choice(["applied", "reverted"]), required=True)
@click.argument("versions", nargs=-1, required=True)
@_guard("repair")
def repair(ctx: Context, mark: str, versions: tuple[str, ...]) -> None:
    """Fix the tracking table without running SQL (like `supabase migration repair`)."""
    _finish(ctx, ctx.engine().repair(versions, mark))  # type: ignore[arg-type]


@main.command()
@_common
@_guard("bootstrap")
def bootstrap(ctx: Context) -> None:
    """Give vanilla PostgreSQL what Supabase provides (roles, auth and storage schemas,
    extensions on the search_path); idempotent; skips a real Supabase database."""
    from dbmigrator.engine.bootstrap import apply_bootstrap

    dsn = ctx.resolve_dsn()
    skipped = apply_bootstrap(dsn)
    if skipped:
        ctx.progress.info(f"bootstrap skipped: {skipped}")
    else:
        ctx.progress.info(
            "Supabase compatibility objects are in place (roles, auth and storage schemas, "
            "extensions on the search_path)"
        )
    _finish(ctx, RunResult(command="bootstrap", ok=True, exit_code=0, database=dsn.dbname,
                           warnings=[f"skipped: {skipped}"] if skipped else []))  # fmt: skip


DEFAULT_IMAGE = f"ghcr.io/dbmigrator/dbmigration-operator:{__version__}"


@main.command("operator")
@click.option(
    "--namespace", "-n", "namespaces", multiple=True, help="Watch this namespace (repeatable)."
)
@click.option(
    "--all-namespaces", "-A", "all_namespaces", is_flag=True, help="Watch every namespace."
)
@click.option(
    "--kubeconfig", envvar="KUBECONFIG", default=None, help="Outside a cluster: the kubeconfig."
)
@click.option(
    "--job-image",
    envvar="DBMIGRATOR_JOB_IMAGE",
    default=DEFAULT_IMAGE,
    show_default=True,
    help="Image of the Jobs (the operator's own image) unless spec.job.image says otherwise.",
)
@click.option(
    "--job-image-pull-policy",
    envvar="DBMIGRATOR_JOB_IMAGE_PULL_POLICY",
    default=None,
    type=click.Choice(["Always", "IfNotPresent", "Never"]),
    help="Default imagePullPolicy of the Jobs (spec.job.imagePullPolicy wins).",
)
@click.option(
    "--job-service-account",
    envvar="DBMIGRATOR_JOB_SERVICE_ACCOUNT",
    default="",
    help="Default ServiceAccount of the Jobs (spec.job.serviceAccountName wins).",
)
@click.option(
    "--job-resources",
    envvar="DBMIGRATOR_JOB_RESOURCES",
    default="",
    help='Default resources of the Jobs as JSON, e.g. {"limits": {"memory": "512Mi"}}.',
)
@click.option(
    "--allowed-job-images",
    envvar="DBMIGRATOR_ALLOWED_JOB_IMAGES",
    default="",
    help="Comma-separated images a resource may name in spec.job.image besides --job-image; "
    "an entry ending in / : or @ is a prefix, any other must match exactly (default: none).",
)
@click.option(
    "--allowed-source-images",
    envvar="DBMIGRATOR_ALLOWED_SOURCE_IMAGES",
    default="",
    help="Comma-separated images allowed in spec.source.image.reference, same rules "
    "(default: none: migrations come from ConfigMaps).",
)
@click.option(
    "--allowed-job-service-accounts",
    envvar="DBMIGRATOR_ALLOWED_JOB_SERVICE_ACCOUNTS",
    default="",
    help="Comma-separated ServiceAccounts a resource may name in spec.job.serviceAccountName "
    "besides --job-service-account (default: none).",
)
@click.option(
    "--metrics-port",
    envvar="DBMIGRATOR_METRICS_PORT",
    type=int,
    default=8080,
    show_default=True,
    help="Prometheus /metrics port (0: off).",
)
@click.option(
    "--liveness-port",
    envvar="DBMIGRATOR_LIVENESS_PORT",
    type=int,
    default=8081,
    show_default=True,
    help="kopf liveness endpoint http://0.0.0.0:PORT/healthz (0: off).",
)
@click.option(
    "--peering",
    envvar="DBMIGRATOR_PEERING",
    default=None,
    help="kopf peering name: replicas with the same name never both act.",
)
@click.option("--standalone", is_flag=True, help="No peering (a single replica).")
@click.option(
    "--priority",
    envvar="DBMIGRATOR_PRIORITY",
    type=int,
    default=None,
    help="Peering priority; default: random, so one of several replicas acts and the "
    "others stand by (equal priorities would pause them all).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="DBMIGRATOR_LOG_FORMAT",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    envvar="DBMIGRATOR_LOG_LEVEL",
)
@click.option("--verbose", "-v", is_flag=True, help="Same as --log-level debug.")
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    kubeconfig: str | None,
    job_image: str,
    job_image_pull_policy: str | None,
    job_service_account: str,
    job_resources: str,
    allowed_job_images: str,
    allowed_source_images: str,
    allowed_job_service_accounts: str,
    metrics_port: int,
    liveness_port: int,
    peering: str | None,
    standalone: bool,
    priority: int | None,
    log_format: str,
    log_level: str,
    verbose: bool,
) -> None:
    """Run the Kubernetes operator for DatabaseMigration resources."""
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace NS (repeatable) or --all-namespaces")
    # kopf and the Kubernetes client load only for this command.
    from dbmigrator.controller.main import BadSetting, OperatorSettings
    from dbmigrator.controller.main import run as run_operator

    try:
        run_operator(OperatorSettings(
            namespaces=namespaces, all_namespaces=all_namespaces, kubeconfig=kubeconfig,
            job_image=job_image, job_image_pull_policy=job_image_pull_policy,
            job_service_account=job_service_account, job_resources=job_resources,
            allowed_job_images=allowed_job_images, allowed_source_images=allowed_source_images,
            allowed_job_service_accounts=allowed_job_service_accounts,
            metrics_port=metrics_port, liveness_port=liveness_port, peering=peering,
            standalone=standalone, priority=priority, log_format=log_format,
            log_level="debug" if verbose else log_level,
        ))  # fmt: skip
    except BadSetting as exc:
        raise click.BadParameter(exc.message, param_hint=exc.option) from None


def run() -> None:
    try:
        main(standalone_mode=True)
    except EngineError as exc:  # pragma: no cover - commands handle their own
        _fail(None, "up", exc)


if __name__ == "__main__":
    main()
