"""`bootstrap`: what Supabase provides, on vanilla PostgreSQL."""

from __future__ import annotations

import click

from dbmigrator.cli.context import Context, common, finish, guard
from dbmigrator.engine.results import RunResult


@click.command()
@common
@guard("bootstrap")
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
    finish(ctx, RunResult(command="bootstrap", ok=True, exit_code=0, database=dsn.dbname,
                          warnings=[f"skipped: {skipped}"] if skipped else []))  # fmt: skip
