"""Migration file sets: naming, pairing, ordering, and the errors that name the file at fault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbmigrator.engine.errors import InputError
from dbmigrator.engine.files import build_migration_set


def test_pairs_up_and_down_and_orders_numerically() -> None:
    s = build_migration_set("d", [
        ("010_ten.sql", "a"), ("002_two.sql", "b"), ("002_two.down.sql", "c"),
        ("README.md", ""), ("checks.yaml", ""), ("..data", ""),
    ])  # fmt: skip
    assert s.versions == ["002", "010"]
    assert s.get("2") is not None and s.get("002").down is not None  # type: ignore[union-attr]
    assert s.get("010").down is None  # type: ignore[union-attr]
    assert s.migrations[0].checksum.startswith("sha256:")


def test_supabase_timestamps() -> None:
    s = build_migration_set("d", [("20240101120000_a.sql", ""), ("20231231235959_b.sql", "")])
    assert s.versions == ["20231231235959", "20240101120000"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("001_a.sql", ""), ("001_b.sql", "")], "duplicate version 001: 001_a.sql and 001_b.sql"),
        ([("001_a.sql", ""), ("02_b.sql", "")], "mix digit widths"),
        ([("seed.sql", "")], "seed.sql: not a migration file name"),
        ([("001_a.down.sql", "")], "down file without an up file"),
        ([("001_a.sql", ""), ("001_b.down.sql", "")], "expected 001_a.down.sql"),
    ],
)
def test_bad_sets_name_the_file(files: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        build_migration_set("d", files)


def test_resolve_names_what_exists() -> None:
    s = build_migration_set("dir", [("001_a.sql", ""), ("002_b.sql", "")])
    assert s.resolve("2") == 2
    assert s.resolve("000", allow_zero=True) == 0
    with pytest.raises(
        InputError, match=r"target version 009 is not a migration in dir \(have 001\.\.002\)"
    ):
        s.resolve("009")
    with pytest.raises(InputError, match="not a number"):
        s.resolve("abc")


@given(st.sets(st.integers(min_value=1, max_value=999), min_size=1, max_size=30))
def test_any_set_of_versions_orders_by_number(versions: set[int]) -> None:
    files = [(f"{v:03d}_m{v}.sql", f"select {v};") for v in versions]
    s = build_migration_set("d", files)
    assert [m.key for m in s] == sorted(versions)
