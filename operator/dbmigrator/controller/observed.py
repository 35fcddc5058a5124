"""What the reconciler observed, as small frozen values the pure planner reads.

The kube adapter fetches the resource's Jobs (label `app.kubernetes.io/instance=<name>`), their
pods, the Secret and the ConfigMap, and turns them into these values with the pure helpers below
(`observe_job`, `parse_source_listing`, `digest_source`). Nothing here talks to the API server:
the helpers read plain dicts in the API's JSON shape (camelCase keys, as returned by
`ApiClient().sanitize_for_serialization(obj)` or by kopf).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dbmigrator.api import constants as c

JobState = Literal["Active", "Succeeded", "Failed"]

_UP_FILE = re.compile(r"^([0-9]+)_(.+)\.sql$")
_DOWN_FILE = re.compile(r"^([0-9]+)_(.+)\.down\.sql$")


@dataclass(frozen=True)
class ResourceRef:
    """The DatabaseMigration being reconciled (owner of its Jobs)."""

    name: str
    namespace: str
    uid: str


# A pod container waiting for one of these never starts by itself within a useful time: the
# planner fails the step once the pod has waited longer than the reason's grace (seconds).
STUCK_GRACE_SECONDS: Mapping[str, float] = {
    "ErrImageNeverPull": 20.0,  # the image is not on the node and may not be pulled
    "InvalidImageName": 20.0,
    "ErrImagePull": 120.0,  # a registry hiccup may pass: give it the kubelet's first backoffs
    "ImagePullBackOff": 120.0,
    "CreateContainerConfigError": 120.0,  # a Secret/ConfigMap key that may still arrive
    "CreateContainerError": 120.0,
}


@dataclass(frozen=True)
class StuckPod:
    """A Job's pod whose container waits for a reason in STUCK_GRACE_SECONDS, since `since`."""

    reason: str
    message: str
    container: str
    since: str | None

    def expired(self, now: datetime) -> bool:
        """True once the pod has waited longer than the reason's grace."""
        if self.since is None:
            return False
        started = datetime.fromisoformat(self.since.replace("Z", "+00:00"))
        return (now - started).total_seconds() >= STUCK_GRACE_SECONDS[self.reason]

    def seconds_left(self, now: datetime) -> float:
        """Until the grace ends (at least 1 s: the look that follows decides)."""
        if self.since is None:
            return STUCK_GRACE_SECONDS[self.reason]
        started = datetime.fromisoformat(self.since.replace("Z", "+00:00"))
        waited = (now - started).total_seconds()
        return max(1.0, STUCK_GRACE_SECONDS[self.reason] - waited)

    def describe(self) -> str:
        return f"container {self.container} cannot start: {self.reason}: {self.message}"


@dataclass(frozen=True)
class ObservedJob:
    """One Job owned by the resource, reduced to what the planner needs.

    `state` is Active until the Job has a terminal condition (a Job just created, with no pod
    yet, is Active too). `termination_message` is the engine container's termination message
    (RunResult JSON, or the log tail when the container died before writing it).
    """

    name: str
    state: JobState
    step: str = ""
    generation: int | None = None
    attempt: int = 0
    termination_message: str | None = None
    exit_code: int | None = None
    failure_reason: str | None = None
    deleting: bool = False
    started_at: str | None = None
    completed_at: str | None = None
    stuck: StuckPod | None = None
    oom_killed: bool = False
    pod_removed: bool = False

    @property
    def interrupted(self) -> bool:
        """Failed without a result because its pod was taken away (deleted, evicted, its node
        drained) rather than because the engine failed; not when its own deadline stopped it."""
        return (
            self.state == "Failed"
            and self.termination_message is None
            and self.pod_removed
            and "DeadlineExceeded" not in (self.failure_reason or "")
        )

    @property
    def finished(self) -> bool:
        """True once the Job succeeded or failed."""
        return self.state != "Active"

    def given_up(self, now: datetime) -> bool:
        """Active, but its pod has waited past its grace: counted as failed, then deleted."""
        return self.state == "Active" and self.stuck is not None and self.stuck.expired(now)


