"""`plan` (what `up` or `down` would run, its lint findings, drift and hash) and `lint`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from dbmigrator.cli.context import Context, common, guard, write_termination_log
from dbmigrator.engine.errors import EngineError, InputError
from dbmigrator.engine.planning import parse_phase
from dbmigrator.engine.results import LintCounts, PlanInfo, RunResult

if TYPE_CHECKING:
    from dbmigrator.api.lint import Direction, FailOn
    from dbmigrator.engine.drift import DriftReport
    from dbmigrator.engine.files import Migration, MigrationSet
    from dbmigrator.engine.lintrules import LintFinding, LintReport
    from dbmigrator.engine.outputs import LintFindingItem, PlanMigration, PlanOutput, PlanPhase
    from dbmigrator.engine.runner import Engine
    from dbmigrator.engine.sqlparse import ParsedFile


@click.command()
@common
@click.option("--target", default=None, help="Version to plan up to (default: the latest file).")
@click.option(
    "--phase", "phases", multiple=True, metavar="NAME=THROUGH", help="Group migrations in phases."
)
@click.option("--down", "down_plan", is_flag=True,
              help="Plan going down to --target with down files (what `down` would run).")  # fmt: skip
@guard("plan")
def plan(ctx: Context, target: str | None, phases: tuple[str, ...], down_plan: bool) -> None:
    """Show what `up` (or `down`) would run, in which order and how, its lint findings and the
    plan's hash (`up --expect-plan HASH` runs only that plan); change nothing."""
    from dbmigrator.console import show_down_plan, show_drift, show_plan

    # The JSON models load only when JSON is printed (start-up time, issue 11).
    from dbmigrator.engine.outputs import PlanPhase, render_output
    from dbmigrator.engine.planhash import build_plan, build_plan_info

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
            click.echo(
                render_output(_plan_output(down.current, target, warnings, report, drift, info))
            )
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
        phased = [PlanPhase(name=ph.name, through=ph.through,
                            migrations=[_plan_migration(engine, m) for m in ph.migrations])
                  for ph in up_plan.phases]  # fmt: skip
        output = _plan_output(up_plan.current, up_plan.target, warnings, report, drift, info,
                              phases=phased)  # fmt: skip
        click.echo(render_output(output))
    else:
        show_plan(
            ctx.console, up_plan, {m.up.name: engine.parsed(m.up) for m in up_plan.migrations}
        )
        show_drift(ctx.console, drift)
        _show_lint_and_hash(ctx, report, skipped, info, end)
    _plan_result(ctx, info, warnings, drift)


def _plan_output(current: str | None, target: str | None, warnings: list[str],
                 report: LintReport, drift: DriftReport, info: PlanInfo, *,
                 phases: list[PlanPhase] | None = None) -> PlanOutput:  # fmt: skip
    """The `plan -o json` document; `phases` only for an up plan."""
    from dbmigrator.engine.outputs import BaselineInfo, PlanOutput
    from dbmigrator.engine.runstate import drift_items

    items, _ = drift_items(drift)
    return PlanOutput(
        ok=True, current_version=current, target_version=target, warnings=warnings,
        lint=[_lint_item(f) for f in report.findings], lint_counts=LintCounts(**report.counts),
        baseline=BaselineInfo.of(drift.baseline), drift=items, drift_count=len(drift.changes),
        phases=phases, plan=info,
    )  # fmt: skip


def _plan_migration(engine: Engine, m: Migration) -> PlanMigration:
    from dbmigrator.engine.outputs import ClusterWideItem, NonTransactionalItem, PlanMigration
    from dbmigrator.engine.sqlparse import plan_cluster_wide

    parsed = engine.parsed(m.up)
    return PlanMigration(
        version=m.version, name=m.name, file=m.up.name, checksum=m.checksum,
        statements=len(parsed.executable), transactional=parsed.transactional,
        empty=parsed.empty,
        non_transactional=[NonTransactionalItem(line=s.line, reason=s.why_not_transactional)
                           for s in parsed.non_transactional],
        cluster_wide=[ClusterWideItem(line=c.line, what=c.scope.what, rehearsal=c.scope.handling)
                      for c in plan_cluster_wide([parsed])],
        down=m.down.name if m.down else None,
    )  # fmt: skip


def _lint_item(finding: LintFinding) -> LintFindingItem:
    from dbmigrator.engine.outputs import LintFindingItem

    return LintFindingItem(file=finding.file, line=finding.line, column=finding.column,
                           rule=finding.rule, level=finding.level, message=finding.message)  # fmt: skip


def _show_lint_and_hash(
    ctx: Context, report: LintReport, skipped: str | None, info: PlanInfo, target: str
) -> None:
    from rich.markup import escape

    from dbmigrator.console import show_lint

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
    from dbmigrator.engine.results import PlanLintItem

    items = [PlanLintItem(file=f.file, line=f.line, rule=f.rule, level=f.level, message=f.message)
             for f in report.findings[:MAX_PLAN_FILES]]  # fmt: skip
    counts = LintCounts(**report.counts)
    return info.model_copy(update={"lint": items, "lint_counts": counts})


def _plan_result(ctx: Context, info: PlanInfo, warnings: list[str], drift: DriftReport) -> None:
    """A Job's plan step reads the plan from the termination log, like every other command."""
    from dbmigrator.engine.runstate import drift_items

    ctx.progress.close()
    if ctx.termination_log is not None:
        items, count = drift_items(drift)
        result = RunResult(
            command="plan", ok=True, exit_code=0, database=ctx.resolve_dsn().dbname,
            from_version=info.from_version, current_version=info.from_version or "0",
            target_version=info.target_version, plan=info, warnings=warnings,
            drift=items, drift_count=count,
        )  # fmt: skip
        write_termination_log(ctx.termination_log, result)


def _plan_lint(lint: Callable[[], LintReport]) -> tuple[LintReport, str | None]:
    """The plan's lint findings; `plan` never fails on lint, so a missing or failing squawk
    becomes a warning (with an empty report)."""
    from dbmigrator.engine.lintrules import LintReport

    try:
        return lint(), None
    except EngineError as exc:
        return LintReport(), f"lint skipped: {exc}"


@click.command()
@common
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
@guard("lint")
def lint(ctx: Context, target: str | None, down_to: str | None, all_files: bool,
         fail_on: FailOn | None) -> None:  # fmt: skip
    """Lint the plan's SQL with squawk: the pending up files (or, with --down-to, the down
    files of a rollback). Exit 1 when a finding reaches --fail-on, 2 on bad input."""
    from dbmigrator.console import show_lint
    from dbmigrator.engine.lint import lint_files
    from dbmigrator.engine.outputs import LintOutput, render_output
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
        click.echo(render_output(LintOutput(
            ok=not report.failed, direction=report.direction, fail_on=report.fail_on,
            files=list(report.files), lint=[_lint_item(f) for f in report.findings],
            counts=LintCounts(**report.counts),
        )))  # fmt: skip
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
