"""`dbmigrator bootstrap`: give vanilla PostgreSQL what a Supabase database provides
(sql/supabase_compat.sql), and never touch a real Supabase database.

A real Supabase database is recognised by the auth and storage services' own bookkeeping
tables (`auth.schema_migrations`, `storage.migrations`), which the compatibility SQL never
creates; there the command changes nothing and says why.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from dbmigrator.engine.database import Dsn, connect, scrub
from dbmigrator.engine.errors import InputError

SUPABASE_MARKERS = ("auth.schema_migrations", "storage.migrations")


def apply_bootstrap(dsn: Dsn) -> str | None:
    """Install the compatibility objects in one transaction; the reason when it skipped."""
    text = resources.files("dbmigrator").joinpath("sql/supabase_compat.sql").read_text()
    with connect(dsn, "bootstrap") as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT m FROM unnest(%s::text[]) m WHERE to_regclass(m) IS NOT NULL",
                [list(SUPABASE_MARKERS)],
            )
            found = [str(r[0]) for r in cur.fetchall()]
        if found:
            return (
                f"{dsn.dbname} is a Supabase database ({', '.join(found)} exists): "
                "it has all of this already, nothing was changed"
            )
        with conn.transaction(), conn.cursor() as cur:
            try:
                cur.execute(text.encode())
            except psycopg.Error as exc:
                raise InputError(f"bootstrap failed: {scrub(str(exc), dsn)}") from None
    return None
