"""The Argo CD health check as the tests and tools/capture_health_testdata.py both run it.

Argo CD runs resource health scripts in gopher-lua (Lua 5.1) with the live object as the global
`obj`, converted from its JSON: objects become tables with string keys, arrays become tables
indexed from 1, numbers become Lua numbers (doubles), JSON null becomes nil, and only a few safe
libraries are open. `run_health` does the same with lupa's Lua 5.1 runtime (the same sandbox for
the unit tests and the capture tool), from YAML read the way Argo CD reads its testdata
(timestamps stay strings: `load_yaml`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

REPO = Path(__file__).resolve().parent.parent
CRD = REPO / "crds" / "dbmigrator.io_databasemigrations.yaml"
ARGOCD = REPO / "deploy" / "argocd"
CHECK_DIR = ARGOCD / "resource_customizations" / "dbmigrator.io" / "DatabaseMigration"
HEALTH_LUA = CHECK_DIR / "health.lua"
HEALTH_TESTS = CHECK_DIR / "health_test.yaml"
TESTDATA = CHECK_DIR / "testdata"
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
# The scenarios captured from real runs (testdata/e2e_<scenario>_<n>_<phase>.yaml), in order.
CAPTURED_SCENARIOS = (
    "shop", "rollback", "broken", "secret", "target", "suspend", "transient", "approval",
)  # fmt: skip
# A URI with credentials: scheme://user:password@host
URI_WITH_PASSWORD = re.compile(r"postgres(?:ql)?://[^\s/@:'\"]+:[^\s/@'\"]+@")
# Argo CD opens only a few safe libraries; the check must not need the rest.
UNAVAILABLE = (
    "io", "os", "debug", "package", "require", "module", "dofile", "loadfile", "load",
    "loadstring", "coroutine", "math", "getfenv", "setfenv", "collectgarbage",
)  # fmt: skip


class JsonLikeLoader(yaml.SafeLoader):
    """YAML as Argo CD sees it after JSON: no timestamp conversion."""


JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def load_yaml(path: Path) -> Any:
    """A YAML file read as Argo CD reads its testdata."""
    return yaml.load(path.read_text(), Loader=JsonLikeLoader)  # noqa: S506 - a SafeLoader


def to_lua(lua: Any, value: Any) -> Any:
    """A JSON-shaped Python value as Argo CD hands it to Lua."""
    if isinstance(value, dict):
        table = lua.table()
        for key, item in value.items():
            if item is not None:  # JSON null is nil: the key is absent
                table[str(key)] = to_lua(lua, item)
        return table
    if isinstance(value, list):
        table = lua.table()
        for index, item in enumerate(value, start=1):
            table[index] = to_lua(lua, item)
        return table
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)  # gopher-lua's LNumber is a float64
    if isinstance(value, str):
        return value
    raise TypeError(f"not a JSON value: {value!r}")


def run_health(obj: dict[str, Any]) -> tuple[str, str | None]:
    """(status, message) that health.lua returns for `obj`, in Argo CD's sandbox."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=False)
    env = lua.globals()
    for name in UNAVAILABLE:
        env[name] = None
    env.obj = to_lua(lua, obj)
    result = lua.execute(HEALTH_LUA.read_text())
    if result is None:
        raise ValueError(f"{HEALTH_LUA}: health.lua returned nothing")
    status, message = result["status"], result["message"]
    if status not in ARGO_STATUSES:
        raise ValueError(f"{HEALTH_LUA}: health.lua returned the unknown status {status!r}")
    if message is not None and not isinstance(message, str):
        raise ValueError(f"{HEALTH_LUA}: health.lua returned a message that is no string")
    return str(status), message
