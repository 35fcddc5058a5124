"""`repair`: mark one migration applied (accepting its current file) or reverted, without
running its SQL, with a history row saying so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import psycopg

from dbmigrator.engine import tracking
from dbmigrator.engine.clisplit import split_like_cli
from dbmigrator.engine.database import application_name
from dbmigrator.engine.files import Migration
from dbmigrator.engine.results import AppliedMigration, RevertedMigration


def mark_repaired(
    conn: psycopg.Connection[Any], m: Migration, status: Literal["applied", "reverted"]
) -> AppliedMigration | RevertedMigration:
    """Mark `m` as `status` in its own transaction; what the run's result lists for it."""
    now = datetime.now(UTC)
    done: AppliedMigration | RevertedMigration
    with conn.transaction(), conn.cursor() as cur:
        if status == "applied":
            cur.execute(*tracking.applied_insert(m.version, m.name, split_like_cli(m.up.text)))
            done = AppliedMigration(
                version=m.version, name=m.name, checksum=m.checksum, applied_at=now.isoformat()
            )
        else:
            cur.execute(*tracking.applied_delete(m.version))
            done = RevertedMigration(version=m.version, name=m.name)
        cur.execute(*tracking.history_insert(
            version=m.version, name=m.name, checksum=m.checksum,
            operation=f"repair-{status}", success=True, started_at=now, duration_ms=0.0,
            runner=application_name("repair"),
        ))  # fmt: skip
    return done
