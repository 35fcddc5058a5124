"""`status` (applied vs pending files, changed files) and `drift` (the live schema against the
snapshot recorded after the last run)."""

from __future__ import annotations

import sys

import click

from dbmigrator.cli.context import Context, common, guard
from dbmigrator.engine.errors import InputError


@click.command()
@common
@guard("status")
def status(ctx: Context) -> None:
    """Applied vs pending migrations, checksums and drift."""
    from dbmigrator.console import show_status

    # The JSON models load only when JSON is printed (start-up time, issue 11).
    from dbmigrator.engine.outputs import (
        ChecksumDrift,
        ReaddedItem,
        StatusApplied,
        StatusOutput,
        StatusPending,
        render_output,
    )

    engine = ctx.engine()
    report, history = engine.status()
    if ctx.output == "json":
        click.echo(render_output(StatusOutput(
            ok=report.ok, current_version=report.current,
            applied=[StatusApplied(version=r.version, name=r.name, checksum=r.checksum,
                                   recorded_by=r.origin, file=m.up.name if m else None)
                     for m, r in report.applied],
            pending=[StatusPending(version=m.version, name=m.name, file=m.up.name)
                     for m in report.pending],
            drift=[ChecksumDrift(version=d.version, file=d.file, by=d.by, recorded=d.recorded,
                                 current=d.current) for d in report.drift],
            readded=[ReaddedItem(version=r.version, file=r.file, removed_by=r.removed_by,
                                 message=r.display) for r in report.readded],
            unknown=[r.version for r in report.unknown],
        )))  # fmt: skip
    else:
        show_status(ctx.console, report, history)
    sys.exit(0 if report.ok else 1)


@click.command("drift")
@common
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
@guard("drift")
def drift_command(ctx: Context, excludes: tuple[str, ...], accept: bool) -> None:
    """Compare the live schema with the snapshot recorded after the last run: exit 1 on drift
    (each change on its own line), 0 when none or when there is no snapshot yet."""
    from rich.console import Console

    from dbmigrator.api.checks import DriftSettings
    from dbmigrator.console import show_drift
    from dbmigrator.engine.outputs import BaselineInfo, DriftOutput, render_output
    from dbmigrator.engine.runstate import drift_items

    try:
        DriftSettings(exclude=excludes)
    except ValueError as exc:
        raise InputError(f"--exclude: {exc}") from None
    engine = ctx.engine(optional_dir=True)
    if accept:
        baseline = engine.accept_drift()
        ctx.progress.close()
        if ctx.output == "json":
            click.echo(render_output(DriftOutput(ok=True, accepted=True,
                                                 baseline=BaselineInfo.of(baseline), drift=[],
                                                 count=0)))  # fmt: skip
        else:
            ctx.console.print(
                f"recorded the live schema as the baseline (sha256 {baseline.sha256[:16]}…, "
                f"version {baseline.version or 'none'})", highlight=False,
            )  # fmt: skip
        return
    report = engine.drift(excludes)
    ctx.progress.close()
    if ctx.output == "json":
        items, _ = drift_items(report)
        click.echo(render_output(DriftOutput(ok=not report.changes,
                                             baseline=BaselineInfo.of(report.baseline),
                                             drift=items, count=len(report.changes))))  # fmt: skip
    else:
        show_drift(Console(highlight=False, width=ctx.console.width), report)
    sys.exit(1 if report.changes else 0)
