"""The commands around a backup: `backup`, `restore` (the emergency path) and `rehearse` (the
plan run on a scratch copy restored from one)."""

from __future__ import annotations

from pathlib import Path

import click

from dbmigrator.cli.context import Context, common, expect_plan_options, finish, guard, plan_options
from dbmigrator.engine.errors import InputError
from dbmigrator.engine.planning import current_version, parse_phase
from dbmigrator.engine.results import RunResult


@click.command()
@common
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
@guard("backup")
def backup(ctx: Context, out: Path, keep: int | None, compress: str | None) -> None:
    """pg_dump in custom format, verified readable, sha256 and size reported."""
    # psycopg and the backup code load when the command runs (start-up time, issue 11).
    from dbmigrator.engine import tracking
    from dbmigrator.engine.backup import write_backup
    from dbmigrator.engine.database import connect
    from dbmigrator.engine.pgtools import server_major

    dsn = ctx.resolve_dsn()
    with connect(dsn, "backup") as conn:
        major = server_major(conn)
        version = current_version(tracking.read_applied(conn))
    ctx.progress.info(f"backing up {dsn.dbname} at version {version or 'none'}")
    info = write_backup(dsn, out, version=version, major=major, keep=keep, compress=compress)
    finish(ctx, RunResult(command="backup", ok=True, exit_code=0, database=dsn.dbname,
                          current_version=version, backup=info))  # fmt: skip


@click.command()
@common
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
@guard("restore")
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
    finish(ctx, apply_restore(dsn, source, expect_sha256=expect_sha256, engine=engine,
                              lock_wait=ctx.options.lock_wait, progress=ctx.progress))  # fmt: skip


@click.command()
@common
@click.option(
    "--target", default=None, help="Rehearse up to this version (default: the latest file)."
)
@click.option("--phase", "phases", multiple=True, metavar="NAME=THROUGH")
@click.option("--backup", "backup_file", type=click.Path(path_type=Path), default=None,
              help="Rehearse on this existing backup instead of taking a fresh one.")  # fmt: skip
@click.option("--no-validate", is_flag=True, help="Skip validation in the scratch database.")
@expect_plan_options
@guard("rehearse")
def rehearse(ctx: Context, target: str | None, phases: tuple[str, ...], backup_file: Path | None,
             no_validate: bool, expect_plan: str | None, plan_from: str | None,
             plan_target: str | None) -> None:  # fmt: skip
    """Back up, restore into a scratch database, run `up` + validation there, drop it."""
    from dbmigrator.engine.archive import resolve_backup_path, verify_backup_digest
    from dbmigrator.engine.rehearsal import rehearse as run_rehearsal

    engine = ctx.engine(
        validate=not no_validate, **plan_options(expect_plan, plan_from, plan_target)
    )
    if backup_file is not None:  # the same checks as restore: under the root, matching its sidecar
        backup_file = resolve_backup_path(backup_file)
        verify_backup_digest(backup_file, None)
    finish(ctx, run_rehearsal(engine, target, [parse_phase(p) for p in phases], backup_file))
