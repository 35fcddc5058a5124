"""examples/shop builds with kustomize, and what it builds is what the operator and Argo CD expect.

`kubectl kustomize` (kustomize is built into kubectl) renders examples/shop offline; the
DatabaseMigration is validated against the CRD's openAPI schema (jsonschema, after the small
transform a structural schema needs) plus the CRD's CEL rules rewritten in Python; the ConfigMap
must hold exactly the files in migrations/. The Argo CD Application and the Flux Kustomization
must point at what the build contains, and the YAML in charts/, deploy/, examples/ and crds/
must pass yamllint with the repository's .yamllint.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples" / "shop"
MIGRATIONS = REPO / "migrations"
CRD = REPO / "crds" / "dbmigrator.io_databasemigrations.yaml"
KUBE_VERSION = "1.36.3"
NAMESPACE = "shop"
WAVE = "argocd.argoproj.io/sync-wave"

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def built() -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (kustomize is built into it)")
    proc = subprocess.run(
        [kubectl, "kustomize", str(SHOP)],  # no --load-restrictor: migrations/ has its own
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: found {len(found)}"
    return found[0]


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS.glob("*.sql"))


def migration_versions() -> list[str]:
    versions = {re.sub(r"_.*", "", p.name) for p in migration_files()}
    return sorted(versions, key=int)


# --------------------------------------------------------------------------- the build


def test_build_has_the_expected_objects_in_one_namespace(built: list[Obj]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in built)
    assert kinds == [
        ("ConfigMap", "shop-migrations"),
        ("DatabaseMigration", "shop-db"),
        ("Deployment", "shop-api"),
        ("PersistentVolumeClaim", "db-backups"),
        ("Secret", "shop-db-credentials"),
    ]
    assert {o["metadata"]["namespace"] for o in built} == {NAMESPACE}


def test_config_map_holds_exactly_the_migration_files(built: list[Obj]) -> None:
    data = find(built, "ConfigMap", "shop-migrations")["data"]
    files = {p.name: p.read_text() for p in migration_files()}
    assert len(files) == 16, "eight migrations, each with a down file"
    assert set(data) == set(files), "migrations/kustomization.yaml must list every *.sql file"
    for name, text in files.items():
        assert data[name] == text, f"{name} differs in the ConfigMap"
    assert not any(k.endswith((".yaml", ".md")) for k in data), "only SQL files"


def test_sync_waves_order_inputs_migration_app(built: list[Obj]) -> None:
    waves = {o["kind"]: o["metadata"].get("annotations", {}).get(WAVE) for o in built}
    assert waves == {
        "ConfigMap": "-2",
        "Secret": "-2",
        "PersistentVolumeClaim": "-2",
        "DatabaseMigration": "-1",
        "Deployment": "0",
    }


def test_core_objects_are_valid(built: list[Obj]) -> None:
    for obj in built:
        if obj["kind"] == "DatabaseMigration":
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']}: {exc}") from exc


def test_app_reads_the_database_secret(built: list[Obj]) -> None:
    secret = find(built, "Secret", "shop-db-credentials")
    pod = find(built, "Deployment", "shop-api")["spec"]["template"]["spec"]
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for c in pod["containers"]
        for e in c.get("env", [])
        if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
    ]
    assert refs
    for ref in refs:
        assert ref["name"] == "shop-db-credentials" and ref["key"] in secret["stringData"]
    assert "CHANGE-ME" in secret["stringData"]["uri"], "a placeholder, never a real password"


# --------------------------------------------------------------------------- the DatabaseMigration


def to_jsonschema(schema: Obj) -> Obj:
    """The CRD's structural schema as JSON Schema: unknown fields rejected (the API server would
    prune them silently), `nullable` as a null type, int-or-string as either."""
    out: Obj = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in schema:
        out["properties"] = {k: to_jsonschema(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = to_jsonschema(schema["additionalProperties"])
    if "items" in schema:
        out["items"] = to_jsonschema(schema["items"])
    return out


def cel_problems(spec: Obj) -> list[str]:
    """The CRD's eight x-kubernetes-validations (CEL) rules, rewritten in Python."""
    problems = []
    phases = spec.get("phases") or []
    throughs = [int(p["through"]) for p in phases]
    if phases and max(throughs) < int(spec["targetVersion"]):
        problems.append("the last phase's through must be at least spec.targetVersion")
    if len({p["name"] for p in phases}) != len(phases):
        problems.append("phase names must be unique")
    if throughs != sorted(set(throughs)):
        problems.append("phase through versions must be strictly increasing")
    if ("configMap" in spec["source"]) == ("image" in spec["source"]):
        problems.append("exactly one of spec.source.configMap and spec.source.image")
    backup, rollback = spec.get("backup") or {}, spec.get("rollback") or {}
    if backup.get("enabled", True) and backup and "volumeClaimName" not in backup:
        problems.append("spec.backup.volumeClaimName is required when enabled")
    if rollback.get("onFailure") == "Restore":
        if not rollback.get("allowDataLoss"):
            problems.append("onFailure Restore requires allowDataLoss")
        if not backup.get("enabled", True):
            problems.append("onFailure Restore requires spec.backup.enabled")
    queries = [q["name"] for q in (spec.get("validation") or {}).get("queries") or []]
    if len(set(queries)) != len(queries):
        problems.append("query names must be unique")
    return problems


