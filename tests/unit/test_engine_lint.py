"""Migration lint: the rule table against the real squawk binary, levels, the plan-context filter,
ignore comments, squawk's syntax errors, the JSON shapes and the checks file's `lint:`.

squawk runs for real (the squawk-cli wheel is a dependency); the plan-context filter is pure and
tested on findings built by hand as well as on squawk's own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dbmigrator.api.checks import ChecksConfig, LintConfig, render_checks_json
from dbmigrator.api.crd import build_crd
from dbmigrator.api.lint import RULES, render_rule_table
from dbmigrator.engine.checksfile import parse_checks
from dbmigrator.engine.errors import InputError
from dbmigrator.engine.files import SqlFile
from dbmigrator.engine.lint import LintUnavailable, find_squawk, lint_files, squawk_version
from dbmigrator.engine.lintrules import (
    NEW_TABLE_EXEMPT,
    LintFinding,
    LintReport,
    parse_squawk_json,
    plan_new_table_filter,
    reaches,
)
from dbmigrator.engine.sqlparse import ParsedFile, parse_file
from tests.helpers import REPO, run_cli, write_set

INDEX_AND_TYPE = (
    "-- 009: speed up the status filter\n"
    "CREATE INDEX orders_status_idx ON public.orders (status);\n"
    "\n"
    "ALTER TABLE orders\n"
    "  ALTER COLUMN notes TYPE varchar(500);\n"
)


def parsed(name: str, text: str) -> ParsedFile:
    return parse_file(SqlFile(name, text))


def rules_of(report: LintReport) -> list[tuple[str, int, str, str]]:
    return [(f.file, f.line, f.rule, f.level) for f in report.findings]


# --------------------------------------------------------------------------- the rule table


def test_the_rule_table_and_the_crd_enum_name_the_same_rules() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    lint = schema["properties"]["spec"]["properties"]["validation"]["properties"]["lint"]
    for key in ("ignore", "error", "warning"):
        assert lint["properties"][key]["items"]["enum"] == sorted(RULES), key


def test_squawk_accepts_every_rule_name_in_the_table(tmp_path: Path) -> None:
    """squawk refuses an unknown name in --exclude (exit 2, `invalid rule name`), so this fails
    when a rule of the table is misspelt or was removed from squawk."""
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    names = [name for name, rule in RULES.items() if not rule.meta]
    done = subprocess.run(
        [find_squawk(), "--exclude=" + ",".join(names), "a.sql"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bad = subprocess.run(
        [find_squawk(), "--exclude=no-such-rule", "a.sql"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "invalid rule name" in bad.stderr


# Statements that make squawk report (with every opt-in rule included) most of its rules.
EVERYTHING = """
ALTER TABLE t ADD COLUMN c int;
ALTER TABLE t ADD COLUMN d text NOT NULL;
ALTER TABLE t ADD COLUMN f uuid DEFAULT gen_random_uuid();
ALTER TABLE t ALTER COLUMN c DROP NOT NULL;
ALTER TABLE t ALTER COLUMN c SET NOT NULL;
ALTER TABLE t ALTER COLUMN c TYPE bigint;
ALTER TABLE t RENAME COLUMN c TO cc;
ALTER TABLE t RENAME TO tt;
ALTER TABLE t DROP COLUMN c;
ALTER TABLE t ADD CONSTRAINT u UNIQUE (c);
ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES o (id);
ALTER TABLE t ADD COLUMN id serial PRIMARY KEY;
TRUNCATE t CASCADE;
DROP DATABASE x;
DROP TABLE t2;
DROP INDEX i;
DROP VIEW v;
DROP FUNCTION f();
DROP SCHEMA s;
DROP POLICY p ON t;
REVOKE ALL ON t FROM anon;
CREATE TABLE z (id int primary key, v varchar(10), ts timestamp, c char(3));
CREATE INDEX z_v ON t (v);
ALTER TABLE t SET SCHEMA s;
ALTER TYPE e ADD VALUE 'x';
CREATE POLICY p ON t USING (true);
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
ALTER TABLE t DISABLE TRIGGER ALL;
CREATE OR REPLACE VIEW v AS SELECT 1;
CREATE DOMAIN d AS int CHECK (VALUE > 0);
ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0);
REINDEX TABLE t;
ALTER TABLE t DETACH PARTITION p;
"""


def test_every_rule_squawk_reports_is_in_the_table() -> None:
    everything = tuple(name for name, rule in RULES.items() if not rule.meta)
    report = lint_files([parsed("001_all.sql", EVERYTHING)], LintConfig(warning=everything))
    reported = {f.rule for f in report.findings}
    assert len(reported) >= 35, sorted(reported)
    assert reported <= set(RULES), sorted(reported - set(RULES))


def test_squawk_is_found_beside_python_and_is_2_70_or_newer() -> None:
    assert Path(find_squawk()).name == "squawk"
    major, minor = (int(p) for p in squawk_version().split()[1].split(".")[:2])
    assert (major, minor) >= (2, 70)


def test_no_writable_temporary_directory_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Job without its /tmp emptyDir (a read-only root): one clear line, no traceback."""
    import tempfile

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_dir))
    with pytest.raises(LintUnavailable, match="temporary directory") as info:
        lint_files([parsed("001_a.sql", "SELECT 1;")])
    assert info.value.hint == "lint needs a writable TMPDIR (or /tmp)"


