"""Every command's `-o json` on the shop against a real PostgreSQL parses with its model
(engine/outputs.py, engine/results.py) and renders back to the very bytes the CLI printed: the
models describe what the commands really print, nulls, left-out keys and spacing included."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from dbmigrator.engine.outputs import (
    DriftOutput,
    LintOutput,
    PlanOutput,
    StatusOutput,
    render_output,
)
from dbmigrator.engine.results import RunResult, parse_result, render_json
from tests.helpers import REPO, query, run_cli

SHOP = str(REPO / "migrations")
PHASES = ["--phase", "core=003", "--phase", "rest=008"]
M = TypeVar("M", bound=BaseModel)


def _parsed(model: type[M], *args: str, dsn: str, codes: tuple[int, ...] = (0,)) -> M:
    out = run_cli(*args, "--dir", SHOP, "-o", "json", dsn=dsn)
    assert out.returncode in codes, out.output
    doc = model.model_validate_json(out.stdout)
    if isinstance(doc, RunResult):
        again = render_json(doc)
    else:
        assert isinstance(doc, (PlanOutput, StatusOutput, DriftOutput, LintOutput))
        again = render_output(doc)
    assert again == out.stdout.rstrip("\n"), f"{args}: {out.stdout} != {again}"
    return doc


def test_every_command_json_parses_with_its_model_byte_for_byte(dsn: str, tmp_path: Path) -> None:
    assert run_cli("bootstrap", dsn=dsn).returncode == 0
    query(dsn, (REPO / "tools" / "legacy_shop_seed.sql").read_text())

    before = _parsed(StatusOutput, "status", dsn=dsn)
    assert before.current_version is None and len(before.pending) == 8
    assert _parsed(DriftOutput, "drift", dsn=dsn).baseline is None
    first = _parsed(PlanOutput, "plan", *PHASES, dsn=dsn)
    assert first.phases is not None and [p.name for p in first.phases] == ["core", "rest"]
    assert first.baseline is None and first.plan.from_version is None

    up = _parsed(RunResult, "up", "--target", "005", dsn=dsn)
    assert up.ok and [m.version for m in up.applied] == ["001", "002", "003", "004", "005"]

    status = _parsed(StatusOutput, "status", dsn=dsn)
    assert status.current_version == "005" and status.applied[0].recorded_by == "dbmigrator"
    log = tmp_path / "plan.log"
    plan = _parsed(PlanOutput, "plan", "--termination-log", str(log), dsn=dsn)
    assert plan.baseline is not None and plan.baseline.version == "005"
    assert parse_result(log.read_text()).plan == plan.plan
    down = _parsed(PlanOutput, "plan", "--down", "--target", "003", dsn=dsn)
    assert down.phases is None and down.plan.direction == "down" and down.lint_counts.warning > 0
    lint = _parsed(LintOutput, "lint", "--down-to", "003", dsn=dsn)
    assert lint.direction == "down" and lint.lint == down.lint
    assert _parsed(LintOutput, "lint", "--all", dsn=dsn).files

    query(dsn, "ALTER TABLE public.categories ADD COLUMN sneaky int")
    drift = _parsed(DriftOutput, "drift", dsn=dsn, codes=(1,))
    assert drift.count == 1 and drift.accepted is None and drift.drift[0].name == "sneaky"
    accepted = _parsed(DriftOutput, "drift", "--accept", dsn=dsn)
    assert accepted.accepted is True and accepted.count == 0
