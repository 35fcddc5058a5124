"""The resource's OpenAPI schema, rendered from the pydantic models (pure).

`model_json_schema(by_alias=True)` is turned into a Kubernetes structural schema: `$ref`/`$defs`
inlined, `title` dropped, `anyOf[X, null]` becomes X with `nullable: true`, `anyOf[integer,
string]` becomes `x-kubernetes-int-or-string`, `const` becomes `enum`, free-form objects get
`x-kubernetes-preserve-unknown-fields`, `default: null` and empty-collection defaults are dropped.
`api.crd` wraps it into the CRD and `api.reference` into docs/crd-reference.md.
"""

from __future__ import annotations

from typing import Any

from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus

RESOURCE_DESCRIPTION = (
    "DatabaseMigration migrates a PostgreSQL database to spec.targetVersion with the dbmigrator "
    "engine, in Jobs: backup, rehearsal, one Job per phase, rollback on failure."
)
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Target", "type": "string", "jsonPath": ".spec.targetVersion",
     "description": "Version the database should be at."},
    {"name": "Current", "type": "string", "jsonPath": ".status.currentVersion",
     "description": "Version the database is at."},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase",
     "description": "What the operator is doing."},
    {"name": "Validated", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Validated")].status',
     "description": "Whether the last validation passed."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Backup", "type": "string", "jsonPath": ".status.backup.file", "priority": 1,
     "description": "Newest backup, relative to the backup volume."},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1,
     "description": "Human-readable summary."},
]  # fmt: skip


def build_openapi_schema() -> dict[str, Any]:
    """The `openAPIV3Schema` of the resource (structural, with descriptions everywhere)."""
    return {
        "type": "object",
        "description": RESOURCE_DESCRIPTION,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version: dbmigrator.io/v1alpha1."},
            "kind": {"type": "string", "description": "Kind: DatabaseMigration."},
            # The API server forbids anything but `type` here (even a description).
            "metadata": {"type": "object"},
            "spec": to_structural(DatabaseMigrationSpec.model_json_schema(by_alias=True)),
            # Defaulted to {} so that the API server never serves a resource without `status`:
            # Flux's CEL health checks (examples/flux) cannot test a missing top-level field,
            # they can test has(status.observedGeneration) once `status` exists.
            "status": {
                **to_structural(DatabaseMigrationStatus.model_json_schema(by_alias=True)),
                "default": {},
            },
        },
    }


def to_structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn a pydantic JSON schema (with `$defs`) into a Kubernetes structural schema."""
    defs: dict[str, Any] = schema.get("$defs", {})
    root = {k: v for k, v in schema.items() if k != "$defs"}
    return _convert(root, defs)


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _flatten(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs"):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "default":
            if value is not None and value != [] and value != {}:
                out["default"] = value
        elif key == "properties":
            out["properties"] = {name: _convert(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _convert(value, defs)
        elif key == "additionalProperties":
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _convert(value, defs)
        else:
            out[key] = value
    if "const" in node and "type" not in out:
        out["type"] = "string"
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return dict(sorted(out.items(), key=lambda kv: _KEY_ORDER.get(kv[0], len(_KEY_ORDER))))


_KEY_ORDER = {
    k: i
    for i, k in enumerate(
        ("type", "description", "nullable", "default", "enum", "format", "pattern", "minLength",
         "maxLength", "minimum", "maximum", "minItems", "maxItems", "required", "properties",
         "items", "additionalProperties")
    )
}  # fmt: skip


def _flatten(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Resolve `$ref` and `anyOf` into one schema; siblings (description, default) win."""
    siblings = {k: v for k, v in node.items() if k not in ("$ref", "anyOf", "allOf")}
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return {**_flatten(target, defs), **siblings}
    if "allOf" in node and len(node["allOf"]) == 1:
        return {**_flatten(node["allOf"][0], defs), **siblings}
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        nullable = len(branches) < len(node["anyOf"])
        if len(branches) == 1:
            merged = {**_flatten(branches[0], defs), **siblings}
        elif sorted(b.get("type", "") for b in branches) == ["integer", "string"]:
            merged = {"x-kubernetes-int-or-string": True, **siblings}
        else:
            raise ValueError(f"cannot express anyOf {node['anyOf']!r} in a structural schema")
        if nullable:
            merged["nullable"] = True
        return merged
    return dict(node)