def test_a_missing_squawk_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBMIGRATOR_SQUAWK", "/nonexistent/squawk")
    with pytest.raises(InputError, match="DBMIGRATOR_SQUAWK=/nonexistent/squawk is not a file"):
        lint_files([parsed("001_a.sql", "SELECT 1;")])


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize(
    ("rule", "direction", "level"),
    [
        ("require-concurrent-index-creation", "up", "error"),
        ("require-concurrent-index-creation", "down", "error"),
        ("changing-column-type", "up", "error"),
        ("ban-drop-table", "up", "error"),
        ("ban-drop-table", "down", "warning"),
        ("ban-drop-column", "down", "warning"),
        ("ban-truncate-cascade", "down", "warning"),
        ("ban-drop-database", "down", "error"),
        ("renaming-column", "down", "warning"),
        ("require-lock-timeout", "up", None),
        ("require-statement-timeout", "down", None),
        ("ban-concurrent-index-creation-in-transaction", "up", None),
        ("transaction-nesting", "up", None),
        ("prefer-bigint-over-int", "up", "warning"),
        ("syntax-error", "up", "warning"),
        ("a-rule-of-a-newer-squawk", "up", "warning"),
    ],
)
def test_default_levels(rule: str, direction: str, level: str | None) -> None:
    assert LintConfig().level(rule, direction) == level  # type: ignore[arg-type]


def test_the_config_ignores_raises_and_lowers() -> None:
    config = LintConfig(
        ignore=("prefer-bigint-over-int",),
        error=("ban-char-field", "require-lock-timeout"),
        warning=("changing-column-type",),
    )
    assert config.level("prefer-bigint-over-int", "up") is None
    assert config.level("ban-char-field", "up") == "error"
    assert config.level("require-lock-timeout", "up") == "error"
    assert config.level("changing-column-type", "up") == "warning"
    assert config.included == ("ban-char-field", "require-lock-timeout", "changing-column-type")


@pytest.mark.parametrize(
    ("level", "fail_on", "fails"),
    [
        ("error", "error", True),
        ("warning", "error", False),
        ("warning", "warning", True),
        ("error", "warning", True),
        ("error", "never", False),
    ],
)
def test_fail_on(level: str, fail_on: str, fails: bool) -> None:
    assert reaches(level, fail_on) is fails  # type: ignore[arg-type]


# --------------------------------------------------------------------------- squawk, for real


