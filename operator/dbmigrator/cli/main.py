"""The `dbmigrator` click group: every command, registered from its module (those modules load
only light code at import; each command loads what it needs when it runs)."""

from __future__ import annotations

import click

from dbmigrator import __version__
from dbmigrator.cli.backups import backup, rehearse, restore
from dbmigrator.cli.bootstrap import bootstrap
from dbmigrator.cli.kube_operator import operator
from dbmigrator.cli.plan import lint, plan
from dbmigrator.cli.runs import down, repair, up, validate
from dbmigrator.cli.status import drift_command, status


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dbmigrator")
def main() -> None:
    """Run Supabase-style PostgreSQL migrations safely: plan, apply in phases with validation,
    back up, rehearse on a scratch copy, roll back with down files or restore."""


# In the order of the source before the split (click lists them sorted anyway).
for command in (plan, lint, up, down, status, drift_command, validate, backup, restore, rehearse,
                repair, bootstrap, operator):  # fmt: skip
    main.add_command(command)
