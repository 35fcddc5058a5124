"""Acceptance tests of the local cluster: a real control plane and a real kubelet + containerd node.

Every pod runs the project's own image (imported by `make image`), in real containers.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from localcluster.controlplane import LocalCluster
from localcluster.state import NODE_IP

if TYPE_CHECKING:
    from tests.cluster.conftest import Kube

T = TypeVar("T")
pytestmark = pytest.mark.e2e


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def job_condition(kube: Kube, name: str) -> str | None:
    for cond in kube.job(name).get("status", {}).get("conditions") or []:
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return str(cond["type"])
    return None


IMAGE = "ghcr.io/dbmigrator/dbmigration-operator:0.1.0"


def container(script: str, name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "imagePullPolicy": "Never",
            "command": ["sh", "-c", script], **extra}  # fmt: skip


def job_manifest(name: str, script: str, **spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container(script)]}
    pod_spec.update(spec.pop("pod", {}))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **spec},
    }


def termination_message(pod: dict[str, Any]) -> str:
    state = pod["status"]["containerStatuses"][0]["state"]
    return str(state["terminated"].get("message", ""))


def test_readyz_answers_ok(local_cluster: LocalCluster) -> None:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(local_cluster.kubeconfig), "get", "--raw", "/readyz"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "ok"


def test_node_is_ready(kube: Kube) -> None:
    node = kube.raw(kube.core.read_node("local-node", _preload_content=False))
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    assert {"type": "InternalIP", "address": NODE_IP} in node["status"]["addresses"]
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://")
    assert info["kubeletVersion"] == "v1.36.3"
    assert "node.kubernetes.io/not-ready" not in json.dumps(node["spec"].get("taints") or [])


CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.localcluster.dev"},
    "spec": {
        "group": "test.localcluster.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "color": {"type": "string", "pattern": "^[a-z]+$"},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def test_crd_schema_validation_rejects_invalid_resource(kube: Kube) -> None:
    ext: Any = client.ApiextensionsV1Api(kube.api)
    ext.create_custom_resource_definition(client.V1CustomResourceDefinition.from_dict(CRD))

    def established() -> bool:
        crd = kube.raw(
            ext.read_custom_resource_definition(CRD["metadata"]["name"], _preload_content=False)
        )
        conds = crd.get("status", {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conds)

    wait_for("CRD established", established, 30)
    custom: Any = client.CustomObjectsApi(kube.api)

    def create(spec: dict[str, Any], name: str) -> None:
        body: dict[str, Any] = {"apiVersion": "test.localcluster.dev/v1", "kind": "Widget"}
        body |= {"metadata": {"name": name}, "spec": spec}
        custom.create_namespaced_custom_object(
            "test.localcluster.dev", "v1", kube.namespace, "widgets", body
        )

    def create_when_served(spec: dict[str, Any], name: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                create(spec, name)
                return
            except ApiException as err:
                if err.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    create_when_served({"size": 3, "color": "red"}, "good")
    with pytest.raises(ApiException) as bad_type:
        create({"size": "three"}, "bad-type")
    assert bad_type.value.status == 422
    message = json.loads(str(bad_type.value.body))["message"]
    assert (
        'spec.size: Invalid value: "string": spec.size in body must be of type integer' in message
    )
    with pytest.raises(ApiException) as bad_pattern:
        create({"size": 1, "color": "Red!"}, "bad-pattern")
    assert bad_pattern.value.status == 422
    message = json.loads(str(bad_pattern.value.body))["message"]
    assert "spec.color in body should match '^[a-z]+$'" in message


def test_job_completes_with_termination_message(kube: Kube) -> None:
    kube.create_job(job_manifest("ok", "echo hello; echo '{\"ok\": true}' > /dev/termination-log"))
    assert wait_for("job ok finished", lambda: job_condition(kube, "ok")) == "Complete"
    (pod,) = kube.pods("job-name=ok")
    assert pod["status"]["phase"] == "Succeeded"
    assert json.loads(termination_message(pod)) == {"ok": True}
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert terminated["containerID"].startswith("containerd://")
    assert kube.cluster.read_log(kube.namespace, pod["metadata"]["name"]) == "hello\n"


def test_failing_job_with_backoff_limit_zero_fails(kube: Kube) -> None:
    kube.create_job(job_manifest("bad", "echo boom >&2; exit 1"))
    assert wait_for("job bad finished", lambda: job_condition(kube, "bad")) == "Failed"
    (pod,) = kube.pods("job-name=bad")
    assert pod["status"]["phase"] == "Failed"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")


def test_fallback_to_logs_on_error(kube: Kube) -> None:
    manifest = job_manifest("fallback", "echo first; echo last words; exit 3")
    manifest["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] = (
        "FallbackToLogsOnError"
    )
    kube.create_job(manifest)
    assert wait_for("job finished", lambda: job_condition(kube, "fallback")) == "Failed"
    (pod,) = kube.pods("job-name=fallback")
    assert termination_message(pod) == "first\nlast words\n"


def test_secret_env_and_config_map_volume(kube: Kube) -> None:
    kube.core.create_namespaced_secret(
        kube.namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"pw": "s3cret"}),
    )
    kube.core.create_namespaced_config_map(
        kube.namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="files"),
            data={"greeting.txt": "hello from a configmap", "other": "x"},
        ),
    )
    script = (
        'printf \'{"pw": "%s", "file": "%s", "pod": "%s", "items": "%s"}\' "$PW" '
        '"$(cat /etc/files/greeting.txt)" "$POD" "$(ls /etc/only | tr -d "\\n")" '
        "> /dev/termination-log"
    )
    manifest = job_manifest(
        "env",
        script,
        pod={
            "volumes": [
                {"name": "files", "configMap": {"name": "files"}},
                {
                    "name": "only",
                    "configMap": {"name": "files", "items": [{"key": "other", "path": "o.txt"}]},
                },
            ]
        },
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    container["volumeMounts"] = [
        {"name": "files", "mountPath": "/etc/files"},
        {"name": "only", "mountPath": "/etc/only"},
    ]
    kube.create_job(manifest)
    assert wait_for("job env finished", lambda: job_condition(kube, "env")) == "Complete"
    (pod,) = kube.pods("job-name=env")
    seen = json.loads(termination_message(pod))
    assert seen == {
        "pw": "s3cret",
        "file": "hello from a configmap",
        "pod": pod["metadata"]["name"],
        "items": "o.txt",
    }


def test_pvc_keeps_files_between_jobs(kube: Kube) -> None:
    kube.core.create_namespaced_persistent_volume_claim(
        kube.namespace,
        client.V1PersistentVolumeClaim.from_dict(
            {
                "metadata": {"name": "backups"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ),
    )
    pod = {
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "backups"}}],
    }

    def job(name: str, script: str) -> dict[str, Any]:
        manifest = job_manifest(name, script, pod=pod)
        manifest["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "data", "mountPath": "/backups"}
        ]
        return manifest

    kube.create_job(job("write", "echo dump-1 > /backups/db.sql"))
    assert wait_for("job write", lambda: job_condition(kube, "write")) == "Complete"
    kube.create_job(job("read", "cat /backups/db.sql > /dev/termination-log"))
    assert wait_for("job read", lambda: job_condition(kube, "read")) == "Complete"
    (reader,) = kube.pods("job-name=read")
    assert termination_message(reader) == "dump-1\n"
    pvc = kube.raw(
        kube.core.read_namespaced_persistent_volume_claim(
            "backups", kube.namespace, _preload_content=False
        )
    )
    assert pvc["status"]["phase"] == "Bound"


def test_deleting_a_job_collects_its_pods(kube: Kube) -> None:
    kube.create_job(job_manifest("gc", "true"))
    assert wait_for("job gc", lambda: job_condition(kube, "gc")) == "Complete"
    assert len(kube.pods("job-name=gc")) == 1
    kube.batch.delete_namespaced_job(
        "gc", kube.namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )
    wait_for("pods of job gc collected", lambda: not kube.pods("job-name=gc") or None, 60)


def running_container(kube: Kube, selector: str) -> str | None:
    for pod in kube.pods(selector):
        for status in pod.get("status", {}).get("containerStatuses") or []:
            if "running" in (status.get("state") or {}):
                return str(status["containerID"]).removeprefix("containerd://")
    return None


def containerd_tasks() -> set[str]:
    out = subprocess.run(
        ["ctr", "--address", "/run/dbmigrator-node/containerd.sock", "-n", "k8s.io", "tasks",
         "ls", "-q"], capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return set(out.split())


def test_deleted_pod_of_long_running_job_is_killed(kube: Kube) -> None:
    kube.create_job(job_manifest("long", "sleep 300", pod={"terminationGracePeriodSeconds": 1}))
    cid = wait_for("long job running", lambda: running_container(kube, "job-name=long"))
    assert cid in containerd_tasks()
    (pod,) = kube.pods("job-name=long")
    kube.core.delete_namespaced_pod(pod["metadata"]["name"], kube.namespace)
    wait_for("container stopped", lambda: cid not in containerd_tasks() or None, 60)
    uid = pod["metadata"]["uid"]
    wait_for(
        "pod gone",
        lambda: all(p["metadata"]["uid"] != uid for p in kube.pods("job-name=long")) or None,
        60,
    )
    assert wait_for("job long finished", lambda: job_condition(kube, "long")) == "Failed"


def bare_pod(kube: Kube, manifest: dict[str, Any]) -> None:
    kube.core.create_namespaced_pod(kube.namespace, client.V1Pod.from_dict(manifest))


def pod_status(kube: Kube, name: str) -> dict[str, Any]:
    pod = kube.raw(kube.core.read_namespaced_pod(name, kube.namespace, _preload_content=False))
    return dict(pod.get("status", {}))


def terminal(kube: Kube, name: str) -> dict[str, Any] | None:
    status = pod_status(kube, name)
    return status if status.get("phase") in ("Succeeded", "Failed") else None


def test_active_deadline_kills_the_pod(kube: Kube) -> None:
    bare_pod(
        kube,
        {
            "metadata": {"name": "slow"},
            "spec": {
                "restartPolicy": "Never",
                "activeDeadlineSeconds": 2,
                "terminationGracePeriodSeconds": 1,  # `sleep` as PID 1 ignores SIGTERM
                "containers": [container("sleep 300")],
            },
        },
    )
    status = wait_for("deadline", lambda: terminal(kube, "slow"), 30)
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")


def test_image_not_present_is_err_image_never_pull(kube: Kube) -> None:
    bare_pod(
        kube,
        {
            "metadata": {"name": "noimage"},
            "spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "example.invalid/none:1", "imagePullPolicy": "Never"}]},
        },
    )  # fmt: skip

    def never_pulled() -> bool:
        statuses = pod_status(kube, "noimage").get("containerStatuses") or []
        waiting = (statuses[0].get("state") or {}).get("waiting") if statuses else None
        return bool(waiting and waiting.get("reason") == "ErrImageNeverPull")

    wait_for("waiting reason ErrImageNeverPull", never_pulled, 60)


def test_scheduler_honours_node_selector_and_taints(kube: Kube) -> None:
    bare_pod(kube, {"metadata": {"name": "elsewhere"}, "spec": {
        "restartPolicy": "Never", "nodeSelector": {"disk": "none-such"},
        "containers": [container("true")]}})  # fmt: skip

    def unschedulable() -> bool:
        conds = pod_status(kube, "elsewhere").get("conditions") or []
        return any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                   for c in conds)  # fmt: skip

    wait_for("elsewhere unschedulable", unschedulable, 30)
    bare_pod(kube, {"metadata": {"name": "here"}, "spec": {
        "restartPolicy": "Never", "nodeSelector": {"kubernetes.io/hostname": "local-node"},
        "containers": [container("true")]}})  # fmt: skip
    assert wait_for("here done", lambda: terminal(kube, "here"), 60)["phase"] == "Succeeded"


def test_in_cluster_client_reaches_the_apiserver_with_its_token(kube: Kube) -> None:
    """A restricted pod with a ServiceAccount token lists pods through the `kubernetes` Service."""
    kube.core.patch_namespace(kube.namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})  # fmt: skip
    rbac: Any = client.RbacAuthorizationV1Api(kube.api)
    kube.core.create_namespaced_service_account(
        kube.namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    rbac.create_namespaced_role_binding(kube.namespace, {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": kube.namespace}],
    })  # fmt: skip
    script = (
        "import kubernetes as k; k.config.load_incluster_config(); "
        f"print(sorted(p.metadata.name for p in k.client.CoreV1Api()"
        f".list_namespaced_pod('{kube.namespace}').items))"
    )
    restricted = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    bare_pod(kube, {"metadata": {"name": "incluster"}, "spec": {
        "restartPolicy": "Never", "serviceAccountName": "reader",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "main", "image": IMAGE, "imagePullPolicy": "Never",
                        "command": ["python3", "-c", script], "securityContext": restricted}]}})  # fmt: skip
    status = wait_for("incluster done", lambda: terminal(kube, "incluster"), 90)
    log = kube.cluster.read_log(kube.namespace, "incluster")
    assert status["phase"] == "Succeeded", log
    assert "incluster" in log
    with pytest.raises(ApiException) as refused:
        bare_pod(kube, {"metadata": {"name": "rooted"}, "spec": {
            "containers": [container("true", securityContext={"privileged": True})]}})  # fmt: skip
    assert refused.value.status == 403
    message = json.loads(str(refused.value.body))["message"]
    assert 'violates PodSecurity "restricted:latest": privileged' in message


def test_on_failure_restarts_in_place_and_init_containers_run_first(kube: Kube) -> None:
    bare_pod(
        kube,
        {
            "metadata": {"name": "retry"},
            "spec": {
                "restartPolicy": "OnFailure",
                "volumes": [{"name": "work", "emptyDir": {}}],
                "initContainers": [
                    container(
                        "echo init > /work/order",
                        name="init",
                        volumeMounts=[{"name": "work", "mountPath": "/work"}],
                    )
                ],
                "containers": [
                    container(
                        "echo run >> /work/order; [ $(wc -l < /work/order) -ge 3 ] || exit 7; "
                        "cp /work/order /dev/termination-log",
                        volumeMounts=[{"name": "work", "mountPath": "/work"}],
                    )
                ],
            },
        },
    )
    status = wait_for("retry pod done", lambda: terminal(kube, "retry"), 60)
    main = status["containerStatuses"][0]
    assert status["phase"] == "Succeeded"
    assert main["restartCount"] == 1
    assert main["lastState"]["terminated"]["exitCode"] == 7
    assert main["state"]["terminated"]["message"] == "init\nrun\nrun\n"