def test_an_index_and_a_type_change_on_an_existing_table_are_errors_at_their_lines() -> None:
    report = lint_files([parsed("009_orders_status.sql", INDEX_AND_TYPE)])
    assert [(f.file, f.line, f.rule, f.level) for f in report.findings if f.level == "error"] == [
        ("009_orders_status.sql", 2, "require-concurrent-index-creation", "error"),
        ("009_orders_status.sql", 5, "changing-column-type", "error"),  # the TYPE clause's line
    ]
    assert report.failed and report.counts["error"] == 2
    assert not {"require-lock-timeout", "require-statement-timeout"} & {
        f.rule for f in report.findings
    }
    assert report.findings[0].column == 1 and report.findings[0].help


def test_the_same_changes_on_a_table_created_earlier_in_the_plan_are_dropped() -> None:
    create = parsed(
        "008_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, status text, notes text);\n"
    )
    report = lint_files([create, parsed("009_orders_status.sql", INDEX_AND_TYPE)])
    assert report.counts["error"] == 0, rules_of(report)
    assert [f.rule for f in report.dropped] == [
        "require-concurrent-index-creation",
        "changing-column-type",
    ]
    alone = lint_files(
        [create, parsed("009_orders_status.sql", INDEX_AND_TYPE)], plan_context=False
    )
    assert alone.counts["error"] == 2


def test_squawk_ignore_comments_keep_working() -> None:
    one_rule = (
        "-- squawk-ignore require-concurrent-index-creation\n"
        "CREATE INDEX orders_status_idx ON orders (status);\n"
        "ALTER TABLE orders ALTER COLUMN notes TYPE text;\n"
    )
    report = lint_files([parsed("009_a.sql", one_rule)])
    assert [(f.line, f.rule) for f in report.findings if f.level == "error"] == [
        (3, "changing-column-type")
    ]
    whole_file = "-- squawk-ignore-file\n" + INDEX_AND_TYPE
    assert lint_files([parsed("009_b.sql", whole_file)]).findings == ()


def test_a_statement_squawk_cannot_parse_is_a_warning_not_a_crash() -> None:
    """squawk's parser is not PostgreSQL's. Its parser accepts all the PostgreSQL we tried, so
    the file here is one pglast would refuse too (the engine never lints such a file: it stops
    at the syntax error first); what matters is squawk's own report becomes a warning."""
    broken = ParsedFile(SqlFile("003_broken.sql", "SELECT 1;\nCREATE TABLE x (a int;\n"), (), ())
    report = lint_files([broken])
    assert [(f.file, f.line, f.rule, f.level) for f in report.findings] == [
        ("003_broken.sql", 2, "syntax-error", "warning")
    ]
    assert not report.failed
    raw = parse_squawk_json(
        '[{"file":"00000.sql","line":1,"column":4,"level":"Error","message":"expected R_PAREN",'
        '"help":null,"rule_name":"syntax-error","column_end":5,"line_end":1}]'
    )
    assert raw[0].rule == "syntax-error" and raw[0].help is None


def test_files_keep_their_names_and_plan_order() -> None:
    files = [
        parsed("010_b.sql", "ALTER TABLE x ALTER COLUMN a TYPE bigint;\n"),
        parsed("009_a.sql", "\n\nALTER TABLE x RENAME COLUMN a TO b;\n"),
    ]
    report = lint_files(files)
    assert [(f.file, f.line, f.rule) for f in report.findings] == [
        ("010_b.sql", 1, "changing-column-type"),
        ("009_a.sql", 3, "renaming-column"),
    ]


def test_down_files_may_drop_what_their_up_created() -> None:
    down = parsed("008_admin.down.sql", "DROP TABLE admin_roles;\nALTER TABLE t DROP COLUMN c;\n")
    report = lint_files([down], direction="down")
    assert [(f.rule, f.level) for f in report.findings] == [
        ("ban-drop-table", "warning"),
        ("ban-drop-column", "warning"),
    ]
    assert not report.failed
    up = lint_files([parse_file(SqlFile("009_x.sql", down.file.text))])
    assert up.counts["error"] == 2


