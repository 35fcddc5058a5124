"""The preflight: what pending files need that the server lacks, refused before anything runs. Pure.

`plan` and `up` compare the files about to run with the server: a `CREATE EXTENSION` whose name
is not in `pg_available_extensions`, and a schema that neither exists nor is created by an
earlier statement of the run. Either would fail in the middle of `up`, after earlier files
committed; found up front, it is bad input (exit 2) naming `file:line`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dbmigrator.engine.errors import InputError
from dbmigrator.engine.sqlparse import ParsedFile

# Extensions Supabase's image (supabase/postgres) provides that are not part of PostgreSQL's own
# contrib, so a plain PostgreSQL server (Debian's, the tests' 17) lacks them.
SUPABASE_HOSTED = frozenset({
    "http", "vector", "plv8", "pg_net", "pg_graphql", "pgsodium", "supabase_vault", "pg_cron",
    "pgjwt", "postgis", "postgis_topology", "postgis_raster", "postgis_tiger_geocoder",
    "address_standardizer", "address_standardizer_data_us", "pgrouting", "pgroonga",
    "pgroonga_database", "pg_jsonschema", "wrappers", "pg_hashids", "pgaudit", "pgtap",
    "plpgsql_check", "timescaledb", "rum", "hypopg", "index_advisor", "pg_stat_monitor", "pgmq",
    "pg_repack", "pg_tle", "plcoffee", "plls", "pljava", "pg_partman", "orioledb",
})  # fmt: skip


@dataclass(frozen=True)
class ServerFacts:
    schemas: frozenset[str]
    available_extensions: frozenset[str]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    @property
    def display(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def plan_preflight(files: Iterable[ParsedFile], facts: ServerFacts) -> list[Problem]:
    """Every statement of `files`, in order, against the server and what earlier ones create."""
    schemas = set(facts.schemas)
    problems: list[Problem] = []
    for parsed in files:
        for statement in parsed.executable:
            needs = statement.needs
            if needs.creates_schema:
                schemas.add(needs.creates_schema)
            for schema in sorted(needs.schemas - schemas):
                problems.append(Problem(parsed.file.name, statement.line, _no_schema(schema)))
                schemas.add(schema)  # said once
            if needs.extension and needs.extension not in facts.available_extensions:
                problems.append(
                    Problem(parsed.file.name, statement.line, _no_extension(needs.extension))
                )
    return problems


def preflight_error(problems: list[Problem]) -> InputError:
    """One error for all problems: the first one's file and line, every one in the message."""
    first = problems[0]
    missing = sorted(
        {p.message.split('"')[1] for p in problems if p.message.startswith("extension")}
    )
    hosted = [name for name in missing if name in SUPABASE_HOSTED]
    hints = []
    if hosted:
        hints.append(
            f"{', '.join(hosted)}: Supabase hosts these, a plain PostgreSQL server lacks them; "
            "install them on the server (or run on supabase/postgres)"
        )
    if any(p.message.startswith("schema") for p in problems):
        hints.append(
            "`dbmigrator bootstrap` creates Supabase's auth, storage and extensions schemas on "
            "vanilla PostgreSQL; other schemas need a CREATE SCHEMA in an earlier file"
        )
    others = [p.display for p in problems[1:]]
    message = "preflight: " + first.message + (f"; also {'; '.join(others)}" if others else "")
    return InputError(message, file=first.file, line=first.line, hint="; ".join(hints) or None)


def _no_schema(schema: str) -> str:
    return f'schema "{schema}" does not exist and no earlier statement creates it'


def _no_extension(name: str) -> str:
    return f'extension "{name}" is not available on this server (pg_available_extensions)'
