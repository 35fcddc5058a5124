"""The `dbmigrator` command: the engine for people, for Jobs (JSON + termination log), and the operator.

`main.py` is the click group (the console script `dbmigrator = dbmigrator.cli.main:main`);
`context.py` the options, context and error handling every engine command shares; one module
per command group: `plan.py` (plan, lint), `runs.py` (up, down, repair, validate),
`status.py` (status, drift), `backups.py` (backup, restore, rehearse), `bootstrap.py`,
`kube_operator.py` (the operator). Heavy modules (psycopg, pglast, kopf, the controller, the
JSON models of engine/outputs.py) load inside the command bodies, so `--help` and the light
commands start fast. `python -m dbmigrator` and `python -m dbmigrator.cli` run the same command.

Exit codes: 0 done; 1 a migration, validation or database failure (the database is left
consistent); 2 bad input. Expected failures print one clear line, never a traceback; the
database URL's password is never printed.
"""
