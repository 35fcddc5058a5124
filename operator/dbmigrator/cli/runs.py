"""The commands that change the migrations' state: `up`, `down`, `repair`, and `validate`
(the checks they run after each file, on demand)."""

from __future__ import annotations

import click

from dbmigrator.cli.context import (
    Context,
    common,
    drift_option,
    expect_plan_options,
    finish,
    guard,
    plan_options,
)
from dbmigrator.engine.errors import EngineError
from dbmigrator.engine.planning import parse_phase


@click.command()
@common
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
@expect_plan_options
@drift_option
@guard("up")
def up(ctx: Context, target: str | None, phases: tuple[str, ...], no_validate: bool,
       on_failure: str, allow_out_of_order: bool, drift_mode: str, expect_plan: str | None,
       plan_from: str | None, plan_target: str | None) -> None:  # fmt: skip
    """Apply pending migrations up to a target, validating after each one."""
    engine = ctx.engine(
        validate=not no_validate, on_failure=on_failure, allow_out_of_order=allow_out_of_order,
        drift=drift_mode, **plan_options(expect_plan, plan_from, plan_target),
    )  # fmt: skip
    finish(ctx, engine.up(target, [parse_phase(p) for p in phases]))


@click.command()
@common
@click.option("--target", required=True, help="Version to go back to (000 = before the first).")
@click.option(
    "--dry-run", is_flag=True, help="Only show which down files would run, and their lint findings."
)
@click.option("--no-validate", is_flag=True, help="Skip validation afterwards.")
@expect_plan_options
@drift_option
@guard("down")
def down(ctx: Context, target: str, dry_run: bool, no_validate: bool, drift_mode: str,
         expect_plan: str | None, plan_from: str | None, plan_target: str | None) -> None:  # fmt: skip
    """Run down files in reverse order back to a target version."""
    from dbmigrator.console import show_down_plan, show_lint

    engine = ctx.engine(
        validate=not no_validate, drift=drift_mode,
        **plan_options(expect_plan, plan_from, plan_target),
    )  # fmt: skip
    if dry_run:
        down_plan = engine.plan_down(target)
        show_down_plan(ctx.console, down_plan)
        try:  # the down files' lint, for information (`lint --down-to` is the gate)
            show_lint(ctx.console, engine.lint_down(down_plan), summary=False)
        except EngineError as exc:
            from rich.markup import escape

            ctx.console.print(f"[yellow]warning:[/] lint skipped: {escape(str(exc))}")
        return
    finish(ctx, engine.down(target))


@click.command()
@common
@guard("validate")
def validate(ctx: Context) -> None:
    """Run the checks now: tracking, objects, RLS, role probes, foreign-key indexes, timings."""
    finish(ctx, ctx.engine().validate())


@click.command()
@common
@click.option("--status", "mark", type=click.Choice(["applied", "reverted"]), required=True)
@click.argument("versions", nargs=-1, required=True)
@guard("repair")
def repair(ctx: Context, mark: str, versions: tuple[str, ...]) -> None:
    """Fix the tracking table without running SQL (like `supabase migration repair`)."""
    finish(ctx, ctx.engine().repair(versions, mark))  # type: ignore[arg-type]
