"""The provisioner's only door to the API server: a thin typed adapter over the kubernetes client.

Everything goes in and out as plain JSON dicts (`_preload_content=False`, parsed here), so the
rest never touches the untyped client models. Errors become `NotFoundError`, `ConflictError`,
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
    """An API call failed (transient from the caller's point of view)."""


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
    """The calls the provisioner makes."""

    def __init__(self, kubeconfig: Path) -> None:
        loader: Any = config
        self._client: Any = loader.new_client_from_config(config_file=str(kubeconfig))
        self._core: Any = client.CoreV1Api(self._client)
        self._storage: Any = client.StorageV1Api(self._client)

    def close(self) -> None:
        self._client.close()

    def list_pvcs(self) -> tuple[list[Json], str]:
        try:
            body = _json(
                self._core.list_persistent_volume_claim_for_all_namespaces(
                    _preload_content=False, _request_timeout=30
                )
            )
        except ApiException as err:
            raise _wrap(err) from err
        return list(body.get("items", [])), str(body["metadata"]["resourceVersion"])

    def watch_pvcs(self, resource_version: str, timeout: int = 60) -> Iterator[tuple[str, Json]]:
        """(type, object) events until the server ends the watch."""
        try:
            resp = self._core.list_persistent_volume_claim_for_all_namespaces(
                resource_version=resource_version,
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
            # A watch left before its end still has bytes in flight: close the connection
            # rather than hand it back to the pool, where the next request would read them.
            resp.close()
            resp.release_conn()

    def create_persistent_volume(self, volume: Json) -> None:
        try:
            _json(
                self._core.create_persistent_volume(
                    volume, _preload_content=False, _request_timeout=30
                )
            )  # read to the end: a body left unread would be the next request's answer
        except ApiException as err:
            raise _wrap(err) from err

    def apply_storage_class(self, storage_class: Json) -> None:
        """Create the class; an existing one of that name is left as it is."""
        try:
            _json(
                self._storage.create_storage_class(
                    storage_class, _preload_content=False, _request_timeout=30
                )
            )
        except ApiException as err:
            if err.status != 409:
                raise _wrap(err) from err
