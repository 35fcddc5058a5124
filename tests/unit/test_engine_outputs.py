"""The commands' JSON models (engine/outputs.py, engine/results.py): every example in
docs/json-output.md parses with its model and renders back to the same document; a wrong shape
is refused naming the key; the conventions on null keys hold."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from dbmigrator.engine import lintrules, sqlclassify
from dbmigrator.engine.outputs import (
    BaselineInfo,
    DriftOutput,
    LintOutput,
    PlanOutput,
    StatusOutput,
    render_output,
)
from dbmigrator.engine.results import LintCounts, PlanInfo, RunResult, parse_result, render_json

DOC = Path(__file__).resolve().parents[2] / "docs/json-output.md"
MODELS: dict[str, type[BaseModel]] = {
    "RunResult": RunResult,
    "PlanOutput": PlanOutput,
    "StatusOutput": StatusOutput,
    "DriftOutput": DriftOutput,
    "LintOutput": LintOutput,
}
# A section: `### heading: `Model`...` then its first ```json block.
SECTION = re.compile(r"^### [^\n]*?: `(\w+)`[^\n]*\n.*?```json\n(.*?)```", re.M | re.S)


def examples() -> list[tuple[str, str]]:
    return SECTION.findall(DOC.read_text())


def render(model: BaseModel) -> str:
    if isinstance(model, RunResult):
        return render_json(model)
    assert isinstance(model, (PlanOutput, StatusOutput, DriftOutput, LintOutput))
    return render_output(model)


def test_the_page_has_an_example_for_every_model() -> None:
    assert sorted({name for name, _ in examples()}) == sorted(MODELS)
    assert len(examples()) == 7, "up, plan, plan --down, status, drift, drift --accept, lint"


@pytest.mark.parametrize(
    ("name", "text"), examples(), ids=[f"{n}-{i}" for i, (n, _) in enumerate(examples())]
)
def test_each_documented_example_parses_and_round_trips(name: str, text: str) -> None:
    model = MODELS[name].model_validate_json(text)
    assert json.loads(render(model)) == json.loads(text)
    assert MODELS[name].model_validate_json(render(model)) == model


def test_the_examples_in_safety_md_parse_with_their_models() -> None:
    """docs/safety.md shows the lint and drift documents where it explains the commands."""
    by_command: dict[str, type[BaseModel]] = {"lint": LintOutput, "drift": DriftOutput}
    page = (DOC.parent / "safety.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", page, re.S)]
    shown = [b for b in blocks if "command" in b]
    assert sorted(b["command"] for b in shown) == ["drift", "lint"]
    for block in shown:
        model = by_command[block["command"]].model_validate(block)
        assert json.loads(render(model)) == block


def test_a_run_result_is_read_by_parse_result() -> None:
    (text,) = [t for n, t in examples() if n == "RunResult"]
    assert parse_result(text).command == "up"


def test_the_output_documents_keep_json_dumps_spacing() -> None:
    """`-o json` printed `json.dumps(dict)` before the models; readers keep the same bytes."""
    doc = DriftOutput(ok=True, baseline=None, drift=[], count=0)
    assert (
        render_output(doc)
        == '{"command": "drift", "ok": true, "baseline": null, "drift": [], "count": 0}'
    )


def test_nulls_are_written_except_where_a_key_is_left_out() -> None:
    plan = PlanInfo(direction="down", target_version="005", hash="sha256:x")
    down = PlanOutput(ok=True, current_version=None, target_version="005", warnings=[], lint=[],
                      lint_counts=LintCounts(), baseline=None, drift=[], drift_count=0, plan=plan)  # fmt: skip
    data = json.loads(render_output(down))
    assert data["currentVersion"] is None and data["baseline"] is None
    assert "phases" not in data, "a down plan has no phases key"
    assert "fromVersion" not in data["plan"], "the nested plan leaves out its nulls, like RunResult"
    up = json.loads(render_output(down.model_copy(update={"phases": []})))
    assert up["phases"] == [] and list(up)[-2:] == ["phases", "plan"]
    accepted = DriftOutput(ok=True, accepted=True, baseline=None, drift=[], count=0)
    assert list(json.loads(render_output(accepted)))[:3] == ["command", "ok", "accepted"]
    assert "accepted" not in json.loads(
        render_output(accepted.model_copy(update={"accepted": None}))
    )


def _lint_doc() -> dict[str, typing.Any]:
    (text,) = [t for n, t in examples() if n == "LintOutput"]
    data: dict[str, typing.Any] = json.loads(text)
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.pop("failOn"), "failOn"),
        (lambda d: d.update(severity="high"), "severity"),
        (lambda d: d.update(ok="maybe"), "ok"),
        (lambda d: d.update(command="plan"), "command"),
        (lambda d: d["lint"][0].update(level="fatal"), "lint.0.level"),
        (lambda d: d["lint"][0].pop("column"), "lint.0.column"),
    ],
    ids=["missing", "unknown-key", "wrong-type", "other-command", "bad-level", "nested-missing"],
)
def test_a_wrong_shape_is_refused_naming_the_key(
    change: typing.Callable[[dict[str, typing.Any]], object], where: str
) -> None:
    data = _lint_doc()
    change(data)
    with pytest.raises(ValidationError) as raised:
        LintOutput.model_validate_json(json.dumps(data))
    assert where in str(raised.value), str(raised.value)


def test_a_status_with_a_bad_origin_is_refused() -> None:
    (text,) = [t for n, t in examples() if n == "StatusOutput"]
    data = json.loads(text)
    data["applied"][0]["recordedBy"] = "flyway"
    with pytest.raises(ValidationError, match=re.escape("applied.0.recordedBy")):
        StatusOutput.model_validate_json(json.dumps(data))


def test_a_run_result_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="exitCode"):
        parse_result('{"v": 1, "command": "up", "ok": true}')


def test_the_copied_literals_match_their_sources() -> None:
    """outputs.py copies two Literals so that it loads neither pglast nor the lint rules."""
    from dbmigrator.engine import outputs

    assert typing.get_args(outputs.LintLevel) == typing.get_args(lintrules.Level)
    assert typing.get_args(outputs.RehearsalHandling) == typing.get_args(
        sqlclassify.RehearsalHandling
    )


def test_baseline_info_of_none_is_none() -> None:
    assert BaselineInfo.of(None) is None
