"""Every testdata object read by three health engines that nobody here wrote, against ONE table.

- Argo CD: health.lua in Lua 5.1 (tests/unit/test_argocd_health.py's harness);
- kstatus: sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, Flux's (and kpt's) generic reading;
- Flux: kustomize-controller's own CEL evaluator (github.com/fluxcd/pkg/runtime/cel) with the
  healthCheckExprs read from the shipped examples/flux/shop.yaml.

kstatus and Flux run in hack/healthcheck (Go, pinned in its go.mod), built once by
hack/build-healthcheck.sh into ~/.cache/dbmigrator/tools/bin. The expected verdicts are
deploy/gitops-health.yaml; docs/gitops.md's table is generated from it and checked here.
A Flux evaluation error is reported as Unknown: what Flux's wait records for it (it neither
passes nor fails the Kustomization; it waits).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gitops_health_table import DOC, TESTDATA, doc_table, load_expected, render_table
from tests.unit.test_argocd_health import load_yaml, run_health

REPO = Path(__file__).resolve().parents[2]
FLUX_EXAMPLE = REPO / "examples" / "flux" / "shop.yaml"
BUILD = REPO / "hack" / "build-healthcheck.sh"
KSTATUS = {"InProgress", "Failed", "Current", "Terminating", "NotFound", "Unknown"}


@cache
def healthcheck_tool() -> str:
    """dbm-healthcheck, built (or reused from the cache) by hack/build-healthcheck.sh."""
    out = subprocess.run(
        ["bash", str(BUILD)], capture_output=True, text=True, timeout=1200, check=False
    )
    assert out.returncode == 0, f"hack/build-healthcheck.sh failed:\n{out.stderr[-3000:]}"
    return out.stdout.strip().splitlines()[-1]


def run_engines(tool: str, flux_file: Path, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """{str(path): {"argocd", "kstatus", "flux", "fluxError"}} for each object file."""
    out = subprocess.run(
        [tool, "-flux", str(flux_file), *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    verdicts: dict[str, dict[str, Any]] = json.loads(out.stdout)
    for path in paths:
        v = verdicts[str(path)]
        v["flux"] = "Unknown" if v["flux"] == "Error" else v["flux"]
        v["argocd"] = run_health(load_yaml(path))[0]
    return verdicts


def flux_health(obj: dict[str, Any]) -> str:
    """Flux's verdict (shipped expressions) on one live object, e.g. read from the cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "object.json"
        path.write_text(json.dumps(obj))
        return str(run_engines(healthcheck_tool(), FLUX_EXAMPLE, [path])[str(path)]["flux"])


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict[str, Any]]:
    files = sorted(TESTDATA.glob("*.yaml"))
    by_path = run_engines(healthcheck_tool(), FLUX_EXAMPLE, files)
    return {Path(p).name: v for p, v in by_path.items()}


def test_every_testdata_object_has_one_expected_row() -> None:
    assert sorted(load_expected()) == sorted(p.name for p in TESTDATA.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(load_expected()))
def test_all_three_engines_agree_with_the_table(
    name: str, verdicts: dict[str, dict[str, Any]]
) -> None:
    want = load_expected()[name]
    got = verdicts[name]
    assert got["kstatus"] in KSTATUS, got
    assert {k: got[k] for k in want} == want, f"{name}: {got}"


def test_flux_never_reads_current_before_the_operator_has_written(
    verdicts: dict[str, dict[str, Any]],
) -> None:
    """The bug of plain kstatus: no status yet reads Current and releases dependsOn early."""
    for name in sorted(verdicts):
        obj = load_yaml(TESTDATA / name)
        if not (obj.get("status") or {}).get("observedGeneration"):
            assert verdicts[name]["flux"] in ("InProgress", "Unknown"), name
            assert verdicts[name]["argocd"] in ("Progressing", "Suspended"), name


def test_flux_errors_only_where_status_is_missing_altogether(
    verdicts: dict[str, dict[str, Any]],
) -> None:
    """Every object the API server can serve (status at least {}) is read without an error."""
    for name, v in sorted(verdicts.items()):
        has_status = "status" in load_yaml(TESTDATA / name)
        assert (v["flux"] == "Unknown") == (not has_status), (name, v)
        if not has_status:
            assert "no such attribute" in v["fluxError"], v


def test_a_suspended_resource_settles_for_flux_and_argocd(
    verdicts: dict[str, dict[str, Any]],
) -> None:
    """kstatus never settles on a suspended resource; the shipped expressions fail it at once."""
    settled = [
        n for n in verdicts
        if (load_yaml(TESTDATA / n).get("status") or {}).get("phase") == "Suspended"
        and verdicts[n]["argocd"] == "Suspended" and verdicts[n]["flux"] == "Failed"
    ]  # fmt: skip
    assert settled, "no suspended object that Flux settles on"
    for name in settled:
        assert verdicts[name]["kstatus"] == "InProgress", name


def test_the_late_secret_case_is_progressing_for_argocd_and_flux(
    verdicts: dict[str, dict[str, Any]],
) -> None:
    v = verdicts["progressing_waitingForSecret.yaml"]
    assert (v["argocd"], v["kstatus"], v["flux"]) == ("Progressing", "InProgress", "InProgress")


def test_the_docs_table_is_generated_from_the_expected_table() -> None:
    assert doc_table(DOC.read_text()) == render_table(load_expected()), (
        "docs/gitops.md is stale: run .venv/bin/python tools/gitops_health_table.py --write"
    )


def test_the_flux_example_is_read_from_the_shipped_file_not_a_copy(tmp_path: Path) -> None:
    """Break the shipped expressions in a copy: the verdicts must change (the tool reads them)."""
    broken = tmp_path / "flux.yaml"
    broken.write_text(FLUX_EXAMPLE.read_text().replace("c.type == 'Ready'", "c.type == 'Nope'"))
    path = TESTDATA / "healthy_succeeded.yaml"
    assert run_engines(healthcheck_tool(), broken, [path])[str(path)]["flux"] == "InProgress"
    assert run_engines(healthcheck_tool(), FLUX_EXAMPLE, [path])[str(path)]["flux"] == "Current"
