"""Render the `DatabaseMigration` CustomResourceDefinition (schema from `api.schema`).

`make crds` runs `python -m dbmigrator.api.crd` to write crds/dbmigrator.io_databasemigrations.yaml
(and `--reference` for docs/crd-reference.md); a unit test fails when the committed files drift.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from dbmigrator.api import constants as c
from dbmigrator.api.reference import render_reference_markdown
from dbmigrator.api.schema import PRINTER_COLUMNS, build_openapi_schema

CRD_HEADER = (
    "# Generated from operator/dbmigrator/api/spec.py and status.py by `make crds`; do not edit "
    "by hand.\n"
)


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict (apiextensions.k8s.io/v1)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": c.CRD_NAME,
            "labels": {c.LABEL_NAME: c.APP_NAME, c.LABEL_MANAGED_BY: c.MANAGED_BY},
        },
        "spec": {
            "group": c.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": c.KIND,
                "listKind": c.LIST_KIND,
                "plural": c.PLURAL,
                "singular": c.SINGULAR,
                "shortNames": list(c.SHORT_NAMES),
                "categories": list(c.CATEGORIES),
            },
            "versions": [
                {
                    "name": c.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": build_openapi_schema()},
                }
            ],
        },
    }


def render_crd_yaml() -> str:
    """The CRD as the YAML committed in crds/ (deterministic)."""
    body = yaml.dump(
        build_crd(), Dumper=_IndentedDumper, sort_keys=False, width=72, allow_unicode=True
    )
    return CRD_HEADER + "---\n" + body


class _IndentedDumper(yaml.SafeDumper):
    """Indent block sequences under their key (yamllint's default `indent-sequences`)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def main(argv: list[str] | None = None) -> int:
    """`python -m dbmigrator.api.crd [--reference]`: print the CRD YAML (or the reference)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--reference"]:
        sys.stdout.write(render_reference_markdown())
        return 0
    if args:
        sys.stderr.write("usage: python -m dbmigrator.api.crd [--reference]\n")
        return 2
    sys.stdout.write(render_crd_yaml())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
