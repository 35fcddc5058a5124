"""The node agent's only door to the API server: a thin typed adapter over the kubernetes client.

Everything goes in and out as plain JSON dicts (`_preload_content=False`, parsed here), so the
rest of the agent never touches the untyped client models. Errors become `NotFoundError`,
`GoneError` (a watch's resourceVersion expired: relist) or `KubeError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

Json = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """An API call failed (transient from the agent's point of view)."""


class NotFoundError(KubeError):
    """The object does not exist."""


class ConflictError(KubeError):
    """409: already exists / already bound."""


class GoneError(KubeError):
    """410: the watch's resourceVersion is too old; relist."""


def _wrap(err: ApiException) -> KubeError:
    status = getattr(err, "status", 0)
    text = f"{status} {getattr(err, 'reason', '')}: {getattr(err, 'body', '')}"
    if status == 404:
        return NotFoundError(text)
    if status == 409:
        return ConflictError(text)
    if status == 410:
        return GoneError(text)
    return KubeError(text)


def _json(resp: Any) -> Json:
    data = resp.data
    resp.release_conn()
    return dict(json.loads(data)) if data else {}


class KubeApi:
    """The calls the node agent makes."""

    def __init__(self, kubeconfig: Path) -> None:
        loader: Any = config
        self._client: Any = loader.new_client_from_config(config_file=str(kubeconfig))
        self._core: Any = client.CoreV1Api(self._client)

    def close(self) -> None:
        self._client.close()

    # ---- pods
    def list_pods(self, field_selector: str) -> tuple[list[Json], str]:
        try:
            body = _json(
                self._core.list_pod_for_all_namespaces(
                    field_selector=field_selector, _preload_content=False, _request_timeout=30
                )
            )
        except ApiException as err:
            raise _wrap(err) from err
        return list(body.get("items", [])), str(body["metadata"]["resourceVersion"])

    def watch_pods(
        self, field_selector: str, resource_version: str, timeout: int = 60
    ) -> Iterator[tuple[str, Json]]:
        """(type, object) events until the server ends the watch; BOOKMARKs included."""
        try:
            resp = self._core.list_pod_for_all_namespaces(
                field_selector=field_selector,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout,
                watch=True,
                _preload_content=False,
                _request_timeout=(10, timeout + 15),
            )
        except ApiException as err:
            raise _wrap(err) from err
        try:
            buffer = b""
            for chunk in resp.stream(amt=65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        code = obj.get("code", 0)
                        message = f"watch error {code}: {obj.get('message', '')}"
                        raise GoneError(message) if code == 410 else KubeError(message)
                    yield str(event["type"]), dict(obj)
        finally:
            resp.release_conn()

    def bind_pod(self, namespace: str, name: str, uid: str, node: str) -> None:
        body = client.V1Binding(
            metadata=client.V1ObjectMeta(name=name, uid=uid),
            target=client.V1ObjectReference(api_version="v1", kind="Node", name=node),
        )
        try:
            self._core.create_namespaced_pod_binding(
                name, namespace, body, _preload_content=False, _request_timeout=30
            ).release_conn()
        except ApiException as err:
            raise _wrap(err) from err

    def patch_pod_status(self, namespace: str, name: str, status: Json) -> Json:
        try:
            return _json(
                self._core.patch_namespaced_pod_status(
                    name,
                    namespace,
                    {"status": status},
                    _content_type=MERGE_PATCH,
                    _preload_content=False,
                    _request_timeout=30,
                )
            )
        except ApiException as err:
            raise _wrap(err) from err

    def delete_pod_now(self, namespace: str, name: str, uid: str) -> None:
        """Delete with grace period 0 (precondition: this uid), as the kubelet does when done."""
        body = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid)
        )
        try:
            self._core.delete_namespaced_pod(
                name, namespace, body=body, _preload_content=False, _request_timeout=30
            ).release_conn()
        except ApiException as err:
            raise _wrap(err) from err

    # ---- objects pods refer to
    def read_secret(self, namespace: str, name: str) -> Json | None:
        return self._read_or_none(self._core.read_namespaced_secret, namespace, name)

    def read_config_map(self, namespace: str, name: str) -> Json | None:
        return self._read_or_none(self._core.read_namespaced_config_map, namespace, name)

    def read_pvc(self, namespace: str, name: str) -> Json | None:
        return self._read_or_none(
            self._core.read_namespaced_persistent_volume_claim, namespace, name
        )

    @staticmethod
    def _read_or_none(read: Any, namespace: str, name: str) -> Json | None:
        """One namespaced object as JSON, or None when it does not exist."""
        try:
            return _json(read(name, namespace, _preload_content=False, _request_timeout=30))
        except ApiException as err:
            if err.status == 404:
                return None
            raise _wrap(err) from err

    def patch_pvc_status(self, namespace: str, name: str, status: Json) -> None:
        try:
            self._core.patch_namespaced_persistent_volume_claim_status(
                name,
                namespace,
                {"status": status},
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=30,
            ).release_conn()
        except ApiException as err:
            raise _wrap(err) from err

    # ---- node
    def create_node(self, node: Json) -> None:
        try:
            self._core.create_node(
                client.V1Node.from_dict(node), _preload_content=False, _request_timeout=30
            ).release_conn()
        except ApiException as err:
            raise _wrap(err) from err

    def patch_node_status(self, name: str, status: Json) -> None:
        try:
            self._core.patch_node_status(
                name,
                {"status": status},
                _content_type=MERGE_PATCH,
                _preload_content=False,
                _request_timeout=30,
            ).release_conn()
        except ApiException as err:
            raise _wrap(err) from err