# --------------------------------------------------------------------------- plan context (pure)


def finding(file: str, line: int, rule: str = "require-concurrent-index-creation") -> LintFinding:
    return LintFinding(file, line, 1, rule, "error", "m")


@pytest.mark.parametrize(
    ("earlier", "statement", "dropped"),
    [
        ("CREATE TABLE t (a int);", "CREATE INDEX i ON t (a);", True),
        ("CREATE TABLE public.t (a int);", "CREATE INDEX i ON t (a);", True),
        ("CREATE TABLE t (a int);", "CREATE INDEX i ON public.t (a);", True),
        ("CREATE TABLE app.t (a int);", "CREATE INDEX i ON t (a);", False),
        ("CREATE TABLE other (a int);", "CREATE INDEX i ON t (a);", False),
        ("CREATE TABLE t AS SELECT 1 AS a;", "ALTER TABLE t ALTER COLUMN a TYPE bigint;", True),
        ("CREATE TABLE s (a int); ALTER TABLE s RENAME TO t;", "CREATE INDEX i ON t (a);", True),
        ("CREATE TABLE t (a int);", "DROP TABLE t;", True),
        ("CREATE TABLE t (a int);", "DROP TABLE t, old;", False),
        ("CREATE TABLE t (a int);", "TRUNCATE t CASCADE;", True),
        ("SELECT 1;", "CREATE INDEX i ON t (a);", False),
    ],
)
def test_plan_context_filter(earlier: str, statement: str, dropped: bool) -> None:
    files = [parsed("001_a.sql", earlier + "\n"), parsed("002_b.sql", "-- x\n" + statement + "\n")]
    kept, gone = plan_new_table_filter(files, [finding("002_b.sql", 2)])
    assert (len(gone), len(kept)) == ((1, 0) if dropped else (0, 1))


def test_plan_context_needs_the_table_created_before_the_statement() -> None:
    later = parsed("001_a.sql", "CREATE INDEX i ON t (a);\nCREATE TABLE t (a int);\n")
    kept, gone = plan_new_table_filter([later], [finding("001_a.sql", 1)])
    assert kept and not gone
    same = parsed("001_a.sql", "CREATE TABLE t (a int);\n\nCREATE INDEX i\n  ON t (a);\n")
    kept, gone = plan_new_table_filter([same], [finding("001_a.sql", 4)])
    assert gone and not kept


def test_plan_context_keeps_rules_that_are_not_about_the_table() -> None:
    files = [parsed("001_a.sql", "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;\n")]
    assert "prefer-bigint-over-int" not in NEW_TABLE_EXEMPT
    kept, _ = plan_new_table_filter(files, [finding("001_a.sql", 2, "prefer-bigint-over-int")])
    assert kept


# --------------------------------------------------------------------------- shapes and config


def test_the_report_json_shape() -> None:
    report = lint_files([parsed("009_orders_status.sql", INDEX_AND_TYPE)], fail_on="never")
    data = report.as_json()
    assert {"command", "ok", "lint", "counts"} <= set(data)
    assert data["command"] == "lint" and data["ok"] is True
    assert set(data["counts"]) == {"error", "warning"}
    assert set(data["lint"][0]) == {"file", "line", "column", "rule", "level", "message"}
    assert json.loads(json.dumps(data)) == data


