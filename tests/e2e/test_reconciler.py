"""The Reconciler (the operator's I/O edge) against the real API server, called directly.

No operator process is needed: the test calls `Reconciler.reconcile` itself, with a requeue that
records what it was asked for, and reads back what a user sees (status, Events). Should the
session's operator process run too, it computes the same status (the core is deterministic and
`lastTransitionTime` moves only on change), so the assertions hold either way.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dbmigrator.controller.delays import BLOCKED_RECHECK_SECONDS, DEPENDENCY_POLL_SECONDS
from dbmigrator.controller.kube import Kube
from dbmigrator.controller.reconciler import Reconciler
from localcluster.controlplane import LocalCluster
from tests.e2e.conftest import kubectl

NAME = "db"


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    ns = f"rec-{secrets.token_hex(3)}"
    kubectl(cluster.kubeconfig, "create", "namespace", ns)
    try:
        yield ns
    finally:
        kubectl(cluster.kubeconfig, "delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def kube(cluster: LocalCluster) -> Iterator[Kube]:
    api = cluster.api_client()
    try:
        yield Kube(api)
    finally:
        api.close()


def apply(cluster: LocalCluster, namespace: str, **spec: Any) -> None:
    body = {
        "apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"database": {"secretRef": {"name": "absent", "key": "uri"}},
                 "source": {"configMap": {"name": "absent-migrations"}},
                 "targetVersion": "003", **spec},
    }  # fmt: skip
    kubectl(cluster.kubeconfig, "apply", "-f", "-", stdin=json.dumps(body))


def read(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    out = kubectl(
        cluster.kubeconfig, "-n", namespace, "get", "databasemigration", NAME, "-o", "json"
    )
    return dict(json.loads(out))


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


def events(cluster: LocalCluster, namespace: str, reason: str) -> int:
    out = kubectl(cluster.kubeconfig, "-n", namespace, "get", "events", "-o", "json")
    items = json.loads(out)["items"]
    return sum(1 for e in items if e["involvedObject"]["name"] == NAME and e["reason"] == reason)


def settled(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    """The resource once nobody has written it for 1.5 s (the session's operator may run too)."""
    last = read(cluster, namespace)
    quiet_since = time.monotonic()
    deadline = quiet_since + 30
    while time.monotonic() - quiet_since < 1.5:
        assert time.monotonic() < deadline, "the resource kept changing"
        time.sleep(0.3)
        now = read(cluster, namespace)
        if now["metadata"]["resourceVersion"] != last["metadata"]["resourceVersion"]:
            last, quiet_since = now, time.monotonic()
    return last


def test_a_missing_input_is_waited_for_with_the_cores_poll(
    cluster: LocalCluster, namespace: str, kube: Kube
) -> None:
    asked: list[float] = []
    reconciler = Reconciler(kube, "unused:img", requeue=lambda ns, name, delay: asked.append(delay))
    apply(cluster, namespace, dependencyTimeoutSeconds=600)
    reconciler.reconcile(namespace, NAME)
    waiting = read(cluster, namespace)
    assert conditions(waiting)["Reconciling"][0] == "True"
    assert conditions(waiting)["Stalled"][0] == "False"
    assert conditions(waiting)["Ready"][1].startswith("WaitingFor")
    assert asked == [DEPENDENCY_POLL_SECONDS]  # the core's poll, never a literal


def test_a_missing_input_past_its_wait_stalls_once_and_is_rechecked(
    cluster: LocalCluster, namespace: str, kube: Kube
) -> None:
    asked: list[float] = []
    reconciler = Reconciler(kube, "unused:img", requeue=lambda ns, name, delay: asked.append(delay))
    apply(cluster, namespace, dependencyTimeoutSeconds=0)
    reconciler.reconcile(namespace, NAME)
    stalled = settled(cluster, namespace)
    status, reason = conditions(stalled)["Stalled"]
    assert status == "True" and reason.endswith("NotFound"), conditions(stalled)
    assert stalled["status"]["observedGeneration"] == stalled["metadata"]["generation"]
    assert asked == [BLOCKED_RECHECK_SECONDS]
    announced = events(cluster, namespace, reason)
    assert announced >= 1

    version = stalled["metadata"]["resourceVersion"]
    reconciler.reconcile(namespace, NAME)  # nothing changed: no write, no second Event
    assert read(cluster, namespace)["metadata"]["resourceVersion"] == version
    assert events(cluster, namespace, reason) == announced
    assert asked == [BLOCKED_RECHECK_SECONDS] * 2  # still looked at again soon


def test_suspended_writes_status_and_asks_for_no_requeue(
    cluster: LocalCluster, namespace: str, kube: Kube
) -> None:
    asked: list[float] = []
    reconciler = Reconciler(kube, "unused:img", requeue=lambda ns, name, delay: asked.append(delay))
    apply(cluster, namespace, suspend=True)
    reconciler.reconcile(namespace, NAME)
    obj = read(cluster, namespace)
    assert obj["status"]["phase"] == "Suspended"
    assert conditions(obj)["Ready"] == ("False", "Suspended")
    assert asked == []
    jobs = kubectl(cluster.kubeconfig, "-n", namespace, "get", "jobs", "-o", "name")
    assert jobs.strip() == ""


def test_a_deleted_resource_is_left_alone(
    cluster: LocalCluster, namespace: str, kube: Kube
) -> None:
    asked: list[float] = []
    reconciler = Reconciler(kube, "unused:img", requeue=lambda ns, name, delay: asked.append(delay))
    reconciler.reconcile(namespace, "never-created")  # 404: nothing to do, nothing raised
    assert asked == []
