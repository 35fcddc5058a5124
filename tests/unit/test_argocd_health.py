"""The Argo CD health check (health.lua) run in Lua 5.1 over Argo CD's own health_test.yaml cases.

Argo CD runs resource health scripts in gopher-lua (Lua 5.1) with the live object as the global
`obj`, converted from its JSON; tools/argocd_health.py does the same with lupa's Lua 5.1 runtime
in the same sandbox (shared with tools/capture_health_testdata.py). Adding a case is a testdata
file plus an entry in health_test.yaml.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from argocd_health import (
    ARGOCD,
    CAPTURED_SCENARIOS,
    CHECK_DIR,
    CRD,
    HEALTH_LUA,
    HEALTH_TESTS,
    URI_WITH_PASSWORD,
    load_yaml,
    run_health,
)
from dbmigrator.api.conditions import ConditionType, Reason


def health_cases() -> list[Any]:
    tests = load_yaml(HEALTH_TESTS)["tests"]
    return [pytest.param(t, id=Path(t["inputPath"]).stem) for t in tests]


# --------------------------------------------------------------------------- Argo CD's cases


@pytest.mark.parametrize("case", health_cases())
def test_health_case(case: dict[str, Any]) -> None:
    obj = load_yaml(CHECK_DIR / case["inputPath"])
    status, message = run_health(obj)
    assert {"status": status, "message": message} == case["healthStatus"]


def test_every_testdata_file_has_a_case() -> None:
    cases = {t["inputPath"] for t in load_yaml(HEALTH_TESTS)["tests"]}
    files = {f"testdata/{p.name}" for p in (CHECK_DIR / "testdata").glob("*.yaml")}
    assert cases == files


def test_cases_cover_every_health_status() -> None:
    expected = {t["healthStatus"]["status"] for t in load_yaml(HEALTH_TESTS)["tests"]}
    assert expected == {"Healthy", "Progressing", "Degraded", "Suspended"}


def test_health_lua_is_lua_5_1() -> None:
    text = HEALTH_LUA.read_text()
    lua51.LuaRuntime().execute(f"return function() {text} end")  # compiles as Lua 5.1
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    assert not re.search(r"\bgoto\b|//|::\w+::|&|~(?!=)|<<|>>", code), "Lua 5.2+ syntax"


def test_argocd_cm_embeds_health_lua_verbatim() -> None:
    cm = load_yaml(ARGOCD / "argocd-cm.yaml")
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    body = cm["data"]["resource.customizations.health.dbmigrator.io_DatabaseMigration"]
    assert body == HEALTH_LUA.read_text(), "copy health.lua into argocd-cm.yaml"


# --------------------------------------------------------------------------- testdata realism


def _schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schema_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """What the API server would reject or prune: unknown fields, types, enums, required."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    problems: list[str] = []
    kind = schema.get("type")
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null"]
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{path}: not a {kind}"]
    if kind in ("integer", "number") and (
        isinstance(value, bool) or not isinstance(value, int if kind == "integer" else int | float)
    ):
        return [f"{path}: not a {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{path}.{key}: required")
        for key, item in value.items():
            if key in props:
                problems += schema_problems(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += schema_problems(item, extra, f"{path}.{key}")
            elif not extra and path:  # metadata/apiVersion/kind at the top are the server's
                problems.append(f"{path}.{key}: unknown field (pruned)")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += schema_problems(item, schema["items"], f"{path}[{index}]")
    return problems


@pytest.mark.parametrize("case", health_cases())
def test_testdata_is_a_resource_the_operator_could_write(case: dict[str, Any]) -> None:
    obj = load_yaml(CHECK_DIR / case["inputPath"])
    assert obj["apiVersion"] == "dbmigrator.io/v1alpha1" and obj["kind"] == "DatabaseMigration"
    schema = _schema()
    problems = [
        *schema_problems(obj["spec"], schema["properties"]["spec"], "spec"),
        *schema_problems(obj.get("status") or {}, schema["properties"]["status"], "status"),
    ]
    assert problems == []
    for condition in (obj.get("status") or {}).get("conditions", []):
        assert condition["type"] in set(ConditionType), condition["type"]
        assert condition["reason"] in set(Reason), f"unknown reason {condition['reason']}"


# --------------------------------------------------------------------------- invariants


def _combination(
    ready: str | None,
    reconciling: str | None,
    stalled: str | None,
    observed: int | None,
    deleting: bool,
    suspend: bool,
) -> dict[str, Any]:
    conditions = [
        {"type": t, "status": s, "reason": "Migrating", "message": f"{t} is {s}"}
        for t, s in (("Ready", ready), ("Reconciling", reconciling), ("Stalled", stalled))
        if s is not None
    ]
    metadata: dict[str, Any] = {"name": "x", "namespace": "y", "generation": 3}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-24T23:00:00Z"
    status: dict[str, Any] = {"conditions": conditions}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": metadata, "spec": {"suspend": suspend}, "status": status}


COMBINATIONS = list(
    itertools.product(
        [None, "True", "False", "Unknown"],
        [None, "True", "False"],
        [None, "True", "False"],
        [None, 2, 3],
        [False, True],
        [False, True],
    )
)


@pytest.mark.parametrize("chunk", range(4))
def test_health_invariants_over_all_condition_combinations(chunk: int) -> None:
    """Degraded only on a current Stalled=True; Healthy only on a current Ready=True."""
    for combo in COMBINATIONS[chunk::4]:
        ready, reconciling, stalled, observed, deleting, suspend = combo
        status, message = run_health(_combination(*combo))
        current = observed == 3
        assert message, combo
        if deleting:
            assert status == "Progressing", combo
        elif suspend:
            assert status == "Suspended", combo
        elif status == "Degraded":
            assert stalled == "True" and current, combo
        elif status == "Healthy":
            assert ready == "True" and current and stalled != "True", combo
            assert reconciling != "True", combo
        else:
            assert status == "Progressing", combo
        if reconciling == "True" and stalled != "True":
            assert status in ("Progressing", "Suspended"), f"a retry read as {status}: {combo}"
        if stalled == "True" and current and not deleting and not suspend:
            assert status == "Degraded", combo


# --------------------------------------------------------------------------- captured shapes
# testdata/e2e_*.yaml were recorded from real runs by tools/capture_health_testdata.py.


def captured_cases() -> list[dict[str, Any]]:
    tests = load_yaml(HEALTH_TESTS)["tests"]
    return [t for t in tests if Path(t["inputPath"]).name.startswith("e2e_")]


def test_captured_cases_cover_every_scenario_and_health_status() -> None:
    cases = captured_cases()
    assert {Path(t["inputPath"]).stem.split("_")[1] for t in cases} == set(CAPTURED_SCENARIOS)
    assert {t["healthStatus"]["status"] for t in cases} == {
        "Healthy", "Progressing", "Degraded", "Suspended",
    }  # fmt: skip


def test_a_captured_retry_reads_progressing_and_only_stalled_reads_degraded() -> None:
    retries = 0
    for case in captured_cases():
        obj = load_yaml(CHECK_DIR / case["inputPath"])
        conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
        reconciling = conditions.get("Reconciling", {})
        stalled = conditions.get("Stalled", {}).get("status") == "True"
        if reconciling.get("status") == "True" and reconciling["reason"] in (
            Reason.DATABASE_UNREACHABLE,
            Reason.DATABASE_LOCKED,
        ):
            retries += 1
            assert not stalled, case["inputPath"]
            assert case["healthStatus"]["status"] == "Progressing", case["inputPath"]
        if case["healthStatus"]["status"] == "Degraded":
            assert stalled, case["inputPath"]
    assert retries, "no captured shape of a transient error being retried"


def test_testdata_carry_no_database_uri_with_a_password() -> None:
    for path in sorted((CHECK_DIR / "testdata").glob("*.yaml")):
        assert not URI_WITH_PASSWORD.search(path.read_text()), path.name
