"""Pure translation of a pod's container spec into a host process: env, argv, cwd, mounts.

No I/O and no Kubernetes client: the node agent fetches the Secrets/ConfigMaps a pod refers to
and passes them in (`PodObjects`); `which`/`exists` are injected. Errors are split as the
kubelet does: `MissingObjectError` (a referenced Secret/ConfigMap/key is absent: retried, like
`CreateContainerConfigError`) and `CannotRunError` (permanent: no command for an unknown image, an
executable that is not on the host, an unsupported field).

Paths: the process runs on the host, where `/migrations` does not exist. Every mount path (and
the termination message path) is rewritten to its host directory wherever it appears as a path
token in an arg, a command, an env value or the workingDir: the whole string, a prefix
(`/migrations/0001.sql`), after `=` (`--dir=/migrations`) or inside a shell script
(`echo hi > /dev/termination-log`). A token is a mount path not preceded by a path character
and followed by `/`, the end, or a non-path character, so `/migrations2` and `x/migrations`
are left alone.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

DEFAULT_TERMINATION_PATH = "/dev/termination-log"
PROJECT_IMAGE_SUFFIX = "dbmigration-operator"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POD_IP = "127.0.0.1"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class MissingObjectError(Exception):
    """A Secret, ConfigMap or key the container needs does not exist (yet): retry later."""


class CannotRunError(Exception):
    """The container can never run on the local node agent (the message says why)."""


@dataclass(frozen=True)
class PodObjects:
    """The Secrets and ConfigMaps of the pod's namespace that it refers to, name -> data."""

    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    config_maps: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True)
class Mount:
    """A path as the container sees it and the host path that stands in for it."""

    container_path: str
    host_path: str


