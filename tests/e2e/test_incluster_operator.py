"""`helm install` as a user runs it: the operator itself in a container, every Job in the image.

The chart is installed with the real `helm install --wait` into a namespace that enforces the
`restricted` Pod Security Standard, so the apiserver's own PodSecurity admission judges the
operator's pod; the operator reaches the apiserver in-cluster (its ServiceAccount token, the
`kubernetes` Service), its probes gate readiness and its metrics port answers on the pod's
address. It then takes the shop (in a restricted namespace too) through backup, rehearsal, three
phases, a rollback to 005 and back to 008, and every pod involved ran in containerd as uid 10001
with a read-only root.

The module sorts before test_operator.py on purpose: the session's host-process operator watches
all namespaces and must not be running beside this one.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localcluster.controlplane import LocalCluster
from localpg import LocalPostgres
from tests.e2e.chart_support import CHART, denials, helm, other_operators, summarize
from tests.e2e.conftest import Shop, create_shop, drop_shop, kubectl, shop_resource, wait_for

__all__ = ["helm"]
pytestmark = pytest.mark.e2e

RELEASE = "incluster"
NAMESPACE = "dbmigrator-incluster"
RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"


@dataclass
class Installed:
    cluster: LocalCluster
    helm: Path
    shop: Shop
    install_output: str

    def kubectl(self, *args: str, check: bool = True) -> str:
        return kubectl(self.cluster.kubeconfig, "-n", NAMESPACE, *args, check=check)

    def operator_pod(self) -> dict[str, Any]:
        pods = json.loads(self.kubectl(
            "get", "pods", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "json"))["items"]  # fmt: skip
        running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert len(running) == 1, [p["metadata"]["name"] for p in pods]
        return dict(running[0])

    def operator_log(self) -> str:
        return self.kubectl("logs", self.operator_pod()["metadata"]["name"], check=False)


def run_helm(helm_bin: Path, cluster: LocalCluster, *args: str) -> str:
    proc = subprocess.run(
        [str(helm_bin), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, f"helm {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(cluster: LocalCluster, postgres: LocalPostgres, helm: Path) -> Iterator[Installed]:
    others = other_operators(cluster)
    assert not others, f"another operator acts on this cluster: {others}"
    shop_ns = f"incluster-shop-{secrets.token_hex(3)}"
    kubectl(cluster.kubeconfig, "create", "namespace", NAMESPACE)
    kubectl(cluster.kubeconfig, "label", "namespace", NAMESPACE, RESTRICTED)
    shop = create_shop(cluster, postgres, shop_ns)
    try:
        out = run_helm(
            helm, cluster, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "--set", f"watchNamespaces={{{shop_ns}}}", "--wait", "--timeout", "180s",
        )  # fmt: skip
        yield Installed(cluster, helm, shop, out)
    finally:
        subprocess.run([str(helm), "--kubeconfig", str(cluster.kubeconfig), "uninstall", RELEASE,
                        "--namespace", NAMESPACE, "--wait", "--timeout", "120s"],
                       capture_output=True, timeout=180, check=False)  # fmt: skip
        drop_shop(cluster, postgres, shop_ns)
        kubectl(cluster.kubeconfig, "delete", "namespace", NAMESPACE, "--wait=false", check=False)


def assert_real_restricted_container(pod: dict[str, Any]) -> None:
    """Ran in containerd, as uid 10001, read-only root, under the restricted standard."""
    name = pod["metadata"]["name"]
    statuses = pod["status"].get("initContainerStatuses", []) + pod["status"]["containerStatuses"]
    for status in statuses:
        assert status["containerID"].startswith("containerd://"), (name, status)
    spec = pod["spec"]
    assert spec["securityContext"]["runAsUser"] == 10001, name
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext") or {}
        assert sc.get("readOnlyRootFilesystem") is True, (name, c["name"])
        assert sc.get("allowPrivilegeEscalation") is False, (name, c["name"])


def test_operator_runs_in_a_container_with_probes_and_metrics(installed: Installed) -> None:
    assert "STATUS: deployed" in installed.install_output
    pod = installed.operator_pod()
    assert_real_restricted_container(pod)
    assert pod["spec"]["nodeName"] == "local-node"
    ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True", pod["status"]["conditions"]
    port = next(p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]
                if p["name"] == "metrics")  # fmt: skip
    with urllib.request.urlopen(f"http://{pod['status']['podIP']}:{port}/metrics",
                                timeout=10) as resp:  # fmt: skip
        metrics = resp.read().decode()
    assert "dbmigrator_" in metrics, metrics[:500]
    namespaces = json.loads(kubectl(installed.cluster.kubeconfig, "get", "namespace", NAMESPACE,
                                    "-o", "json"))["metadata"]["labels"]  # fmt: skip
    assert namespaces["pod-security.kubernetes.io/enforce"] == "restricted"


def test_shop_migrates_rolls_back_and_returns_with_every_job_in_a_container(
    installed: Installed,
) -> None:
    shop = installed.shop
    began = time.monotonic()
    shop.apply(shop_resource(shop.namespace))
    st = shop.wait_settled(timeout=300)["status"]
    to_ready = time.monotonic() - began
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "008", st.get("message")
    assert [p["state"] for p in st["phases"]] == ["Succeeded"] * 3
    assert st["validation"]["passed"] is True
    print(f"shop applied -> Ready on the real node: {to_ready:.1f}s")

    def patch_target(version: str) -> dict[str, Any]:
        shop.kubectl("patch", "dbm", "shop-db", "--type", "merge", "-p",
                     json.dumps({"spec": {"targetVersion": version}}))  # fmt: skip
        settled: dict[str, Any] = shop.wait_settled(timeout=300)["status"]
        return settled

    st = patch_target("005")
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "005", st.get("message")
    assert st["history"][-1]["operation"] == "rollback"
    assert shop.query("select max(version) from supabase_migrations.schema_migrations") == [
        ("005",)
    ]
    st = patch_target("008")
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "008", st.get("message")
    assert "notifications" in shop.tables()

    jobs = shop.jobs()
    assert {"shop-db-g1-backup", "shop-db-g1-rehearse"} <= set(jobs), jobs
    pods = json.loads(shop.kubectl("get", "pods", "-o", "json"))["items"]
    job_pods = [p for p in pods if p["metadata"].get("labels", {}).get("job-name")]
    assert len(job_pods) >= len(jobs), (len(job_pods), jobs)
    for pod in job_pods:
        assert pod["status"]["phase"] == "Succeeded", pod["metadata"]["name"]
        assert_real_restricted_container(pod)
    denied = denials(installed.operator_log())
    assert not denied, "denied requests in the operator's log:\n" + summarize(denied)
    wait_for("the operator pod still Ready", lambda: installed.operator_pod()["status"]
             ["containerStatuses"][0]["ready"], timeout=10)  # fmt: skip
