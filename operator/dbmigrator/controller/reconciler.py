"""One reconcile of one DatabaseMigration: fetch, plan (pure), act once, write status once.

Called from kopf's event handlers (the resource changed, one of its Jobs changed) and from the
requeue loop. Every decision (status, Events, when to look again) comes from the pure core
(`status.plan_reconcile`, `status.plan_invalid_spec`); this module only executes it. A lock per
resource keeps two threads from reconciling the same object at once; the deterministic Job
names keep a restarted operator from starting a second Job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from dbmigrator.api.spec import parse_spec
from dbmigrator.api.status import DatabaseMigrationStatus, parse_status, render_status_patch
from dbmigrator.controller import metrics
from dbmigrator.controller.events import Event
from dbmigrator.controller.jobs import JobDefaults, apply_job_defaults, build_job
from dbmigrator.controller.kube import Kube
from dbmigrator.controller.messages import render_spec_problems
from dbmigrator.controller.observed import JobPolicy, ResourceRef
from dbmigrator.controller.status import plan_invalid_spec, plan_reconcile
from dbmigrator.controller.steps import Blocked, CreateJob, DeleteJob, Fail

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reconciler:
    kube: Kube
    default_image: str
    job_defaults: JobDefaults = field(default_factory=JobDefaults)
    policy: JobPolicy = field(default_factory=JobPolicy)
    requeue: Callable[[str, str, float], None] = lambda ns, name, delay: None
    clock: Callable[[], datetime] = _utc_now
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    # The resourceVersion each resource got from this process's last status write: the watch
    # event it causes carries nothing new, so it needs no reconcile of its own.
    _written: dict[tuple[str, str], str] = field(default_factory=dict)

    def lock(self, namespace: str, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((namespace, name), threading.Lock())

    def is_own_write(self, namespace: str, name: str, resource_version: str | None) -> bool:
        """True when a watch event shows exactly the object this process's last status write
        produced (nobody changed it since): reconciling it again would find nothing to do."""
        return resource_version is not None and self._written.get((namespace, name)) == (
            resource_version
        )

    def forget(self, namespace: str, name: str) -> None:
        """The resource is gone: drop what is kept about it (its lock stays: a reconcile may
        still hold it)."""
        self._written.pop((namespace, name), None)
        metrics.forget(namespace, name)  # its series must not outlive it

    def _write(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        version = self.kube.patch_status(namespace, name, patch)
        if version is None:
            self._written.pop((namespace, name), None)
        else:
            self._written[(namespace, name)] = version

    def reconcile(self, namespace: str, name: str) -> None:
        with self.lock(namespace, name), metrics.RECONCILE_SECONDS.time():
            self._reconcile(namespace, name)

    def _reconcile(self, namespace: str, name: str) -> None:
        body = self.kube.read_resource(namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            metrics.forget(namespace, name)  # its series must not outlive it
            return  # deleting never touches the database; Jobs are garbage-collected
        meta = body["metadata"]
        ref = ResourceRef(name=name, namespace=namespace, uid=meta["uid"])
        status = parse_status(body.get("status"))
        try:
            spec = parse_spec(body.get("spec") or {})
        except ValidationError as exc:  # the CRD schema should have caught it: say what is wrong
            self._write_invalid_spec(body, status, exc)
            return
        observed = self.kube.observe(ref, int(meta.get("generation") or 1), body, self.policy)
        result = plan_reconcile(spec, status, observed)
        step = result.step
        for job_name in observed.jobs_to_delete:  # recorded as failed by plan_reconcile
            self.kube.delete_job(namespace, job_name)
            log.info("%s/%s: deleted Job %s (its pod cannot start)", namespace, name, job_name)
        if isinstance(step, CreateJob) and result.status != status:
            # Reconciling=True first: GitOps health checks (kstatus, Flux, Argo CD) must see
            # this generation in progress before anything else happens. Creating the Job is
            # idempotent, so a Job that fails to be created is simply created next time.
            self._write(namespace, name, render_status_patch(result.status))
            status = result.status
        if isinstance(step, CreateJob):
            job_spec = apply_job_defaults(spec, self.job_defaults)
            manifest = build_job(step.request, job_spec, ref, self.default_image)
            if self.kube.create_job(namespace, manifest):
                metrics.count_step(namespace, name, step.request.kind)
                log.info("%s/%s: created Job %s", namespace, name, step.job_name)
        elif isinstance(step, DeleteJob):
            self.kube.delete_job(namespace, step.job_name)
        if result.requeue_after is not None:
            self.requeue(namespace, name, result.requeue_after)
        if isinstance(step, Fail | Blocked) and result.events:  # counted once, when it happens
            metrics.count_failure(namespace, name, step.reason)
        if result.status != status:
            self._write(namespace, name, render_status_patch(result.status))
        for event in result.events:
            self._event(body, event)
        metrics.export(namespace, name, result.status, spec)

    def _event(self, body: dict[str, Any], event: Event) -> None:
        self.kube.post_event(body, event.type, event.reason, event.message)

    def _write_invalid_spec(
        self, body: dict[str, Any], status: DatabaseMigrationStatus, exc: ValidationError
    ) -> None:
        meta = body["metadata"]
        problems = render_spec_problems(exc.errors())
        generation = int(meta.get("generation") or 1)
        result = plan_invalid_spec(status, problems, generation, self.clock())
        if result.status != status:
            self._write(meta["namespace"], meta["name"], render_status_patch(result.status))
        for event in result.events:
            self._event(body, event)
