"""The generated CRD: committed copy current, valid apiextensions/v1, structural, documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

from dbmigrator.api import constants as c
from dbmigrator.api.crd import build_crd, main, render_crd_yaml
from dbmigrator.api.reference import render_reference_markdown
from dbmigrator.api.schema import build_openapi_schema, to_structural

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "dbmigrator.io_databasemigrations.yaml"
REFERENCE_FILE = ROOT / "docs" / "crd-reference.md"
EXAMPLE_CR: dict[str, Any] = {
    "apiVersion": "dbmigrator.io/v1alpha1",
    "kind": "DatabaseMigration",
    "metadata": {"name": "shop-db", "namespace": "shop"},
    "spec": {
        "database": {"secretRef": {"name": "shop-db-credentials", "key": "uri"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        "targetVersion": "008",
        "phases": [{"name": "core", "through": "003"}, {"name": "rest", "through": "008"}],
        "backup": {"enabled": True, "volumeClaimName": "db-backups", "keep": 5},
        "validation": {
            "roleProbes": [
                {"role": "authenticated", "sql": "select 1", "expect": "allowed",
                 "claims": {"sub": "u1", "nested": {"role": "x"}}, "minRows": 1}
            ],
            "queries": [{"name": "q", "sql": "select 1", "maxDegradationPercent": 25.5}],
        },
        "rollback": {"onFailure": "Down"},
        "job": {"resources": {"requests": {"cpu": 1, "memory": "64Mi"}}},
    },
}  # fmt: skip


def test_committed_crd_is_current() -> None:
    assert CRD_FILE.read_text() == render_crd_yaml(), "run `make crds` and commit the result"


def test_committed_reference_is_current() -> None:
    assert REFERENCE_FILE.read_text() == render_reference_markdown(), "run `make crds`"


def test_main_prints_the_crd_and_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == render_crd_yaml()
    assert main(["--reference"]) == 0
    assert capsys.readouterr().out == render_reference_markdown()
    assert main(["--bogus"]) == 2


def test_crd_is_a_valid_apiextensions_v1_object() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text())
    kubernetes_validate.validate(crd, kubernetes_validate.latest_version(), strict=True)


def test_crd_names_scope_and_subresources() -> None:
    spec = build_crd()["spec"]
    assert build_crd()["metadata"]["name"] == "databasemigrations.dbmigrator.io"
    assert spec["group"] == "dbmigrator.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "DatabaseMigration"
    assert spec["names"]["plural"] == "databasemigrations"
    assert spec["names"]["shortNames"] == ["dbmigration", "dbmigrations", "dbm"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    (version,) = build_crd()["spec"]["versions"]
    cols = {col["name"]: col for col in version["additionalPrinterColumns"]}
    assert list(cols) == ["Target", "Current", "Phase", "Validated", "Age", "Backup", "Message"]
    assert cols["Target"]["jsonPath"] == ".spec.targetVersion"
    assert cols["Current"]["jsonPath"] == ".status.currentVersion"
    assert cols["Phase"]["jsonPath"] == ".status.phase"
    assert cols["Validated"]["jsonPath"] == '.status.conditions[?(@.type=="Validated")].status'
    assert cols["Age"]["type"] == "date"
    assert cols["Backup"]["priority"] == 1 and cols["Message"]["priority"] == 1
    assert all("priority" not in cols[n] for n in ("Target", "Current", "Phase", "Validated"))


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


SCHEMA = build_openapi_schema()
NODES = list(_walk(SCHEMA))


def test_schema_is_structural() -> None:
    for path, node in NODES:
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for banned in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "const"):
            assert banned not in node, f"{path} has {banned}"
        assert node.get("additionalProperties") not in (True, False), path
        if node.get("type") == "object" and "properties" in node:
            assert "additionalProperties" not in node, path
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), path
        assert node.get("default", 0) is not None, f"{path} has default null"


def test_every_property_has_a_description() -> None:
    for path, node in NODES:
        if path and not path.endswith(("[]", "{}")) and path != ".metadata":
            assert node.get("description"), f"{path} has no description"
    # metadata may only restrict name and generateName: the API server rejects even a description
    assert SCHEMA["properties"]["metadata"] == {"type": "object"}


def test_defaults_are_valid_for_their_schema() -> None:
    defaults = [(path, node) for path, node in NODES if "default" in node]
    assert {p for p, _ in defaults} >= {
        ".spec.database.secretRef.key", ".spec.backup.enabled", ".spec.backup.keep",
        ".spec.rehearsal.enabled", ".spec.validation.enabled", ".spec.rollback.onFailure",
        ".spec.rollback.allowDataLoss", ".spec.suspend", ".spec.job.activeDeadlineSeconds",
        ".spec.job.ttlSecondsAfterFinished", ".spec.validation.queries[].maxDegradationPercent",
    }  # fmt: skip
    # The one empty default: the API server then never serves a resource without `status`, which
    # Flux's CEL health checks need (docs/gitops.md); tests/e2e/test_gitops_status_e2e.py.
    assert [n["default"] for p, n in defaults if p == ".status"] == [{}]
    for path, node in defaults:
        if path == ".status":
            continue
        value = node["default"]
        assert value not in ([], {}), path
        kind: dict[str, type | tuple[type, ...]] = {
            "string": str, "integer": int, "boolean": bool, "number": (int, float)
        }  # fmt: skip
        assert isinstance(node["default"], kind[node["type"]]), path
        if "enum" in node:
            assert value in node["enum"], path
        if "pattern" in node:
            assert re.search(node["pattern"], value), path
        if "minimum" in node:
            assert value >= node["minimum"], path
        if "maximum" in node:
            assert value <= node["maximum"], path
        if "maxLength" in node:
            assert len(value) <= node["maxLength"], path


def test_nullable_free_form_and_int_or_string() -> None:
    nodes = dict(NODES)
    assert nodes[".spec.source.configMap"]["nullable"] is True
    assert nodes[".status.currentVersion"] == {
        "type": "string", "description": nodes[".status.currentVersion"]["description"],
        "nullable": True,
    }  # fmt: skip
    claims = nodes[".spec.validation.roleProbes[].claims"]
    assert claims["type"] == "object" and claims["x-kubernetes-preserve-unknown-fields"] is True
    assert nodes[".spec.job.resources.requests{}"] == {"x-kubernetes-int-or-string": True}
    assert nodes[".spec.job.podLabels{}"] == {"type": "string"}
    assert nodes[".spec.validation.roleProbes[].expect"]["enum"] == ["allowed", "empty", "denied"]
    assert nodes[".spec.targetVersion"]["pattern"] == "^[0-9]+$"
    assert SCHEMA["properties"]["spec"]["required"] == ["database", "source", "targetVersion"]


def test_cel_rules_are_attached_where_they_belong() -> None:
    nodes = dict(NODES)

    def rules(path: str) -> list[str]:
        return [r["rule"] for r in nodes[path].get("x-kubernetes-validations", [])]

    assert rules(".spec.source") == ["has(self.configMap) != has(self.image)"]
    assert rules(".spec.backup") == ["!self.enabled || has(self.volumeClaimName)"]
    assert rules(".spec.rollback") == ["self.onFailure != 'Restore' || self.allowDataLoss"]
    assert any("isSorted()" in r for r in rules(".spec.phases"))
    assert any("exists_one(q, q.name == p.name)" in r for r in rules(".spec.phases"))
    assert any("targetVersion" in r for r in rules(".spec"))
    assert rules(".spec.validation.queries") == [
        "self.all(q, self.exists_one(r, r.name == q.name))"
    ]
    for path, node in NODES:
        for rule in node.get("x-kubernetes-validations", []):
            assert set(rule) <= {"rule", "message", "fieldPath"}, path
            if "fieldPath" in rule:
                assert rule["fieldPath"].lstrip(".").split(".")[0] in node["properties"], path
            assert rule["rule"].count("(") == rule["rule"].count(")"), rule
    # CEL cost estimation needs bounded lists.
    for path in (".spec.phases", ".spec.validation.roleProbes", ".spec.validation.queries"):
        assert nodes[path]["maxItems"] > 0


def _validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(SCHEMA)


def test_example_resource_validates_against_the_schema() -> None:
    errors = list(_validator().iter_errors(EXAMPLE_CR))
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "targetVersion"), "v8"),
        (("spec", "phases", 0, "name"), "Core_Phase"),
        (("spec", "backup", "keep"), 0),
        (("spec", "rollback", "onFailure"), "Maybe"),
        (("spec", "validation", "roleProbes", 0, "expect"), "sometimes"),
        (("spec", "job", "activeDeadlineSeconds"), 0),
    ],
)
def test_bad_values_are_rejected_by_the_schema(path: tuple[Any, ...], value: Any) -> None:
    cr = yaml.safe_load(yaml.safe_dump(EXAMPLE_CR))
    target = cr
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(_validator().iter_errors(cr)), f"{path}={value!r} was accepted"


def test_to_structural_transform_rules() -> None:
    schema = {
        "$defs": {"Inner": {"title": "Inner", "type": "object", "description": "inner",
                            "properties": {"a": {"const": "x", "title": "A"}}}},
        "type": "object",
        "properties": {
            "ref": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}], "default": None,
                    "description": "outer"},
            "free": {"type": "object", "additionalProperties": True, "description": "f"},
            "items": {"type": "array", "items": {"type": "integer"}, "default": []},
        },
    }  # fmt: skip
    out = to_structural(schema)
    assert out["properties"]["ref"] == {
        "type": "object",
        "description": "outer",
        "nullable": True,
        "properties": {"a": {"type": "string", "enum": ["x"]}},
    }
    assert out["properties"]["free"] == {
        "type": "object", "description": "f", "x-kubernetes-preserve-unknown-fields": True
    }  # fmt: skip
    assert "default" not in out["properties"]["items"]
    with pytest.raises(ValueError, match="structural"):
        to_structural({"anyOf": [{"type": "string"}, {"type": "boolean"}]})


def test_crd_yaml_has_a_generated_header_and_fits_yamllint_defaults() -> None:
    text = render_crd_yaml()
    assert text.startswith("# Generated") and "\n---\n" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert c.CRD_NAME in text
