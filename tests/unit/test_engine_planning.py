"""Planning up and down: targets, phases, drift, out-of-order versions, missing down files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbmigrator.engine.errors import DriftError, InputError
from dbmigrator.engine.files import MigrationSet, build_migration_set
from dbmigrator.engine.planning import AppliedRow, Phase, parse_phase, plan_down, plan_up


def shop(n: int = 8, downs: bool = True) -> MigrationSet:
    files = [(f"{i:03d}_m{i}.sql", f"select {i};") for i in range(1, n + 1)]
    if downs:
        files += [(f"{i:03d}_m{i}.down.sql", f"select -{i};") for i in range(1, n + 1)]
    return build_migration_set("migrations", files)


def applied(s: MigrationSet, through: int) -> dict[str, AppliedRow]:
    return {m.version: AppliedRow(m.version, m.name, m.checksum) for m in s if m.key <= through}


def test_up_in_phases_skips_applied_and_keeps_empty_phases() -> None:
    s = shop()
    plan = plan_up(
        s, applied(s, 4), "008", [Phase("core", "003"), Phase("pay", "005"), Phase("adv", "008")]
    )
    assert [(p.name, [m.version for m in p.migrations]) for p in plan.phases] == [
        ("core", []), ("pay", ["005"]), ("adv", ["006", "007", "008"]),
    ]  # fmt: skip
    assert plan.current == "004" and plan.target == "008"


def test_target_limits_and_default_is_latest() -> None:
    s = shop()
    assert [m.version for m in plan_up(s, {}, "003").migrations] == ["001", "002", "003"]
    assert plan_up(s, {}).target == "008"


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([Phase("a", "009")], "phase 'a' \\(#1\\) through version 009 is not a migration"),
        ([Phase("a", "005"), Phase("b", "003")], "not after the previous phase"),
        ([Phase("a", "005")], "ends at 005, before the target"),
    ],
)
def test_bad_phases(phases: list[Phase], message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_up(shop(), {}, "008", phases)


def test_drift_is_refused_with_repair_hint() -> None:
    s = shop()
    rows = applied(s, 2)
    rows["002"] = AppliedRow("002", "m2", "sha256:other")
    with pytest.raises(DriftError, match=r"002_m2\.sql") as err:
        plan_up(s, rows)
    assert "repair" in (err.value.hint or "")


def test_rows_without_checksum_are_not_drift() -> None:
    s = shop()
    rows = {"001": AppliedRow("001", "m1", None)}
    assert [m.version for m in plan_up(s, rows, "002").migrations] == ["002"]


def test_out_of_order_pending_is_refused_unless_allowed() -> None:
    s = shop()
    rows = {k: v for k, v in applied(s, 5).items() if k != "003"}
    with pytest.raises(InputError, match="older than the newest applied"):
        plan_up(s, rows)
    assert "003" in [m.version for m in plan_up(s, rows, allow_out_of_order=True).migrations]


def test_down_reverse_order_and_missing_down_files() -> None:
    s = shop()
    assert [m.version for m in plan_down(s, applied(s, 8), "005").migrations] == [
        "008",
        "007",
        "006",
    ]
    assert [m.version for m in plan_down(s, applied(s, 3), "000").migrations] == [
        "003",
        "002",
        "001",
    ]
    no_downs = shop(downs=False)
    with pytest.raises(InputError, match=r"no down file for version\(s\) 008, 007"):
        plan_down(no_downs, applied(no_downs, 8), "006")


def test_parse_phase() -> None:
    assert parse_phase("core=003") == Phase("core", "003")
    with pytest.raises(InputError):
        parse_phase("core")


@given(st.integers(1, 8), st.integers(0, 8))
def test_up_never_reapplies_and_down_only_reverts_applied(current: int, target: int) -> None:
    s = shop()
    rows = applied(s, current)
    if target >= 1:
        ups = plan_up(s, rows, f"{target:03d}").migrations
        assert all(m.version not in rows for m in ups)
        assert all(m.key <= target for m in ups)
    downs = plan_down(s, rows, f"{target:03d}").migrations
    assert all(m.version in rows and m.key > target for m in downs)
    assert [m.key for m in downs] == sorted((m.key for m in downs), reverse=True)


def _cli_row(s: MigrationSet, version: str, statements: tuple[str, ...] | None) -> AppliedRow:
    return AppliedRow(version, None, None, "external", statements)


def test_rows_of_the_supabase_cli_are_compared_by_their_statements() -> None:
    from dbmigrator.engine.clisplit import split_like_cli
    from dbmigrator.engine.planning import plan_status

    files = [("001_a.sql", "-- a\ncreate table a (id int);\n"), ("002_b.sql", "select 2;")]
    s = build_migration_set("m", files)
    same = {"001": _cli_row(s, "001", split_like_cli(files[0][1]))}
    assert plan_status(s, same).ok
    edited = {"001": _cli_row(s, "001", ("-- a\ncreate table a (id bigint)",))}
    report = plan_status(s, edited)
    assert [(d.version, d.by, d.current) for d in report.drift] == [
        ("001", "statements", "1 in the file, statement 1 differs")
    ]
    with pytest.raises(DriftError, match="recorded by another tool"):
        plan_up(s, edited)
    # No statements recorded: nothing to compare with, not drift.
    assert plan_status(s, {"001": _cli_row(s, "001", None)}).ok


def test_a_version_readded_after_our_down_is_never_trusted() -> None:
    from dbmigrator.engine.planning import plan_status

    s = shop(3)
    rows = applied(s, 2)
    rows["002"] = AppliedRow("002", "m2", None, "readded", removed_by="down at 2026-11-29")
    report = plan_status(s, rows)
    assert not report.ok and [r.version for r in report.readded] == ["002"]
    assert "reverted by dbmigrator (down at 2026-11-29)" in report.readded[0].display
    with pytest.raises(DriftError) as caught:
        plan_up(s, rows)
    assert caught.value.hint is not None and "repair --status reverted" in caught.value.hint


def test_status_checksum_column_says_why_there_is_none() -> None:
    from dbmigrator.console import short_checksum

    assert short_checksum(AppliedRow("001", checksum="sha256:" + "ab" * 32)) == "ab" * 6
    assert short_checksum(AppliedRow("001", origin="external")) == "(other tool)"
    assert short_checksum(AppliedRow("001", origin="readded")) == "(untrusted)"
