"""The checks file (`checks.yaml` / `DBMIGRATOR_CHECKS_JSON`): YAML or JSON text -> the checks.

Pure: the shape, its limits and the SQL grammar checks of every probe and query are
`api/checks.py` (the same model is the resource's `spec.validation`); here the text is parsed
and a mistake is reported with the file and the key at fault (and the name of the probe or
query it is in).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.engine.errors import InputError


def parse_checks(text: str, source: str) -> ChecksConfig:
    """YAML or JSON text -> ChecksConfig; InputError naming `source` and the bad key."""
    data = _load(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping with roleProbes, queries, security, lint", file=source)
    try:
        return ChecksConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}{_label(data, err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(f"invalid checks: {problems}", file=source) from None


def _load(text: str, source: str) -> Any:
    """The document: JSON (what a Job gets) without loading a YAML parser, else YAML."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML/JSON: {exc}", file=source, line=line) from None


def _label(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """` (name)` of the probe or query an error points into, so a long list is searchable."""
    if len(loc) < 2 or loc[0] not in ("roleProbes", "queries") or not isinstance(loc[1], int):
        return ""
    items = data.get(str(loc[0]))
    item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
    if not isinstance(item, dict):
        return ""
    name = item.get("name") or (f"role {item['role']}" if item.get("role") else None)
    return f" ({name})" if name else ""