def _crd_validations(schema: Obj) -> list[str]:
    found = [rule["rule"] for rule in schema.get("x-kubernetes-validations", [])]
    for sub in schema.get("properties", {}).values():
        found += _crd_validations(sub)
    if "items" in schema:
        found += _crd_validations(schema["items"])
    return found


@pytest.fixture(scope="module")
def crd_schema() -> Obj:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: Obj = version["schema"]["openAPIV3Schema"]
    return schema


def test_database_migration_matches_the_crd_schema(built: list[Obj], crd_schema: Obj) -> None:
    dbm = find(built, "DatabaseMigration", "shop-db")
    assert dbm["apiVersion"] == "dbmigrator.io/v1alpha1"
    validator = jsonschema.Draft7Validator(to_jsonschema(crd_schema["properties"]["spec"]))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(dbm["spec"])]
    assert errors == []
    assert cel_problems(dbm["spec"]) == []


def test_the_schema_check_catches_mistakes(crd_schema: Obj) -> None:
    validator = jsonschema.Draft7Validator(to_jsonschema(crd_schema["properties"]["spec"]))
    good: Obj = {
        "database": {"secretRef": {"name": "s"}},
        "source": {"configMap": {"name": "m"}},
        "targetVersion": "008",
    }
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {**good, "targetVersion": "v8"},
        {**good, "tagretVersion": "008"},
        {**good, "rollback": {"onFailure": "Panic"}},
        {**good, "database": {"secretRef": {"name": "s", "uri": "postgresql://x"}}},
    ):
        assert list(validator.iter_errors(bad)), bad
    assert cel_problems({**good, "phases": [{"name": "a", "through": "005"}]})
    assert cel_problems({**good, "rollback": {"onFailure": "Restore"}})
    twice = {"queries": [{"name": "q", "sql": "select 1"}] * 2}
    assert cel_problems({**good, "validation": twice})
    rules = _crd_validations(crd_schema)
    assert len(rules) == 8, f"the CRD's CEL rules changed: update cel_problems(): {rules}"


def test_database_migration_follows_the_design(built: list[Obj]) -> None:
    spec = find(built, "DatabaseMigration", "shop-db")["spec"]
    versions = migration_versions()
    assert spec["targetVersion"] == versions[-1] == "008"
    assert [(p["name"], p["through"]) for p in spec["phases"]] == [
        ("core-infrastructure", "003"),
        ("payment-and-audit", "005"),
        ("advanced-features", "008"),
    ]
    assert all(p["through"] in versions for p in spec["phases"])
    assert spec["source"] == {"configMap": {"name": "shop-migrations"}}
    assert spec["database"]["secretRef"] == {"name": "shop-db-credentials", "key": "uri"}
    assert spec["backup"] == {"enabled": True, "volumeClaimName": "db-backups", "keep": 5}
    find(built, "PersistentVolumeClaim", spec["backup"]["volumeClaimName"])
    assert spec["rehearsal"] == {"enabled": True}
    assert spec["rollback"]["onFailure"] == "None"


def test_validation_is_migrations_checks_yaml(built: list[Obj]) -> None:
    checks = yaml.safe_load((MIGRATIONS / "checks.yaml").read_text())
    validation = find(built, "DatabaseMigration", "shop-db")["spec"]["validation"]
    assert validation["roleProbes"] == checks["roleProbes"]
    assert validation["queries"] == checks["queries"]
    assert validation["security"] == checks["security"]


# --------------------------------------------------------------------------- GitOps wiring


def test_argocd_application_points_at_the_example() -> None:
    app = yaml.safe_load((REPO / "deploy" / "argocd" / "application.yaml").read_text())
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    source = app["spec"]["source"]
    assert (REPO / source["path"] / "kustomization.yaml").is_file()
    assert app["spec"]["destination"]["namespace"] == NAMESPACE
    cm = yaml.safe_load((REPO / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    assert "kustomize.buildOptions" not in cm["data"], "no global kustomize option is needed"


def test_flux_kustomization_checks_what_the_build_contains(built: list[Obj]) -> None:
    docs = [d for d in yaml.safe_load_all((REPO / "examples" / "flux" / "shop.yaml").read_text())]
    kustomizations = [d for d in docs if d["kind"] == "Kustomization"]
    assert kustomizations
    names = {(o["kind"], o["metadata"]["name"]) for o in built}
    for k in kustomizations:
        assert k["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        assert (REPO / k["spec"]["path"] / "kustomization.yaml").is_file()
        assert k["spec"].get("wait") or k["spec"].get("healthChecks")
        for check in k["spec"].get("healthChecks", []):
            assert (check["kind"], check["name"]) in names, check
            assert check["namespace"] == NAMESPACE
        assert "DatabaseMigration" in {c["kind"] for c in k["spec"].get("healthChecks", [])}


# --------------------------------------------------------------------------- yamllint


def _yaml_files() -> list[Path]:
    roots = [REPO / "charts", REPO / "deploy", REPO / "examples", REPO / "crds"]
    return sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml") and "templates" not in p.parts
    )


def test_yaml_passes_yamllint() -> None:
    config = YamlLintConfig(file=str(REPO / ".yamllint"))
    files = _yaml_files()
    assert len(files) > 25
    problems = [
        f"{path.relative_to(REPO)}:{p.line}: {p.message}"
        for path in files
        if not config.is_file_ignored(str(path.relative_to(REPO)))
        for p in linter.run(path.read_text(), config, str(path.relative_to(REPO)))
        if p.level == "error" or p.level == "warning"
    ]
    assert problems == []
