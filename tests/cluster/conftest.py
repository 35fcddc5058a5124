"""Fixtures for the local cluster's own tests: the session cluster and a namespace per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from localcluster.controlplane import LocalCluster
from localcluster.pytest_plugin import local_cluster

__all__ = ["local_cluster"]


class Kube:
    """Typed-enough access for the tests: raw JSON reads, model-built creates."""

    def __init__(self, cluster: LocalCluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.api: Any = cluster.api_client()
        self.core: Any = client.CoreV1Api(self.api)
        self.batch: Any = client.BatchV1Api(self.api)

    @staticmethod
    def raw(resp: Any) -> dict[str, Any]:
        data = json.loads(resp.data)
        resp.release_conn()
        return dict(data)

    def create_job(self, manifest: dict[str, Any]) -> None:
        self.batch.create_namespaced_job(self.namespace, client.V1Job.from_dict(manifest))

    def job(self, name: str) -> dict[str, Any]:
        return self.raw(
            self.batch.read_namespaced_job(name, self.namespace, _preload_content=False)
        )

    def pods(self, selector: str) -> list[dict[str, Any]]:
        body = self.raw(
            self.core.list_namespaced_pod(
                self.namespace, label_selector=selector, _preload_content=False
            )
        )
        return list(body["items"])


@pytest.fixture
def kube(local_cluster: LocalCluster) -> Iterator[Kube]:
    """A fresh namespace in the session cluster and clients for it."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube = Kube(local_cluster, name)
    kube.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield kube
    finally:
        kube.api.close()
