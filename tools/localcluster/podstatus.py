"""Pure pod status building: container records -> the `status` the node agent patches.

A `ContainerRecord` is the agent's view of one container (waiting / running / terminated,
times, exit code, pid, restarts). `build_pod_status` turns the records plus the pod-level
outcome into the full status (phase, conditions, container statuses), deterministic for equal
inputs so the agent patches only when something changed. `plan_phase` is the kubelet's phase
rule for restartPolicy Never/OnFailure; `build_termination_message` the message rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

Json = dict[str, Any]
State = Literal["waiting", "running", "terminated"]
TERMINAL_PHASES = ("Succeeded", "Failed")
MAX_MESSAGE_BYTES = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048
POD_IP = "127.0.0.1"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ContainerRecord:
    """One container as the agent sees it."""

    name: str
    image: str
    state: State = "waiting"
    reason: str | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    restart_count: int = 0
    last_terminated: Json | None = None

    def terminated_state(self) -> Json:
        out: Json = {
            "exitCode": self.exit_code if self.exit_code is not None else 0,
            "reason": self.reason or ("Completed" if self.exit_code == 0 else "Error"),
        }
        if self.message:
            out["message"] = self.message
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.finished_at:
            out["finishedAt"] = self.finished_at
        if self.pid is not None:
            out["containerID"] = f"local://{self.pid}"
        return out


def start_record(record: ContainerRecord, pid: int, now: str) -> ContainerRecord:
    """The record of a (re)started container: running, with the previous run in lastState."""
    last = record.terminated_state() if record.state == "terminated" else record.last_terminated
    restarts = record.restart_count + (1 if record.state == "terminated" else 0)
    return replace(
        record,
        state="running",
        reason=None,
        message=None,
        started_at=now,
        finished_at=None,
        exit_code=None,
        pid=pid,
        restart_count=restarts,
        last_terminated=last,
    )


def finish_record(
    record: ContainerRecord, exit_code: int, message: str, now: str, reason: str | None = None
) -> ContainerRecord:
    return replace(
        record,
        state="terminated",
        exit_code=exit_code,
        reason=reason or ("Completed" if exit_code == 0 else "Error"),
        message=message or None,
        finished_at=now,
        started_at=record.started_at or now,
    )


def exit_code_of(returncode: int) -> int:
    """Popen's returncode (negative = killed by signal) as a container exit code (128+sig)."""
    return 128 - returncode if returncode < 0 else returncode


def build_container_status(record: ContainerRecord, ready: bool) -> Json:
    status: Json = {
        "name": record.name,
        "image": record.image,
        "imageID": f"local://{record.image}",
        "ready": ready,
        "started": record.state == "running",
        "restartCount": record.restart_count,
        "lastState": {"terminated": record.last_terminated} if record.last_terminated else {},
    }
    if record.pid is not None:
        status["containerID"] = f"local://{record.pid}"
    if record.state == "running":
        status["state"] = {"running": {"startedAt": record.started_at}}
    elif record.state == "terminated":
        status["state"] = {"terminated": record.terminated_state()}
    else:
        waiting: Json = {"reason": record.reason or "ContainerCreating"}
        if record.message:
            waiting["message"] = record.message
        status["state"] = {"waiting": waiting}
    return status


def plan_phase(
    init: Sequence[ContainerRecord], main: Sequence[ContainerRecord], restart_policy: str
) -> str:
    """Pending / Running / Succeeded / Failed from the container records.

    With restartPolicy Never a failed init container fails the pod; a pod whose containers all
    terminated succeeded when all exited 0. With OnFailure a failed container is restarted by
    the agent (its record goes back to running), so it is not terminal here while restarts
    remain pending: the caller passes records in their current state."""
    never = restart_policy == "Never"
    for rec in init:
        if rec.state == "terminated" and rec.exit_code != 0 and never:
            return "Failed"
    if any(rec.state != "terminated" or rec.exit_code != 0 for rec in init):
        return "Pending"
    if main and all(rec.state == "terminated" for rec in main):
        if all(rec.exit_code == 0 for rec in main):
            return "Succeeded"
        if never:
            return "Failed"
        return "Running"
    if any(rec.state in ("running", "terminated") for rec in main):
        return "Running"
    return "Pending"


def _condition(kind: str, ok: bool, reason: str | None = None) -> Json:
    cond: Json = {"type": kind, "status": "True" if ok else "False"}
    if reason and not ok:
        cond["reason"] = reason
    return cond


def build_pod_status(
    init: Sequence[ContainerRecord],
    main: Sequence[ContainerRecord],
    phase: str,
    start_time: str | None,
    reason: str | None = None,
    message: str | None = None,
) -> Json:
    """The complete pod status for `phase`; lists are whole so a merge patch replaces them."""
    initialized = all(r.state == "terminated" and r.exit_code == 0 for r in init)
    running = phase == "Running" and all(r.state == "running" for r in main)
    not_ready = "PodCompleted" if phase in TERMINAL_PHASES else "ContainersNotReady"
    conditions = [
        _condition("PodReadyToStartContainers", start_time is not None),
        _condition("Initialized", initialized, "ContainersNotInitialized"),
        _condition("Ready", running, not_ready),
        _condition("ContainersReady", running, not_ready),
        _condition("PodScheduled", True),
    ]
    status: Json = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": POD_IP,
        "hostIPs": [{"ip": POD_IP}],
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "qosClass": "BestEffort",
        "containerStatuses": [
            build_container_status(r, ready=running and r.state == "running") for r in main
        ],
        "reason": reason,
        "message": message,
    }
    if init:
        status["initContainerStatuses"] = [build_container_status(r, False) for r in init]
    if start_time:
        status["startTime"] = start_time
    return status


def log_tail(log: bytes, max_lines: int = FALLBACK_LINES, max_bytes: int = FALLBACK_BYTES) -> str:
    """The last `max_lines` lines of a log, cut to its last `max_bytes` bytes."""
    lines = log.splitlines(keepends=True)[-max_lines:]
    tail = b"".join(lines)[-max_bytes:]
    return tail.decode("utf-8", errors="replace")


def build_termination_message(
    file_content: bytes, log: bytes, policy: str | None, exit_code: int
) -> str:
    """The container's termination message: the file (at most 4096 bytes) or, with
    FallbackToLogsOnError, a non-zero exit and an empty file, the log's tail."""
    if file_content:
        return file_content[:MAX_MESSAGE_BYTES].decode("utf-8", errors="replace")
    if policy == "FallbackToLogsOnError" and exit_code != 0:
        return log_tail(log)
    return ""
