"""A volume provisioner for the local node: each claim of StorageClass `local` gets a directory.

What rancher's local-path-provisioner does in kind and k3s, in one small loop: a Pending
PersistentVolumeClaim of class `local` (the default class, so claims that name none get it too)
gets a `hostPath` PersistentVolume pre-bound to it, backed by `<state>/pvc/<namespace>/<claim>`,
mode 0777 so that any pod user (the Jobs run as uid 10001) can write; the controller-manager's
binder binds the two. The directory outlives the claim (reclaim policy Retain), so tests can read
what a Job wrote. `render_*` are pure; `run_provisioner` is the watch loop (`python -m
localcluster provisioner`, started by `up`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from localcluster.kube import ConflictError, GoneError, KubeApi, KubeError
from localcluster.state import Layout

STORAGE_CLASS = "local"
PROVISIONER = "localcluster.dbmigrator.io/local-dir"
log = logging.getLogger("provisioner")


def render_storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "Immediate",
    }


def claim_dir(layout: Layout, namespace: str, claim: str) -> Path:
    return layout.volumes / namespace / claim


def wants_volume(pvc: dict[str, Any]) -> bool:
    """A claim of our class, not bound, not being deleted, and not naming a volume itself."""
    spec = pvc.get("spec", {})
    return (
        spec.get("storageClassName") == STORAGE_CLASS
        and not spec.get("volumeName")
        and pvc.get("status", {}).get("phase", "Pending") == "Pending"
        and not pvc.get("metadata", {}).get("deletionTimestamp")
    )


def render_volume(layout: Layout, pvc: dict[str, Any]) -> dict[str, Any]:
    meta = pvc["metadata"]
    spec = pvc["spec"]
    namespace, claim = meta["namespace"], meta["name"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec.get("resources", {}).get("requests", {}).get(
                "storage", "1Gi")},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(claim_dir(layout, namespace, claim)), "type": "Directory"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace,
                "name": claim,
                "uid": meta["uid"],
            },
        },
    }  # fmt: skip


def provision(api: KubeApi, layout: Layout, pvc: dict[str, Any]) -> None:
    meta = pvc["metadata"]
    directory = claim_dir(layout, meta["namespace"], meta["name"])
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o777)  # the pod's user is not known here; any user may write, like local-path
    try:
        api.create_persistent_volume(render_volume(layout, pvc))
        log.info("provisioned %s/%s at %s", meta["namespace"], meta["name"], directory)
    except ConflictError:
        pass  # provisioned in an earlier round


def run_provisioner(state_dir: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    layout = Layout(state_dir)
    api = KubeApi(layout.kubeconfig)
    while True:
        try:
            api.apply_storage_class(render_storage_class())
            break
        except KubeError as err:
            log.warning("storage class: %s; retrying", err)
            time.sleep(1)
    while True:
        try:
            claims, version = api.list_pvcs()
            for pvc in claims:
                if wants_volume(pvc):
                    provision(api, layout, pvc)
            for kind, pvc in api.watch_pvcs(version):
                if kind in ("ADDED", "MODIFIED") and wants_volume(pvc):
                    provision(api, layout, pvc)
        except GoneError:
            continue
        except KubeError as err:
            log.warning("%s; relisting in 1s", err)
            time.sleep(1)
        except Exception as err:  # a broken connection must not end provisioning for good
            log.warning("%s: %s; reconnecting and relisting in 1s", type(err).__name__, err)
            time.sleep(1)
            api = KubeApi(layout.kubeconfig)