def test_the_checks_file_takes_lint() -> None:
    checks = parse_checks(
        "lint: {failOn: warning, ignore: [prefer-bigint-over-int], error: [ban-char-field]}",
        "checks.yaml",
    )
    assert checks.lint.fail_on == "warning"
    assert checks.lint.ignore == ("prefer-bigint-over-int",)
    assert checks.lint.error == ("ban-char-field",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lint: {ignore: [no-such-rule]}", "lint.ignore: .*unknown squawk rule.*no-such-rule"),
        ("lint: {error: [require-concurent-index-creation]}", "require-concurent-index-creation"),
        ("lint: {failOn: sometimes}", "lint.failOn"),
        ("lint: {ignore: [ban-drop-table], error: [ban-drop-table]}", "both ignore and error"),
        ("lint: {errors: [ban-drop-table]}", "lint.errors"),
    ],
)
def test_bad_lint_config_names_the_file_and_key(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_checks(text, "migrations/checks.yaml")
    assert info.value.file == "migrations/checks.yaml"


def test_the_crd_lint_reaches_the_engine_through_the_jobs_checks_json() -> None:
    spec = ChecksConfig.model_validate(
        {"lint": {"failOn": "never", "ignore": ["ban-char-field"], "error": ["ban-drop-view"]}}
    )
    checks = parse_checks(render_checks_json(spec), "DBMIGRATOR_CHECKS_JSON")
    assert checks.lint == LintConfig(
        fail_on="never", ignore=("ban-char-field",), error=("ban-drop-view",)
    )


def test_lint_all_runs_without_a_database(tmp_path: Path) -> None:
    directory = write_set(
        tmp_path / "m",
        {
            "001_orders.sql": "CREATE TABLE orders (id bigint PRIMARY KEY, status text, notes text);\n",
            "002_status.sql": INDEX_AND_TYPE,
            "002_status.down.sql": "DROP INDEX orders_status_idx;\n",
        },
    )
    result = run_cli("lint", "--all", "--dir", str(directory))
    assert result.returncode == 1, result.output
    assert "002_status.sql:2 require-concurrent-index-creation [error]" in result.stdout
    assert "2 error(s)" in result.stdout
    result = run_cli(
        "lint", "--all", "--dir", str(directory), "--output", "json", "--fail-on", "never"
    )
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["error"] == 2 and data["ok"] is True
    down = run_cli("lint", "--all", "--dir", str(directory), "--down-to", "001", "-o", "json")
    assert down.returncode == 0, down.output
    assert json.loads(down.stdout)["files"] == ["002_status.down.sql"]
    bad = run_cli("lint", "--all", "--dir", str(directory), "--target", "7")
    assert bad.returncode == 2 and "target version 7 is not a migration" in bad.output
    (directory / "checks.yaml").write_text("lint: {ignore: [nope]}\n")
    bad = run_cli("lint", "--all", "--dir", str(directory))
    assert bad.returncode == 2 and "checks.yaml" in bad.output and "nope" in bad.output


@pytest.mark.parametrize("directory", ["migrations", "tests/integration/supabase_style"])
def test_the_projects_own_migration_sets_have_no_error_finding(directory: str) -> None:
    """Every file as if the ones before it were applied (lint --all), and every down file in
    the order a rollback to zero runs them: benign sets stay free of errors by default."""
    from dbmigrator.engine.source import read_migration_dir

    migrations = list(read_migration_dir(REPO / directory))
    ups = lint_files([parse_file(m.up) for m in migrations], plan_context=False)
    assert ups.counts["error"] == 0, [f.display for f in ups.findings]
    downs = [parse_file(m.down) for m in reversed(migrations) if m.down is not None]
    rollback = lint_files(downs, direction="down")
    assert rollback.counts["error"] == 0, [f.display for f in rollback.findings]


def test_docs_safety_shows_the_rule_table() -> None:
    page = (REPO / "docs" / "safety.md").read_text()
    assert render_rule_table() in page, "regenerate the table in docs/safety.md from RULES"


def test_opt_in_rules_stay_off_unless_named() -> None:
    opt_in = {name for name, rule in RULES.items() if rule.opt_in}
    report = lint_files([parsed("001_all.sql", EVERYTHING)])
    assert not opt_in & {f.rule for f in report.findings}
    named = lint_files([parsed("001_all.sql", EVERYTHING)], LintConfig(error=("ban-add-column",)))
    assert ("ban-add-column", "error") in {(f.rule, f.level) for f in named.findings}