@dataclass(frozen=True)
class SourceListing:
    """Migration versions available in the source (ConfigMap keys NNN_name[.down].sql)."""

    versions: tuple[str, ...]
    down_versions: frozenset[str] = frozenset()
    digest: str | None = None

    def has_version(self, version: str) -> bool:
        """True when an up file has this version (compared numerically)."""
        return any(int(v) == int(version) for v in self.versions)

    def has_down(self, version: str) -> bool:
        """True when a down file has this version (compared numerically)."""
        return any(int(v) == int(version) for v in self.down_versions)


@dataclass(frozen=True)
class JobPolicy:
    """What the operator lets a DatabaseMigration choose for the pods it creates on its behalf.

    Set by whoever runs the operator (flags, chart values), never by the resource. An image entry
    ending in `/`, `:` or `@` is a prefix (a registry path, any tag of a repository, any digest);
    any other entry must equal the image. `default_image` and `default_service_account` are the
    operator's own Job defaults: naming them explicitly in `spec.job` is always allowed. The
    defaults allow nothing beyond them.
    """

    default_image: str = ""
    allowed_job_images: tuple[str, ...] = ()
    allowed_source_images: tuple[str, ...] = ()
    default_service_account: str = ""
    allowed_service_accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observed:
    """Everything the planner may look at besides spec and status.

    `source` is None when the source cannot be listed (an image source): the planner then
    leaves version checks to the engine. `config_map_found` is ignored for image sources.
    `now` is injected so planning and status stay pure; `policy` is the operator's settings
    for what a resource may choose (image, ServiceAccount).
    """

    resource: ResourceRef
    generation: int
    now: datetime
    jobs: tuple[ObservedJob, ...] = ()
    secret_found: bool = True
    secret_key_found: bool = True
    config_map_found: bool = True
    source: SourceListing | None = None
    retry_token: str | None = None
    approval: str | None = None  # the dbmigrator.io/approve-plan annotation: an approved hash
    policy: JobPolicy = field(default_factory=JobPolicy)
    _by_name: Mapping[str, ObservedJob] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {j.name: j for j in self.jobs})

    def job(self, name: str) -> ObservedJob | None:
        """The Job with this name, if it exists."""
        return self._by_name.get(name)

    @property
    def active_jobs(self) -> tuple[ObservedJob, ...]:
        """Jobs still running (or being deleted while their pod may still run), without those
        given up on (a pod that cannot start)."""
        return tuple(j for j in self.jobs if j.state == "Active" and not j.given_up(self.now))

    @property
    def jobs_to_delete(self) -> tuple[str, ...]:
        """Jobs given up on and not yet being deleted: their pod would wait until the deadline."""
        return tuple(j.name for j in self.jobs if j.given_up(self.now) and not j.deleting)


def parse_source_listing(keys: Iterable[str], digest: str | None = None) -> SourceListing:
    """Versions of the up and down files among `keys`, sorted numerically; other keys ignored."""
    ups: dict[str, str] = {}
    downs: set[str] = set()
    for key in keys:
        down = _DOWN_FILE.match(key)
        if down:
            downs.add(down.group(1))
            continue
        up = _UP_FILE.match(key)
        if up:
            ups.setdefault(up.group(1), key)
    versions = tuple(sorted(ups, key=lambda v: (int(v), v)))
    return SourceListing(versions=versions, down_versions=frozenset(downs), digest=digest)


def digest_source(data: Mapping[str, str]) -> str:
    """A stable digest of a ConfigMap's data (order-independent), to notice a changed source."""
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(key.encode())
        h.update(b"\0")
        h.update(data[key].encode())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


LABEL_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def build_pod_selector(jobs: Sequence[Mapping[str, Any]]) -> str | None:
    """The narrowest label selector for the pods of `jobs`: the Job controller's own uid label,
    which the API server sets from the Job's uid (None: no Job, nothing to list)."""
    uids = sorted({str((j.get("metadata") or {}).get("uid") or "") for j in jobs} - {""})
    return f"{LABEL_CONTROLLER_UID} in ({','.join(uids)})" if uids else None


