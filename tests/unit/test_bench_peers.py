"""The pure parts of `make bench-peers` (tools/peers.py): each peer's file names, its command
line (no password in argv) and the pom that assembles Flyway's engine."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peers import (
    FLYWAY_MAIN,
    central_only_settings,
    flyway_args,
    flyway_name,
    flyway_pom,
    migrate_args,
    migrate_name,
    peer_layout,
    split_name,
)

SHOP = [
    "001_create_core_tables.sql",
    "001_create_core_tables.down.sql",
    "010_create_order_system.sql",
    "002_create_payment_system.sql",
]


def test_golang_migrate_names_are_version_title_up_sql() -> None:
    assert migrate_name("001_create_core_tables.sql") == "001_create_core_tables.up.sql"
    assert migrate_name("20240101120000_add_x.sql") == "20240101120000_add_x.up.sql"


def test_flyway_names_are_v_version_double_underscore_description() -> None:
    assert flyway_name("001_create_core_tables.sql") == "V1__create_core_tables.sql"
    assert flyway_name("20240101120000_add_x.sql") == "V20240101120000__add_x.sql"


@given(
    st.integers(min_value=0, max_value=10**14),
    st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True),
)
def test_both_namings_keep_version_and_name(version: int, name: str) -> None:
    original = f"{version:03d}_{name}.sql"
    assert split_name(original) == (version, name)
    assert migrate_name(original).removesuffix(".up.sql").split("_", 1) == [f"{version:03d}", name]
    assert flyway_name(original) == f"V{version}__{name}.sql"


@pytest.mark.parametrize("rename", ["migrate", "flyway"])
def test_the_layout_keeps_the_order_of_the_versions(rename: str) -> None:
    up = [f for f in SHOP if not f.endswith(".down.sql")]
    layout = peer_layout(up, rename)
    assert list(layout) == sorted(up)
    assert len(set(layout.values())) == len(up)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("create_tables.sql", "create_tables.sql: a peer needs NNN_name.sql"),
        ("001_x.down.sql", "001_x.down.sql: a peer needs NNN_name.sql"),
        ("001.sql", "001.sql: a peer needs NNN_name.sql"),
    ],
)
def test_a_file_a_peer_cannot_name_is_refused_by_name(filename: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_name(filename)


def test_two_files_of_one_version_are_refused() -> None:
    with pytest.raises(ValueError, match=r"002_b\.sql: version 2 is also 002_a\.sql; flyway"):
        peer_layout(["002_a.sql", "002_b.sql"], "flyway")


def test_golang_migrate_args_carry_no_password_and_quote_the_database() -> None:
    args = migrate_args("/c/migrate", "/work/m", "127.0.0.1", 5433, "postgres", "bench 1")
    assert args == [
        "/c/migrate", "-path", "/work/m", "-database",
        "postgres://postgres@127.0.0.1:5433/bench%201?sslmode=disable", "up",
    ]  # fmt: skip


def test_flyway_args_migrate_from_the_directory_without_a_password() -> None:
    args = flyway_args("/c/flyway", "/work/f", "127.0.0.1", 5433, "postgres", "bench_1")
    assert args[0] == "/c/flyway" and args[-1] == "migrate"
    assert "-url=jdbc:postgresql://127.0.0.1:5433/bench_1" in args
    assert "-locations=filesystem:/work/f" in args
    assert not any("password" in a.lower() for a in args)


def test_the_pom_lists_flyway_its_postgresql_module_and_the_driver() -> None:
    root = ET.fromstring(flyway_pom("13.12.1", "42.7.8"))  # noqa: S314 - our own text
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    deps = [
        tuple(d.findtext(f"m:{k}", namespaces=ns) for k in ("groupId", "artifactId", "version"))
        for d in root.iterfind("m:dependencies/m:dependency", ns)
    ]
    assert deps[:3] == [
        ("org.flywaydb", "flyway-core", "13.12.1"),
        ("org.flywaydb", "flyway-database-postgresql", "13.12.1"),
        ("org.postgresql", "postgresql", "42.7.8"),
    ]
    # flyway-commandline needs modules Maven Central does not serve: never asked for.
    assert not any(a == "flyway-commandline" for _, a, _ in deps)
    assert root.findtext("m:packaging", namespaces=ns) == "pom"


def test_maven_resolves_from_central_only() -> None:
    root = ET.fromstring(central_only_settings())  # noqa: S314 - our own text
    mirror = root.find("mirrors/mirror")
    assert mirror is not None
    assert mirror.findtext("mirrorOf") == "*"
    assert mirror.findtext("url", "").startswith("https://")


def test_the_flyway_launcher_is_the_class_the_build_compiles() -> None:
    source = Path(__file__).resolve().parents[2] / "hack" / "flyway" / f"{FLYWAY_MAIN}.java"
    assert f"public final class {FLYWAY_MAIN}" in source.read_text()


def test_a_missing_peer_is_skipped_with_the_path_it_looked_for(tmp_path: Path) -> None:
    from bench_peers import peer_binaries

    (tmp_path / "migrate").write_text("#!/bin/sh\n")
    (tmp_path / "migrate").chmod(0o755)
    found, skipped = peer_binaries(tmp_path)
    assert found == {"golang-migrate": str(tmp_path / "migrate")}
    assert skipped == [
        f"Flyway skipped: {tmp_path / 'flyway' / 'flyway'} is missing (run hack/build-peers.sh)"
    ]


def test_staging_copies_the_up_files_under_the_peer_names(tmp_path: Path) -> None:
    from bench_peers import stage

    src = tmp_path / "src"
    src.mkdir()
    for name in SHOP:
        (src / name).write_text(f"-- {name}\n")
    staged = stage(src, tmp_path / "fw", "flyway")
    assert sorted(p.name for p in staged.iterdir()) == [
        "V10__create_order_system.sql", "V1__create_core_tables.sql",
        "V2__create_payment_system.sql"]  # fmt: skip
    assert (staged / "V1__create_core_tables.sql").read_text() == "-- 001_create_core_tables.sql\n"