@dataclass(frozen=True)
class ProcessSpec:
    """Everything needed to start a container as a host process."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    termination_file: str


# ---- $(VAR) expansion -------------------------------------------------------------------------


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubelet's `$(VAR)` expansion: defined vars are replaced, `$$` escapes a `$`, undefined
    references and unterminated `$(` are kept verbatim."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end == -1:
                    out.append(text[i:])
                    break
                name = text[i + 2 : end]
                out.append(env[name] if name and name in env else text[i : end + 1])
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


# ---- env ----------------------------------------------------------------------------------------


def referenced_objects(pod: Json) -> tuple[set[str], set[str]]:
    """Names of the (secrets, configMaps) that the pod's env, envFrom and volumes refer to."""
    secrets: set[str] = set()
    config_maps: set[str] = set()
    spec = pod.get("spec", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for src in container.get("envFrom", []) or []:
            if "secretRef" in src:
                secrets.add(src["secretRef"]["name"])
            if "configMapRef" in src:
                config_maps.add(src["configMapRef"]["name"])
        for var in container.get("env", []) or []:
            ref = var.get("valueFrom") or {}
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
            if "configMapKeyRef" in ref:
                config_maps.add(ref["configMapKeyRef"]["name"])
    for volume in spec.get("volumes", []) or []:
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
        if "configMap" in volume:
            config_maps.add(volume["configMap"]["name"])
    return secrets, config_maps


def _decode(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _source(
    objects: PodObjects, kind: str, name: str, optional: bool
) -> Mapping[str, bytes] | None:
    store = objects.secrets if kind == "Secret" else objects.config_maps
    data = store.get(name)
    if data is None and not optional:
        noun = "secret" if kind == "Secret" else "configmap"
        raise MissingObjectError(f'{noun} "{name}" not found')
    return data


def _field_ref(pod: Json, path: str) -> str:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple: dict[str, str] = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise CannotRunError(f"fieldRef {path!r} is not supported by the local node agent")


def resolve_env(pod: Json, container: Json, objects: PodObjects) -> dict[str, str]:
    """The container's env as the kubelet computes it: envFrom first, then env in order, each
    `value` expanded against the vars defined before it."""
    env: dict[str, str] = {}
    for src in container.get("envFrom", []) or []:
        prefix = src.get("prefix", "")
        for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if key not in src:
                continue
            ref = src[key]
            data = _source(objects, kind, ref["name"], bool(ref.get("optional", False)))
            for name, value in (data or {}).items():
                if _ENV_NAME.match(prefix + name):
                    env[prefix + name] = _decode(value)
    for var in container.get("env", []) or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand_vars(var.get("value", "") or "", env)
            continue
        ref = var["valueFrom"]
        if "fieldRef" in ref:
            env[name] = _field_ref(pod, ref["fieldRef"]["fieldPath"])
            continue
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            if key not in ref:
                continue
            sel = ref[key]
            optional = bool(sel.get("optional", False))
            data = _source(objects, kind, sel["name"], optional)
            if data is not None and sel["key"] in data:
                env[name] = _decode(data[sel["key"]])
            elif not optional and data is not None:
                ns = pod.get("metadata", {}).get("namespace", "")
                raise MissingObjectError(
                    f"couldn't find key {sel['key']} in {kind} {ns}/{sel['name']}"
                )
            break
        else:
            raise CannotRunError(f"env {name}: valueFrom {sorted(ref)} is not supported")
    return env


# ---- volumes and path rewriting ------------------------------------------------------------


def build_mounts(
    container: Json, volume_dirs: Mapping[str, str], termination_file: str
) -> list[Mount]:
    """The container's mounts (volumeMounts + its termination message path) as host paths."""
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts", []) or []:
        path = vm["mountPath"].rstrip("/")
        if not path:
            raise CannotRunError(f"volume mount {vm['name']!r} at / cannot be mapped to the host")
        if vm["name"] not in volume_dirs:
            raise CannotRunError(f"volume mount {vm['name']!r} has no volume")
        host = volume_dirs[vm["name"]]
        if vm.get("subPath"):
            host = os.path.join(host, vm["subPath"])
        mounts.append(Mount(path, host))
    term = container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH
    mounts.append(Mount(term, termination_file))
    return mounts


def _mount_regex(mounts: Sequence[Mount]) -> re.Pattern[str] | None:
    if not mounts:
        return None
    paths = sorted({m.container_path for m in mounts}, key=len, reverse=True)
    alternatives = "|".join(re.escape(p) for p in paths)
    return re.compile(rf"(?<![\w.\-/])(?:{alternatives})(?=/|$|[^\w.\-])")


def rewrite_paths(text: str, mounts: Sequence[Mount]) -> str:
    """Replace each mount-path token in `text` by its host path (one pass, longest first)."""
    pattern = _mount_regex(mounts)
    if pattern is None:
        return text
    table = {m.container_path: m.host_path for m in mounts}
    return pattern.sub(lambda m: table[m.group(0)], text)


# ---- command -------------------------------------------------------------------------------


def image_repository(image: str) -> str:
    """`registry:5000/org/name:tag@sha256:…` -> `registry:5000/org/name`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def is_project_image(image: str) -> bool:
    return image_repository(image).endswith(PROJECT_IMAGE_SUFFIX)


def resolve_executable(
    argv0: str,
    dbmigrator: str,
    path: str,
    which: Callable[[str, str], str | None],
    exists: Callable[[str], bool],
) -> str:
    """Host executable for a container's `command[0]`: any `dbmigrator` -> the repo's venv
    one; an absolute path that exists on the host as is; otherwise looked up on `path`."""
    base = argv0.rsplit("/", 1)[-1]
    if base == "dbmigrator":
        return dbmigrator
    if "/" in argv0 and exists(argv0):
        return argv0
    found = which(base, path)
    if found is None:
        raise CannotRunError(f"executable {argv0!r} not found on the host (PATH={path})")
    return found


def build_argv(container: Json, env: Mapping[str, str], mounts: Sequence[Mount]) -> list[str]:
    """command + args, `$(VAR)`-expanded and path-rewritten (argv[0] not yet resolved)."""
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    image = container.get("image", "")
    if not command:
        if not is_project_image(image):
            raise CannotRunError(
                f"container {container['name']!r} has no command and the entrypoint of image "
                f"{image!r} is unknown to the local node agent (it runs commands as host "
                f"processes); set `command`"
            )
        command = ["dbmigrator"]
    return [rewrite_paths(expand_vars(a, env), mounts) for a in [*command, *args]]


def build_process(
    pod: Json,
    container: Json,
    objects: PodObjects,
    mounts: Sequence[Mount],
    host: HostContext,
) -> ProcessSpec:
    """The host process for `container`: argv, env (with PATH/HOME/LANG/HOSTNAME and the
    termination-log variable), cwd, and where its termination message will be."""
    declared = resolve_env(pod, container, objects)
    argv = build_argv(container, declared, mounts)
    env = {
        "HOME": host.home,
        "LANG": "C.UTF-8",
        "HOSTNAME": pod.get("metadata", {}).get("name", ""),
    }
    env.update({k: rewrite_paths(v, mounts) for k, v in declared.items()})
    path = f"{host.extra_path}:{HOST_PATH}" if host.extra_path else HOST_PATH
    env["PATH"] = f"{declared['PATH']}:{path}" if "PATH" in declared else path
    term = mounts[-1].host_path
    env["DBMIGRATOR_TERMINATION_LOG"] = term
    env.update(host.extra_env)
    argv[0] = resolve_executable(argv[0], host.dbmigrator, env["PATH"], host.which, host.exists)
    cwd = host.default_cwd
    working_dir = container.get("workingDir")
    if working_dir:
        mapped = rewrite_paths(expand_vars(working_dir, declared), mounts)
        cwd = mapped if host.exists(mapped) else host.default_cwd
    return ProcessSpec(argv=tuple(argv), env=env, cwd=cwd, termination_file=term)


@dataclass(frozen=True)
class HostContext:
    """Host facts for `build_process` (injected so the translation stays pure)."""

    dbmigrator: str
    home: str
    default_cwd: str
    extra_path: str = ""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    which: Callable[[str, str], str | None] = lambda name, path: None
    exists: Callable[[str], bool] = lambda path: False


# ---- volume content --------------------------------------------------------------------------


def plan_volume_files(
    source: Json, data: Mapping[str, bytes] | None
) -> list[tuple[str, bytes, int]]:
    """Files (relative path, content, mode) of a configMap/secret volume: `items` maps keys to
    paths (a missing key fails unless optional), otherwise every key becomes a file."""
    default_mode = int(source.get("defaultMode", 0o644))
    if data is None:
        return []
    items = source.get("items")
    if not items:
        return [(key, value, default_mode) for key, value in sorted(data.items())]
    files = []
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise MissingObjectError(f"configmap/secret key {item['key']!r} not found")
        rel = os.path.normpath(item["path"])
        if rel.startswith("..") or os.path.isabs(rel):
            raise CannotRunError(f"volume item path {item['path']!r} escapes the volume")
        files.append((rel, data[item["key"]], int(item.get("mode", default_mode))))
    return files


def decode_secret_data(raw: Mapping[str, str] | None) -> dict[str, bytes]:
    """A Secret's `data` (base64 strings) as bytes."""
    return {k: base64.b64decode(v) for k, v in (raw or {}).items()}


def decode_config_map_data(
    data: Mapping[str, str] | None, binary: Mapping[str, str] | None
) -> dict[str, bytes]:
    """A ConfigMap's `data` and `binaryData` as bytes."""
    out = {k: v.encode() for k, v in (data or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (binary or {}).items()})
    return out
