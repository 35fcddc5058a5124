"""Render docs/crd-reference.md from the CRD schema (itself rendered from the models).

One section per object (spec, spec.database, spec.phases[], ...), a table of its fields with type,
default and description, and the CEL rules that apply to it. `make crds` writes the file; a unit
test fails when the committed copy is stale.
"""

from __future__ import annotations

import json
from typing import Any

from dbmigrator.api import constants as c
from dbmigrator.api.schema import PRINTER_COLUMNS, build_openapi_schema

HEADER = """# `DatabaseMigration` reference

<!-- Generated from operator/dbmigrator/api/spec.py and status.py by `make crds`; do not edit by hand. -->

API `{api}`, kind `{kind}`, plural `{plural}`, short names {short}.
Namespaced, with a status subresource. `kubectl explain {plural}.spec` shows the same
descriptions. Versions are digit strings compared numerically.
"""


def render_reference_markdown() -> str:
    """The reference document as Markdown (deterministic)."""
    schema = build_openapi_schema()
    short = ", ".join(f"`{n}`" for n in c.SHORT_NAMES)
    parts = [
        HEADER.format(api=c.API_VERSION, kind=c.KIND, plural=c.PLURAL, short=short),
        _columns(),
    ]
    for path in ("spec", "status"):
        parts.extend(_sections(path, schema["properties"][path]))
    return "\n".join(parts)


def _columns() -> str:
    rows = ["## Printer columns", "", "| Column | JSONPath | Shown |", "|---|---|---|"]
    for col in PRINTER_COLUMNS:
        shown = "with `-o wide`" if col.get("priority") else "always"
        rows.append(f"| {col['name']} | `{_cell(col['jsonPath'])}` | {shown} |")
    return "\n".join(rows) + "\n"


def _sections(path: str, node: dict[str, Any]) -> list[str]:
    """This object's section, then the sections of its nested objects, depth first."""
    props: dict[str, Any] = node.get("properties", {})
    required = set(node.get("required", []))
    lines = [f"## `{path}`", "", node.get("description", ""), ""]
    lines += ["| Field | Type | Default | Description |", "|---|---|---|---|"]
    nested: list[str] = []
    for name, sub in props.items():
        field = f"`{name}`" + (" (required)" if name in required else "")
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
        lines.append(
            f"| {field} | {_cell(_type(sub))} | {_cell(default)} | "
            f"{_cell(sub.get('description', ''))} |"
        )
        child = sub.get("items", sub) if sub.get("type") == "array" else sub
        suffix = "[]" if sub.get("type") == "array" else ""
        if child.get("properties"):
            nested.extend(_sections(f"{path}.{name}{suffix}", child))
    rules = [*node.get("x-kubernetes-validations", [])]
    for name, sub in props.items():
        if sub.get("type") == "array":  # object sections list their own rules
            rules += [{**r, "field": name} for r in sub.get("x-kubernetes-validations", [])]
    if rules:
        lines += ["", "Admission rules (CEL):", ""]
        for r in rules:
            on = f" (on `{r['field']}`)" if "field" in r else ""
            lines.append(f"- {r['message']}{on}: `{_cell(r['rule'])}`")
    return ["\n".join(lines) + "\n", *nested]


LONG_ENUM = 12
"""Longer enums (squawk's rule names) are summarised; their list is in the CRD and the docs."""


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(node.get("type", ""))
    if kind == "array":
        return "[]" + _type(node.get("items", {}))
    if kind == "object":
        if "additionalProperties" in node:
            return "map[string]" + _type(node["additionalProperties"])
        if node.get("x-kubernetes-preserve-unknown-fields"):
            return "object (free-form)"
        return "object"
    text = kind
    if "enum" in node and len(node["enum"]) > LONG_ENUM:
        values = node["enum"]
        text += f": one of {len(values)} values (`{values[0]}` … `{values[-1]}`)"
    elif "enum" in node:
        text += ": " + " | ".join(f"`{v}`" for v in node["enum"])
    if "pattern" in node:
        text += f" matching `{node['pattern']}`"
    bounds = [f"≥ {node['minimum']}" if "minimum" in node else "",
              f"≤ {node['maximum']}" if "maximum" in node else ""]  # fmt: skip
    if any(bounds):
        text += " (" + ", ".join(b for b in bounds if b) + ")"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
