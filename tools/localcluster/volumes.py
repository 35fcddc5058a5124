"""Materialize a pod's volumes as host directories for the node agent.

configMap / secret (and their `projected` sources): files written from the object's data,
honouring `items` (key -> path) or all keys, and the file modes. emptyDir: a per-pod directory.
persistentVolumeClaim: `<state>/pvc/<namespace>/<claim>`, shared by every pod using the claim
and kept for the cluster's lifetime. hostPath: the host path itself. Any other volume type is
refused (`CannotRunError`). `readOnly` is ignored: files are written once, before the containers
start; later changes to the Secret/ConfigMap are not propagated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from localcluster.podspec import (
    CannotRunError,
    MissingObjectError,
    PodObjects,
    decode_config_map_data,
    decode_secret_data,
    plan_volume_files,
)

Json = dict[str, Any]
log = logging.getLogger(__name__)


def _write_files(target: Path, files: list[tuple[str, bytes, int]]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for rel, content, mode in files:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode & 0o777)


def _object_files(volume: Json, kind: str, objects: PodObjects) -> list[tuple[str, bytes, int]]:
    if kind == "secret":
        source = volume["secret"]
        name = source["secretName"]
        data = objects.secrets.get(name)
    else:
        source = volume["configMap"]
        name = source["name"]
        data = objects.config_maps.get(name)
    if data is None and not source.get("optional"):
        noun = "secret" if kind == "secret" else "configmap"
        raise MissingObjectError(f'volume {volume["name"]!r}: {noun} "{name}" not found')
    return plan_volume_files(source, data)


def materialize_volumes(
    pod: Json,
    pod_dir: Path,
    pvc_root: Path,
    objects: PodObjects,
    claim_ready: Callable[[str], bool],
) -> dict[str, str]:
    """Create every volume of `pod`; return volume name -> host directory.

    `claim_ready(claim)` says whether the PersistentVolumeClaim exists (and binds it); a
    missing claim is a `MissingObjectError` so the agent retries, as a real pod would wait."""
    dirs: dict[str, str] = {}
    namespace = pod["metadata"]["namespace"]
    for volume in pod.get("spec", {}).get("volumes", []) or []:
        name = volume["name"]
        target = pod_dir / "volumes" / name
        if "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
        elif "configMap" in volume:
            _write_files(target, _object_files(volume, "configMap", objects))
        elif "secret" in volume:
            _write_files(target, _object_files(volume, "secret", objects))
        elif "projected" in volume:
            files: list[tuple[str, bytes, int]] = []
            default_mode = volume["projected"].get("defaultMode", 0o644)
            for src in volume["projected"].get("sources", []) or []:
                for kind, key in (("configMap", "configMap"), ("secret", "secret")):
                    if key in src:
                        inner = dict(src[key])
                        inner.setdefault("defaultMode", default_mode)
                        if kind == "secret":
                            inner["secretName"] = inner.get("name", "")
                        files += _object_files({"name": name, kind: inner}, kind, objects)
                if "serviceAccountToken" in src or "downwardAPI" in src:
                    log.warning("volume %s: projected source %s skipped", name, sorted(src))
            _write_files(target, files)
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            if not claim_ready(claim):
                raise MissingObjectError(f'persistentvolumeclaim "{claim}" not found')
            target = pvc_root / namespace / claim
            target.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            target = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                target.mkdir(parents=True, exist_ok=True)
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise CannotRunError(
                f"volume {name!r}: type {kinds} is not supported by the local agent"
            )
        dirs[name] = str(target)
    return dirs


def decode_objects(
    secrets: Mapping[str, Json | None], maps: Mapping[str, Json | None]
) -> PodObjects:
    """API objects (None = not found) as the name -> bytes data that `podspec` consumes."""
    return PodObjects(
        secrets={n: decode_secret_data(o.get("data")) for n, o in secrets.items() if o},
        config_maps={
            n: decode_config_map_data(o.get("data"), o.get("binaryData"))
            for n, o in maps.items()
            if o
        },
    )