def pods_of_job(
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The pods that really belong to `job`: labelled with its uid AND controlled by it.

    Labels can be copied by anyone who may create pods; the controller ownerReference to the
    Job's uid is set by the Job controller (a pod forging it is adopted by nobody and still
    needs both). A pod that matches only by `job-name` or the instance label is ignored, so a
    pod planted with the right labels cannot feed a result into status.
    """
    uid = (job.get("metadata") or {}).get("uid")
    if not uid:
        return []
    out: list[Mapping[str, Any]] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (meta.get("labels") or {}).get(LABEL_CONTROLLER_UID) != uid:
            continue
        refs = meta.get("ownerReferences") or []
        if any(
            r.get("uid") == uid and r.get("kind") == "Job" and r.get("controller") for r in refs
        ):
            out.append(pod)
    return out


def inputs_unneeded(
    status: Mapping[str, Any] | None, generation: int, jobs: Sequence[ObservedJob], now: datetime
) -> bool:
    """True when the planner cannot look at the Secret or the source: this generation's run is
    already recorded as running and one of its Jobs runs (so it waits). A run not yet recorded
    (its first status write lost) would be started from the inputs, so they are read then."""
    run = (status or {}).get("run") or {}
    if run.get("generation") != generation or run.get("state") != "Running":
        return False
    return any(j.state == "Active" and not j.given_up(now) for j in jobs)


def observe_job(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]] = ()) -> ObservedJob:
    """Reduce a Job (and its pods) in API JSON shape to an ObservedJob."""
    meta = job.get("metadata") or {}
    labels = meta.get("labels") or {}
    status = job.get("status") or {}
    state: JobState = "Active"
    failure_reason = None
    completed_at = status.get("completionTime")
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            state = "Succeeded"
        elif cond.get("type") == "Failed":
            state = "Failed"
            failure_reason = (
                ": ".join(p for p in (cond.get("reason"), cond.get("message")) if p) or None
            )
            completed_at = completed_at or cond.get("lastTransitionTime")
    message, exit_code = _termination(pods)
    oom = _oom_killed(pods)
    if oom is not None and state == "Failed":
        failure_reason = (
            f"OOMKilled: container {oom} was killed for exceeding its memory limit; raise "
            "spec.job.resources.limits.memory"
        )
    return ObservedJob(
        name=str(meta.get("name", "")),
        state=state,
        step=str(labels.get(c.LABEL_STEP, "")),
        generation=_int_or_none(labels.get(c.LABEL_GENERATION)),
        attempt=_int_or_none(labels.get(c.LABEL_ATTEMPT)) or 0,
        termination_message=message,
        exit_code=exit_code,
        failure_reason=failure_reason,
        deleting=meta.get("deletionTimestamp") is not None,
        started_at=status.get("startTime"),
        completed_at=completed_at,
        stuck=_stuck(pods) if state == "Active" else None,
        oom_killed=oom is not None,
        pod_removed=_pod_removed(pods),
    )


def _pod_removed(pods: Sequence[Mapping[str, Any]]) -> bool:
    """True when the Job's pod is gone, being deleted, or marked as disrupted (eviction,
    preemption, node drain): a Job with backoffLimit 0 then fails with no result to read."""
    pod = _newest(pods)
    if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return True
    return any(
        cond.get("type") == "DisruptionTarget" and cond.get("status") == "True"
        for cond in (pod.get("status") or {}).get("conditions") or []
    )


def _newest(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not pods:
        return None
    return max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp")))


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def _stuck(pods: Sequence[Mapping[str, Any]]) -> StuckPod | None:
    """The newest pod's first container waiting for a reason that does not pass by itself."""
    pod = _newest(pods)
    if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in STUCK_GRACE_SECONDS:
            since = (pod.get("status") or {}).get("startTime") or (pod.get("metadata") or {}).get(
                "creationTimestamp"
            )
            message = str(waiting.get("message") or "")[:300]
            return StuckPod(str(reason), message, str(cs.get("name", "")), since)
    return None


def _oom_killed(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The container of the newest pod the kernel killed for its memory limit, if any."""
    pod = _newest(pods)
    for cs in _statuses(pod) if pod is not None else []:
        for state in (cs.get("state") or {}, cs.get("lastState") or {}):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                return str(cs.get("name", ""))
    return None


def _termination(pods: Sequence[Mapping[str, Any]]) -> tuple[str | None, int | None]:
    """Termination message and exit code of the engine container in the newest finished pod."""
    newest = sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp")))
    for pod in reversed(newest):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") != c.CONTAINER_NAME:
                continue
            term = (cs.get("state") or {}).get("terminated")
            if term:
                return term.get("message"), term.get("exitCode")
    return None, None


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
