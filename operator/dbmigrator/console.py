"""What people see on a terminal and in text output: live progress and readable reports, with
rich. JSON output is engine/results.py's and engine/outputs.py's models (printed by cli/).

On a terminal, a progress bar advances per statement. Elsewhere (a Job's log, CI, a pipe) the
CLI uses lineprogress.LineProgress instead: the same lines, without loading rich. In JSON mode
progress goes to stderr so stdout stays one JSON document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar
from rich.table import Table

from dbmigrator.engine.files import Migration
from dbmigrator.engine.planning import AppliedRow, DownPlan, StatusReport, UpPlan
from dbmigrator.engine.progress import Progress
from dbmigrator.engine.results import RunResult, format_error

if TYPE_CHECKING:  # pglast loads only for the commands that parse SQL
    from dbmigrator.engine.drift import DriftReport
    from dbmigrator.engine.lintrules import LintReport
    from dbmigrator.engine.sqlparse import ParsedFile, Statement

OK = "[green]✓[/]"
FAIL = "[red]✗[/]"


class ConsoleProgress(Progress):
    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._bar: Bar | None = None
        self._task: Any = None

    def info(self, text: str) -> None:
        self.console.print(f"  {escape(text)}", highlight=False)

    def warning(self, text: str) -> None:
        self.console.print(f"  [yellow]warning:[/] {escape(text)}", highlight=False)

    def phase(self, name: str, count: int) -> None:
        self.console.print(f"[bold]▶ {name}[/] ({count} migration{'s' if count != 1 else ''})")

    def migration_started(self, migration: Migration, statements: int, transactional: bool) -> None:
        mode = "" if transactional else " [yellow](statement by statement)[/]"
        if self.console.is_terminal:
            self._bar = Bar(
                TextColumn("  {task.description}"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(migration.label, total=statements)
        else:
            self.console.print(
                f"  {migration.label}: {statements} statements{mode}", highlight=False
            )

    def statement(self, migration: Migration, index: int, total: int, statement: Statement) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task,
                completed=index - 1,
                description=f"{migration.label}: {statement.summary[:50]}",
            )
        elif self.verbose:
            self.console.print(
                f"    [{index}/{total}] line {statement.line}: {statement.summary}", highlight=False
            )

    def migration_finished(self, migration: Migration, duration_ms: float, direction: str) -> None:
        self._stop_bar()
        arrow = "↑" if direction == "up" else "↓"
        self.console.print(
            f"  {OK} {arrow} {migration.label} [dim]{duration_ms:.0f} ms[/]", highlight=False
        )

    def retrying(self, migration: Migration, attempt: int, reason: str, delay: float) -> None:
        self._stop_bar()
        self.console.print(
            f"  [yellow]retry {attempt}[/] {migration.label} in {delay:.1f}s: {escape(reason)}",
            highlight=False,
        )

    def validation(self, migration: Migration | None, headline: str, passed: bool) -> None:
        mark = OK if passed else FAIL
        after = f" after {migration.version}" if migration else ""
        self.console.print(f"    {mark} validation{after}: {headline}", highlight=False)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def close(self) -> None:
        self._stop_bar()


def show_plan(console: Console, plan: UpPlan, parsed: dict[str, ParsedFile]) -> None:
    if not plan.migrations:
        console.print(f"Nothing to apply: the database is at {plan.current or 'no version'}.")
        return
    table = Table(title=f"Plan: {plan.current or 'empty'} → {plan.target}", title_justify="left")
    for column in ("phase", "version", "file", "statements", "transaction", "down"):
        table.add_column(column)
    for phase in plan.phases:
        for m in phase.migrations:
            p = parsed[m.up.name]
            mode = (
                "one transaction"
                if p.transactional
                else (
                    "[yellow]statement by statement: "
                    + ", ".join(
                        sorted({s.why_not_transactional or "" for s in p.non_transactional})
                    )
                    + "[/]"
                )
            )
            table.add_row(phase.name, m.version, m.up.name, str(len(p.executable)), mode,
                          "yes" if m.down else "[yellow]no[/]")  # fmt: skip
    console.print(table)
    for m in plan.migrations:
        for s in parsed[m.up.name].non_transactional:
            console.print(f"[yellow]note:[/] {m.up.name}:{s.line}: {s.why_not_transactional} cannot run in a "
                          "transaction; this file runs statement by statement", highlight=False)  # fmt: skip
    from dbmigrator.engine.sqlparse import plan_cluster_wide

    for c in plan_cluster_wide(parsed[m.up.name] for m in plan.migrations):
        console.print(f"[yellow]note:[/] {c.display}", highlight=False)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def show_lint(console: Console, report: LintReport, *, summary: bool) -> None:
    """Findings under each file, one line each: `file:line rule [level] message`."""
    colour = {"error": "red", "warning": "yellow"}
    for name in report.files:
        findings = report.for_file(name)
        if not findings:
            continue
        if not summary:
            console.print(f"lint {escape(name)}:", highlight=False)
        for f in findings:
            console.print(
                f"{'  ' if not summary else ''}{escape(f.file)}:{f.line} {f.rule} "
                f"[{colour[f.level]}]\\[{f.level}][/] {escape(f.message)}",
                highlight=False,
                soft_wrap=True,
            )
    if summary:
        console.print(report.summary(), highlight=False)
    elif report.findings:
        c = report.counts
        console.print(f"lint: {c['error']} error(s), {c['warning']} warning(s)", highlight=False)


def show_down_plan(console: Console, plan: DownPlan) -> None:
    if not plan.migrations:
        console.print(f"Nothing to revert: the database is at {plan.current or 'no version'}.")
        return
    console.print(f"Down plan: {plan.current} → {plan.target}")
    for m in plan.migrations:
        console.print(f"  ↓ {m.label} using {m.down.name if m.down else '?'}")


def show_status(console: Console, report: StatusReport, history: list[dict[str, Any]]) -> None:
    table = Table(title=f"Current version: {report.current or 'none'}", title_justify="left")
    for column in ("version", "name", "state", "checksum"):
        table.add_column(column)
    drift = {d.version: d for d in report.drift}
    for m, row in report.applied:
        if m is None:
            table.add_row(row.version, row.name or "", "[yellow]applied, no file[/]", "")
            continue
        state = "[red]applied, CHANGED since[/]" if m.version in drift else "[green]applied[/]"
        if row.origin == "readded":
            state = "[red]re-added outside dbmigrator[/]"
        table.add_row(m.version, m.name, state, short_checksum(row))
    for m in report.pending:
        table.add_row(m.version, m.name, "[cyan]pending[/]", m.checksum[7:19])
    console.print(table)
    for d in report.drift:
        console.print(f"[red]drift:[/] {escape(d.display)} changed since it was applied")
    for r in report.readded:
        console.print(f"[red]re-added:[/] {escape(r.display)}")
    if history:
        console.print("Recent runs:")
        for h in history[:5]:
            mark = OK if h["success"] else FAIL
            when = h["finished_at"].strftime("%Y-%m-%d %H:%M:%S") if h["finished_at"] else ""
            console.print(f"  {mark} {when} {h['operation']:<6} {h['version']} {h['name'] or ''} "
                          f"by {h['executed_by']} {h.get('note') or ''}", highlight=False)  # fmt: skip


def short_checksum(row: AppliedRow) -> str:
    """What the checksum column says: 12 hex digits of ours, else why there is none."""
    if row.checksum:
        return row.checksum.removeprefix("sha256:")[:12]
    return {
        "external": "(other tool)",
        "readded": "(untrusted)",
    }.get(row.origin, "(none)")


def show_result(console: Console, result: RunResult) -> None:
    if result.validation is not None and (
        result.validation.failures or not result.validation.passed
    ):
        table = Table(title="Failed checks", title_justify="left")
        for column in ("check", "target", "message"):
            table.add_column(column)
        for f in result.validation.failures:
            table.add_row(escape(f.check), escape(f.target), escape(f.message))
        console.print(table)
    if result.validation is not None and result.validation.warning_details:
        table = Table(title="Warnings", title_justify="left")
        for column in ("check", "object", "message"):
            table.add_column(column)
        for w in result.validation.warning_details:
            table.add_row(escape(w.check), escape(w.target), escape(w.message))
        console.print(table)
    if result.performance:
        table = Table(title="Query timings (median of EXPLAIN ANALYZE runs)", title_justify="left")
        for column in ("query", "baseline ms", "now ms", "change", "limit"):
            table.add_column(column)
        for t in result.performance:
            change = "" if t.degradation_percent is None else f"{t.degradation_percent:+.1f}%"
            color = "green" if t.passed else "red"
            table.add_row(t.name, "-" if t.baseline_ms is None else f"{t.baseline_ms:.3f}",
                          f"{t.current_ms:.3f}" if t.current_ms is not None else "-",
                          f"[{color}]{change}[/]", f"{t.max_degradation_percent:g}%")  # fmt: skip
        console.print(table)
    if result.backup is not None:
        b = result.backup
        console.print(f"Backup: {b.file} ({_size(b.size_bytes)}, sha256 {b.sha256[:16]}…, version {b.version or 'none'})",
                      highlight=False)  # fmt: skip
    if result.ok:
        console.print(f"{OK} {summary_line(result)}", highlight=False)
    else:
        assert result.error is not None
        console.print(
            f"{FAIL} {result.command} failed: {escape(format_error(result.error))}", highlight=False
        )
        if result.current_version is not None or result.from_version is not None:
            console.print(
                f"  database is at version {result.current_version or 'none'}", highlight=False
            )


def show_drift(console: Console, report: DriftReport) -> None:
    """Each change on its own line (stdout unless JSON mode), then one summary line."""
    baseline = report.baseline
    if baseline is None:
        console.print("no baseline yet: run up first (each run records a snapshot of the schema)")
        return
    since = baseline.described
    for change in report.changes:
        console.print(escape(change.message), highlight=False, soft_wrap=True)
    if report.changes:
        console.print(
            f"{FAIL} {len(report.changes)} schema change(s) made outside migrations since {since}",
            highlight=False,
        )
    else:
        console.print(f"{OK} no drift: the schema matches {since}", highlight=False)


def summary_line(result: RunResult) -> str:
    parts = []
    if result.drift_count:
        parts.append(f"{result.drift_count} schema change(s) made outside migrations (drift)")
    if result.applied:
        parts.append(f"{len(result.applied)} migration(s) applied")
    if result.reverted:
        parts.append(f"{len(result.reverted)} migration(s) reverted")
    if result.validation is not None:
        v = result.validation
        parts.append(
            f"{v.total - v.failed}/{v.total} checks passed"
            + (f", {v.warnings} warning(s)" if v.warnings else "")
        )
    parts.append(f"database at {result.current_version or 'no version'}")
    return f"{result.command}: " + "; ".join(parts) + f" ({result.duration_ms / 1000:.1f}s)"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    return f"{n} B"
