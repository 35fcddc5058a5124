"""The pure parts of `make bench-peers`: how each peer wants its files named, its command line,
and the pom that assembles Flyway's engine from Maven Central. No I/O but what a caller
passes in; `python3 tools/peers.py pom` prints the pom (hack/build-peers.sh uses it).
"""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import quote

FLYWAY_MAIN = "FlywayMigrate"  # hack/flyway/FlywayMigrate.java
SLF4J_VERSION = "2.0.17"  # silences Flyway's optional logging backend lookup
_NAME = re.compile(r"^(\d+)_(.+)\.sql$")


def split_name(filename: str) -> tuple[int, str]:
    """`001_create_orders.sql` → (1, "create_orders"); a clear error for any other shape."""
    match = _NAME.match(filename)
    if not match or match.group(2).endswith(".down"):
        raise ValueError(
            f"{filename}: a peer needs NNN_name.sql (a numeric version, an underscore, a name); "
            "rename the file or leave it out of the peer benchmark"
        )
    return int(match.group(1)), match.group(2)


def migrate_name(filename: str) -> str:
    """golang-migrate's source naming: `{version}_{title}.up.sql`."""
    version, name = split_name(filename)
    return f"{version:03d}_{name}.up.sql"


def flyway_name(filename: str) -> str:
    """Flyway's versioned migration naming: `V{version}__{description}.sql`."""
    version, name = split_name(filename)
    return f"V{version}__{name}.sql"


def peer_layout(filenames: list[str], rename: str) -> dict[str, str]:
    """Original name → peer name for `rename` ("migrate" or "flyway"), refusing collisions
    (two files of one version would be applied in an order the peer picks)."""
    convert = {"migrate": migrate_name, "flyway": flyway_name}[rename]
    mapping: dict[str, str] = {}
    seen: dict[int, str] = {}
    for filename in sorted(filenames):
        version, _ = split_name(filename)
        if version in seen:
            raise ValueError(
                f"{filename}: version {version} is also {seen[version]}; {rename} needs one file "
                "per version"
            )
        seen[version] = filename
        mapping[filename] = convert(filename)
    return mapping


def migrate_args(
    binary: str, directory: str, host: str, port: int, user: str, db: str
) -> list[str]:
    """`migrate -path DIR -database URL up`; the password travels in PGPASSWORD, never in argv
    (lib/pq reads it from the environment)."""
    url = f"postgres://{quote(user, safe='')}@{host}:{port}/{quote(db, safe='')}?sslmode=disable"
    return [binary, "-path", directory, "-database", url, "up"]


def flyway_args(binary: str, directory: str, host: str, port: int, user: str, db: str) -> list[str]:
    """`flyway migrate` (hack/flyway/FlywayMigrate.java: Flyway's engine with its command line's
    `-key=value` options); the password travels in FLYWAY_PASSWORD, never in argv."""
    return [
        binary,
        f"-url=jdbc:postgresql://{host}:{port}/{db}",
        f"-user={user}",
        f"-locations=filesystem:{directory}",
        "-connectRetries=0",
        "migrate",
    ]


# Flyway's engine on PostgreSQL from Maven Central. Its command line (flyway-commandline 13.12.1)
# cannot be assembled there: it needs flyway-core-utilities, flyway-command-mcp and the
# flyway-verb-* modules, which Maven Central does not serve; hack/flyway/FlywayMigrate.java runs
# Flyway.migrate() with the command line's `-key=value` options instead.
def flyway_dependencies(flyway: str, pgjdbc: str) -> list[tuple[str, str, str]]:
    """(groupId, artifactId, version) of Flyway's engine, its PostgreSQL module and the driver."""
    return [
        ("org.flywaydb", "flyway-core", flyway),
        ("org.flywaydb", "flyway-database-postgresql", flyway),
        ("org.postgresql", "postgresql", pgjdbc),
        ("org.slf4j", "slf4j-nop", SLF4J_VERSION),
    ]


def flyway_pom(flyway: str, pgjdbc: str) -> str:
    """A throw-away pom whose runtime dependencies are Flyway's engine on PostgreSQL
    (`mvn dependency:copy-dependencies` copies them into a lib directory)."""
    body = "".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n"
        for g, a, v in flyway_dependencies(flyway, pgjdbc)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.dbmigrator</groupId>\n"
        "  <artifactId>flyway-cli-assembly</artifactId>\n"
        "  <version>1</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{body}  </dependencies>\n"
        "</project>\n"
    )


def central_only_settings() -> str:
    """Maven settings that send every repository a pom names (Flyway's name Gradle's, Redshift's
    and GitHub's, unreachable here) to Maven Central, so resolution fails fast and clearly."""
    return (
        "<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf>"
        "<url>https://repo.maven.apache.org/maven2</url></mirror></mirrors></settings>\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    pom = sub.add_parser("pom", help="Print the pom that assembles Flyway's engine.")
    pom.add_argument("--flyway", required=True)
    pom.add_argument("--pgjdbc", required=True)
    sub.add_parser("settings", help="Print Maven settings that resolve from Maven Central only.")
    args = parser.parse_args()
    if args.cmd == "settings":
        sys.stdout.write(central_only_settings())
    else:
        sys.stdout.write(flyway_pom(args.flyway, args.pgjdbc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
