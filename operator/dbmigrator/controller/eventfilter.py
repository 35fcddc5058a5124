"""Which Job watch events are worth a reconcile (pure signature, plus a small memo).

The Job controller updates a Job's status many times per run (startTime, active, ready,
uncounted pods, SuccessCriteriaMet, Complete); the planner acts only on what `job_signature`
keeps: its terminal conditions and its deletion (a new Job is always looked at). A pod that
cannot start is looked at by timed requeues (the planner asks for one at the end of its
grace), not by Job events.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

JobSignature = tuple[tuple[str, ...], bool]


def job_signature(job: Mapping[str, Any]) -> JobSignature:
    """What of a Job (API JSON shape) the planner reads from the Job object itself."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    terminal = tuple(
        sorted(
            str(cond.get("type"))
            for cond in status.get("conditions") or []
            if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed")
        )
    )
    return terminal, meta.get("deletionTimestamp") is not None


class JobSignatures:
    """The last signature seen per Job uid; thread-safe (kopf runs handlers in threads)."""

    def __init__(self) -> None:
        self._seen: dict[str, JobSignature] = {}
        self._lock = threading.Lock()

    def changed(self, event_type: str | None, job: Mapping[str, Any]) -> bool:
        """True when the event may matter to the planner: a new, changed or deleted Job."""
        uid = str((job.get("metadata") or {}).get("uid") or "")
        if not uid:
            return True
        with self._lock:
            if event_type == "DELETED":
                self._seen.pop(uid, None)
                return True
            signature = job_signature(job)
            if self._seen.get(uid) == signature:
                return False
            self._seen[uid] = signature
            return True
