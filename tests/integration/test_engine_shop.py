"""The shop's eight migrations through the real CLI: up, idempotent re-run, down/up round trip,
validation with migrations/checks.yaml, rehearsal, backup and restore."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import REPO, query, run_cli

SHOP = str(REPO / "migrations")
PHASES = ["--phase", "core-infrastructure=003", "--phase", "payment-and-audit=005",
          "--phase", "advanced-features=008"]  # fmt: skip


def _tables(dsn: str) -> set[str]:
    rows = query(
        dsn, "select table_name from information_schema.tables where table_schema = 'public'"
    )
    return {str(r[0]) for r in rows}


def _bootstrap(dsn: str, legacy: bool = True) -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0
    if legacy:
        with (REPO / "tools" / "legacy_shop_seed.sql").open() as f:
            query(dsn, f.read())


def test_up_applies_all_then_nothing_then_round_trips(dsn: str) -> None:
    _bootstrap(dsn)
    first = run_cli("up", "--dir", SHOP, *PHASES, "-o", "json", dsn=dsn)
    assert first.returncode == 0, first.output
    result = json.loads(first.stdout)
    assert [a["version"] for a in result["applied"]] == [f"00{i}" for i in range(1, 9)]
    assert result["currentVersion"] == "008"
    assert result["validation"]["passed"] is True
    assert result["validation"]["failed"] == 0
    rows = query(
        dsn,
        "select version, name, statements is not null from supabase_migrations.schema_migrations order by 1",
    )
    assert [r[0] for r in rows] == [f"00{i}" for i in range(1, 9)]
    assert all(r[2] for r in rows)
    migrated = query(
        dsn, "select count(*) from public.spare_parts where legacy_product_id is not null"
    )[0][0]
    legacy = query(dsn, "select count(*) from public.products")[0][0]
    assert migrated == legacy and legacy > 0

    again = run_cli("up", "--dir", SHOP, "-o", "json", dsn=dsn)
    assert again.returncode == 0, again.output
    assert json.loads(again.stdout)["applied"] == []

    down = run_cli("down", "--dir", SHOP, "--target", "005", "-o", "json", dsn=dsn)
    assert down.returncode == 0, down.output
    down_result = json.loads(down.stdout)
    assert [r["version"] for r in down_result["reverted"]] == ["008", "007", "006"]
    assert down_result["currentVersion"] == "005"
    assert "admin_roles" not in _tables(dsn)
    assert (
        query(dsn, "select count(*) from public.spare_parts where legacy_product_id is not null")[
            0
        ][0]
        == 0
    )
    assert (
        query(
            dsn, "select count(*) from pg_publication_tables where pubname = 'supabase_realtime'"
        )[0][0]
        == 0
    )

    up_again = run_cli("up", "--dir", SHOP, "-o", "json", dsn=dsn)
    assert up_again.returncode == 0, up_again.output
    assert [a["version"] for a in json.loads(up_again.stdout)["applied"]] == ["006", "007", "008"]
    assert "admin_roles" in _tables(dsn)

    validate = run_cli(
        "validate", "--dir", SHOP, "--checks", f"{SHOP}/checks.yaml", "-o", "json", dsn=dsn
    )
    assert validate.returncode == 0, validate.output
    summary = json.loads(validate.stdout)["validation"]
    assert summary["passed"] and summary["total"] > 50


def test_text_output_shows_progress_per_file_and_phase(dsn: str) -> None:
    _bootstrap(dsn, legacy=False)
    out = run_cli("up", "--dir", SHOP, *PHASES, "--verbose", dsn=dsn)
    assert out.returncode == 0, out.output
    for phase in ("core-infrastructure", "payment-and-audit", "advanced-features"):
        assert f"▶ {phase}" in out.stdout
    assert "001_create_core_tables" in out.stdout and "validation after 008" in out.stdout
    assert "line " in out.stdout  # per-statement progress with --verbose


def test_rehearse_leaves_the_database_untouched(dsn: str) -> None:
    _bootstrap(dsn)
    assert run_cli("up", "--dir", SHOP, "--target", "003", dsn=dsn).returncode == 0
    before = _tables(dsn)
    out = run_cli("rehearse", "--dir", SHOP, "-o", "json", dsn=dsn)
    assert out.returncode == 0, out.output
    result = json.loads(out.stdout)
    assert result["command"] == "rehearse"
    assert [a["version"] for a in result["applied"]] == ["004", "005", "006", "007", "008"]
    assert result["validation"]["passed"]
    assert result["backup"]["sizeBytes"] > 0
    assert _tables(dsn) == before
    assert (
        query(dsn, "select max(version) from supabase_migrations.schema_migrations")[0][0] == "003"
    )
    leftovers = query(dsn, "select datname from pg_database where datname like '%rehearsal%'")
    assert leftovers == []


def test_backup_then_restore_brings_back_the_backup_state(dsn: str, tmp_path: Path) -> None:
    _bootstrap(dsn)
    assert run_cli("up", "--dir", SHOP, "--target", "005", dsn=dsn).returncode == 0
    out = run_cli(
        "backup", "--dir", SHOP, "--out", str(tmp_path / "b"), "--keep", "2", "-o", "json", dsn=dsn
    )
    assert out.returncode == 0, out.output
    info = json.loads(out.stdout)["backup"]
    dump = Path(info["file"])
    assert dump.is_file() and dump.stat().st_size == info["sizeBytes"] and info["version"] == "005"
    import hashlib

    assert hashlib.sha256(dump.read_bytes()).hexdigest() == info["sha256"]
    assert json.loads((dump.parent / (dump.name + ".json")).read_text())["sha256"] == info["sha256"]

    assert run_cli("up", "--dir", SHOP, dsn=dsn).returncode == 0
    query(dsn, "insert into public.categories(name, slug) values ('after-backup', 'after-backup')")
    assert "admin_roles" in _tables(dsn)

    refused = run_cli("restore", "--dir", SHOP, "--from", str(dump), dsn=dsn)
    assert refused.returncode == 2 and "--yes" in refused.output

    restored = run_cli(
        "restore", "--dir", SHOP, "--from", str(dump), "--yes", "-o", "json", dsn=dsn
    )
    assert restored.returncode == 0, restored.output
    assert json.loads(restored.stdout)["currentVersion"] == "005"
    assert "admin_roles" not in _tables(dsn)
    assert (
        query(dsn, "select count(*) from public.categories where slug = 'after-backup'")[0][0] == 0
    )
    # the restored database migrates forward again
    assert run_cli("up", "--dir", SHOP, dsn=dsn).returncode == 0


def test_backup_keep_prunes_oldest(dsn: str, tmp_path: Path) -> None:
    _bootstrap(dsn, legacy=False)
    for _ in range(3):
        assert (
            run_cli(
                "backup", "--dir", SHOP, "--out", str(tmp_path), "--keep", "2", dsn=dsn
            ).returncode
            == 0
        )
        import time

        time.sleep(1.1)  # distinct timestamps in the names
    assert len(list(tmp_path.glob("*.dump"))) == 2
    assert len(list(tmp_path.glob("*.dump.json"))) == 2
