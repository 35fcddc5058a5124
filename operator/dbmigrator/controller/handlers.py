"""kopf glue: which events trigger a reconcile, operator settings, the requeue loop. No logic.

Level-based: every event of a DatabaseMigration or of a Job it owns reconciles that resource from
scratch (spec vs status vs observed Jobs), so a missed or repeated event changes nothing. There
are no kopf finalizers, timers or daemons (they would hang deletion while the operator is down);
waits and backoffs go through a small in-process requeue loop instead.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import kopf

from dbmigrator.api import constants as c
from dbmigrator.controller import metrics
from dbmigrator.controller.delays import (
    ERROR_RETRY_SECONDS,
    RESYNC_SECONDS,
    TRANSIENT_RETRY_SECONDS,
)
from dbmigrator.controller.eventfilter import JobSignatures
from dbmigrator.controller.jobs import JobDefaults
from dbmigrator.controller.kube import Kube, TransientError
from dbmigrator.controller.observed import JobPolicy
from dbmigrator.controller.reconciler import Reconciler
from dbmigrator.controller.requeue import Requeue

log = logging.getLogger(__name__)


@dataclass
class OperatorConfig:
    namespaces: list[str] | None  # None: all namespaces
    default_image: str
    job_defaults: JobDefaults = field(default_factory=JobDefaults)
    policy: JobPolicy = field(default_factory=JobPolicy)
    metrics_port: int = 8080
    resync_seconds: float = RESYNC_SECONDS
    workers: int = 32


class Runtime:
    """What the handlers share; set up by `install` before kopf starts."""

    config: OperatorConfig
    reconciler: Reconciler
    requeue: Requeue


RUNTIME = Runtime()
JOB_SIGNATURES = JobSignatures()


def install(config: OperatorConfig) -> None:
    RUNTIME.config = config
    requeue = Requeue(reconcile=_safe_reconcile)
    RUNTIME.requeue = requeue
    RUNTIME.reconciler = Reconciler(
        Kube.default(),
        config.default_image,
        config.job_defaults,
        config.policy,
        requeue=requeue.add,
    )


def _safe_reconcile(namespace: str, name: str) -> None:
    try:
        RUNTIME.reconciler.reconcile(namespace, name)
    except TransientError as exc:
        log.warning("%s/%s: %s; retrying in %ss", namespace, name, exc, TRANSIENT_RETRY_SECONDS)
        RUNTIME.requeue.add(namespace, name, TRANSIENT_RETRY_SECONDS)
    except Exception:
        log.exception(
            "%s/%s: reconcile failed; retrying in %ss", namespace, name, ERROR_RETRY_SECONDS
        )
        RUNTIME.requeue.add(namespace, name, ERROR_RETRY_SECONDS)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{c.GROUP}/kopf-finalizer"
    settings.posting.enabled = False  # the reconciler posts its own, one per step
    settings.execution.max_workers = RUNTIME.config.workers
    settings.watching.server_timeout = 300
    metrics.serve(RUNTIME.config.metrics_port)
    threading.Thread(target=RUNTIME.requeue.run, name="requeue", daemon=True).start()
    threading.Thread(target=_resync_forever, name="resync", daemon=True).start()


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    RUNTIME.requeue.stop()


@kopf.on.event(c.GROUP, c.VERSION, c.PLURAL)
def resource_event(type: str, body: kopf.Body, namespace: str | None, name: str, **_: Any) -> None:
    if not namespace:
        return
    if type == "DELETED":
        RUNTIME.reconciler.forget(namespace, name)
    elif not RUNTIME.reconciler.is_own_write(namespace, name, body.metadata.get("resourceVersion")):
        _safe_reconcile(namespace, name)


@kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_MANAGED_BY: c.MANAGED_BY})
def job_event(type: str, body: kopf.Body, namespace: str | None, **_: Any) -> None:
    if not namespace or not JOB_SIGNATURES.changed(type, body):
        return
    for owner in body.metadata.get("ownerReferences") or []:
        if owner.get("kind") == c.KIND and owner.get("controller"):
            _safe_reconcile(namespace, owner["name"])


def _resync_forever() -> None:
    """A slow safety net: reconcile everything now and then, whatever the watches said."""
    while True:
        time.sleep(RUNTIME.config.resync_seconds)
        try:
            items = RUNTIME.reconciler.kube.list_resources(RUNTIME.config.namespaces)
            # Spread over the interval: a thousand resources are not read in one burst.
            spread = RUNTIME.config.resync_seconds / max(1, len(items))
            for i, item in enumerate(items):
                meta = item["metadata"]
                RUNTIME.requeue.add(meta["namespace"], meta["name"], i * spread)
        except TransientError as exc:
            log.warning("resync: %s", exc)
