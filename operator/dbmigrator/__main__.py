"""`python -m dbmigrator`: the same as the `dbmigrator` command."""

from dbmigrator.cli.main import main

main(prog_name="dbmigrator")
