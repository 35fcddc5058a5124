"""The run's result (engine/runstate.py), the drift policy (engine/schemaguard.py) and the plain
progress lines (lineprogress.py): pure pieces the runner is built from."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from dbmigrator.console import ConsoleProgress
from dbmigrator.engine.drift import Baseline, DriftReport, build_snapshot, plan_drift
from dbmigrator.engine.errors import DriftDetected, MigrationError
from dbmigrator.engine.files import Migration, SqlFile
from dbmigrator.engine.progress import Progress
from dbmigrator.engine.results import AppliedMigration
from dbmigrator.engine.runstate import RunState, run_result
from dbmigrator.engine.schemaguard import drift_gate
from dbmigrator.engine.sqlparse import parse_file
from dbmigrator.lineprogress import LineProgress


def test_a_success_names_its_target_and_no_error() -> None:
    run = RunState("up", from_version="001")
    run.applied.append(AppliedMigration(version="002", name="b", checksum="sha256:x"))
    result = run_result(run, database="shop", current="002", target="002")
    assert (result.ok, result.exit_code, result.error) == (True, 0, None)
    assert (result.from_version, result.current_version, result.target_version) == (
        "001", "002", "002",
    )  # fmt: skip
    assert [a.version for a in result.applied] == ["002"]
    assert result.drift_count is None  # drift not looked at


def test_a_failure_keeps_what_ran_before_it_and_its_exit_code() -> None:
    run = RunState("up", from_version="001")
    run.applied.append(AppliedMigration(version="002", name="b", checksum="sha256:x"))
    error = MigrationError("relation x does not exist", file="003_c.sql", line=4)
    result = run_result(run, database="shop", current="002", target="003", error=error)
    assert (result.ok, result.exit_code) == (False, error.exit_code)
    assert result.target_version is None  # a failed run did not reach a target
    assert result.error is not None and result.error.line == 4
    assert [a.version for a in result.applied] == ["002"]


class _Collect(Progress):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str) -> None:
        self.warnings.append(text)


def _drifted() -> DriftReport:
    old = build_snapshot(["public"], [("public.t", "table", "", {})])
    new = build_snapshot(
        ["public"], [("public.t", "table", "", {}), ("public.t", "column", "x", {})]
    )
    baseline = Baseline("002", "2026-11-29T08:00:00Z", old.sha256, old)
    return DriftReport(baseline, tuple(plan_drift(old, new)))


def test_no_baseline_means_no_drift_whatever_the_policy() -> None:
    progress = _Collect()
    for mode in ("fail", "warn"):
        drift_gate(DriftReport(None, ()), mode, progress)  # type: ignore[arg-type]
    assert progress.warnings == []


def test_fail_stops_with_every_change_named_and_warn_reports_each() -> None:
    report = _drifted()
    assert [c.message for c in report.changes] == ["public.t: column x added"]
    with pytest.raises(DriftDetected) as refused:
        drift_gate(report, "fail", _Collect())
    assert "public.t: column x added" in refused.value.message
    assert "nothing ran" in refused.value.message and "drift --accept" in (refused.value.hint or "")
    progress = _Collect()
    drift_gate(report, "warn", progress)
    assert progress.warnings[-1] == "drift: public.t: column x added"
    assert "version 002" in progress.warnings[0]


def _events(progress: Progress) -> None:
    sql = "create table t (a int);\ncreate index concurrently i on t (a);\n"
    m = Migration("003", "index", SqlFile("003_index.sql", sql), None)
    statement = parse_file(m.up).statements[1]
    progress.phase("all", 1)
    progress.migration_started(m, 2, False)
    progress.statement(m, 2, 2, statement)
    progress.info("plan sha256:ab verified: the files are the approved ones")
    progress.warning("a [bold]bracketed[/] text stays as written")
    progress.retrying(m, 1, "ERROR 55P03: lock timeout", 1.0)
    progress.migration_finished(m, 12.4, "up")
    progress.validation(m, "3/4 checks passed", False)
    progress.validation(None, "4/4 checks passed", True)


@pytest.mark.parametrize("verbose", [False, True])
def test_plain_lines_are_what_rich_prints_off_a_terminal(verbose: bool) -> None:
    """LineProgress replaces ConsoleProgress in Job logs and pipes: same text, line by line."""
    out = io.StringIO()
    rich = ConsoleProgress(Console(file=out, width=160, highlight=False), verbose=verbose)
    _events(rich)
    plain = io.StringIO()
    _events(LineProgress(plain, verbose=verbose))
    assert plain.getvalue() == out.getvalue()
    assert ("[2/2] line 2" in plain.getvalue()) is verbose
    assert "✗ validation after 003: 3/4 checks passed" in plain.getvalue()
