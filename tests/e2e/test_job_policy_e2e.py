"""The confused-deputy guard against the real API server: both layers of the job policy.

(a) The operator (the session's, started with its defaults: only its own image, no
ServiceAccount) refuses a DatabaseMigration that names a foreign image or ServiceAccount:
Stalled with ImageNotAllowed / ServiceAccountNotAllowed, and no Job is ever created.
(b) The chart's ValidatingAdmissionPolicy, installed into the local kube-apiserver, rejects such
a resource at apply time with the policy's message, and admits one that keeps to the policy.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.controlplane import LocalCluster
from tests.e2e.chart_support import helm, manifest, render
from tests.e2e.conftest import Shop, kubectl, shop_resource, wait_for

__all__ = ["helm"]  # the fixture, re-exported for pytest

pytestmark = pytest.mark.e2e

FOREIGN_IMAGE = "evil.example.com/miner:latest"


def test_operator_refuses_a_foreign_image_and_service_account_without_a_job(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace, job={"image": FOREIGN_IMAGE}))
    st = shop.wait_settled(timeout=60)["status"]
    stalled = shop.condition("Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "ImageNotAllowed"), st
    assert "spec.job.image" in st["message"] and FOREIGN_IMAGE in st["message"]
    assert shop.jobs() == [], "a refused image must never reach a Job"

    shop.kubectl("patch", "dbm", "shop-db", "--type", "merge", "-p",
                 json.dumps({"spec": {"job": {"image": "", "serviceAccountName": "default"}}}))  # fmt: skip
    shop.wait_settled(timeout=60)
    stalled = shop.condition("Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "ServiceAccountNotAllowed")
    assert shop.jobs() == []
    events = shop.kubectl("get", "events", "--field-selector", "involvedObject.name=shop-db")
    assert "ImageNotAllowed" in events and "ServiceAccountNotAllowed" in events


@pytest.fixture
def admission_policy(cluster: LocalCluster, helm: Path) -> Iterator[str]:
    """The chart's ValidatingAdmissionPolicy + binding, as `helm install` would create them."""
    release = f"vap-{secrets.token_hex(3)}"
    objects = [
        o for o in render(helm, release, ["jobPolicy.allowedJobImages={registry.example.com/dbm/}"])
        if o["kind"].startswith("ValidatingAdmissionPolicy")
    ]  # fmt: skip
    assert sorted(o["kind"] for o in objects) == [
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"
    ]  # fmt: skip
    namespace = f"vap-{secrets.token_hex(3)}"
    kubectl(cluster.kubeconfig, "create", "namespace", namespace)
    kubectl(cluster.kubeconfig, "apply", "-f", "-", stdin=manifest(objects))
    try:
        yield namespace
    finally:
        kubectl(cluster.kubeconfig, "delete", "-f", "-", "--ignore-not-found", stdin=manifest(objects),
                check=False)  # fmt: skip
        kubectl(cluster.kubeconfig, "delete", "namespace", namespace, "--wait=false", check=False)


def _apply(cluster: LocalCluster, resource: dict[str, Any]) -> tuple[bool, str]:
    """Server-side dry run: every admission step runs, nothing is stored."""
    out = kubectl(cluster.kubeconfig, "apply", "--dry-run=server", "-f", "-",
                  stdin=json.dumps(resource), check=False)  # fmt: skip
    return "created (server dry run)" in out, out


def test_admission_policy_rejects_a_foreign_image_at_apply_time(
    cluster: LocalCluster, admission_policy: str
) -> None:
    namespace = admission_policy
    foreign = shop_resource(namespace, job={"image": FOREIGN_IMAGE})

    def rejected() -> str | None:  # the API server loads a new policy within a few seconds
        accepted, out = _apply(cluster, foreign)
        return None if accepted else out

    out = wait_for("the admission policy to reject a foreign image", rejected, timeout=60)
    assert "ValidatingAdmissionPolicy" in out and "denied request" in out, out
    assert f"ImageNotAllowed: spec.job.image {FOREIGN_IMAGE} is not allowed" in out, out

    account = shop_resource(namespace, job={"serviceAccountName": "default"})
    accepted, out = _apply(cluster, account)
    assert not accepted and "ServiceAccountNotAllowed: spec.job.serviceAccountName default" in out
    source = shop_resource(namespace, source={"image": {"reference": "evil.example.com/m:1"}})
    accepted, out = _apply(cluster, source)
    assert not accepted and "ImageNotAllowed: spec.source.image.reference" in out, out
    look_alike = shop_resource(namespace, job={"image": "registry.example.com.evil.io/dbm/x:1"})
    assert not _apply(cluster, look_alike)[0]

    for job in ({}, {"image": "registry.example.com/dbm/engine:2"},
                {"image": "ghcr.io/dbmigrator/dbmigration-operator:0.1.0"}):  # fmt: skip
        accepted, out = _apply(cluster, shop_resource(namespace, job=job))
        assert accepted, (job, out)
