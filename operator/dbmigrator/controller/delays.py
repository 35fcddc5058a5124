"""Every delay the operator waits, named once (pure constants in seconds, one pure rule).

The reconciler and the kopf glue never write a number: they requeue after the values the pure
core returns (`status.Reconcile.requeue_after`) or after the named retries below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from dbmigrator.controller.observed import ObservedJob

# A running Job is looked at again after this long even if no watch event came: Job events
# (new, finished, deleted) do the work; the poll catches a pod that cannot start (whose grace
# then gets a recheck of its own, `running_job_recheck`) and anything a dropped watch missed.
# At 1,000 resources a 30 s poll was half of all the operator's requests (docs/benchmarks.md).
JOB_POLL_SECONDS = 60.0
SUSPEND_POLL_SECONDS = 2.0  # a Job is being deleted for spec.suspend: see it go
BLOCKED_RECHECK_SECONDS = (
    10.0  # input fixed outside the resource (Secret, ConfigMap) is not watched
)
# A plan waiting for approval: the annotation arrives as a watch event; this slow look notices a
# changed ConfigMap (not watched), whose new files need a new plan.
APPROVAL_RECHECK_SECONDS = 60.0
DEPENDENCY_POLL_SECONDS = 5.0  # a late Secret or ConfigMap is polled for while it is waited for
TRANSIENT_RETRY_SECONDS = 5.0  # the API server failed a call (TransientError)
ERROR_RETRY_SECONDS = 10.0  # a reconcile raised something unexpected
# The slow safety net (watches and timed requeues do the work): every resource is reconciled
# this often, the resync spread over the interval (`handlers._resync_forever`).
RESYNC_SECONDS = 600.0


def running_job_recheck(job: ObservedJob, now: datetime) -> float:
    """When to look at a running Job again: at the usual poll, or when the grace of a pod that
    cannot start ends if that comes first (a stuck pod changes nothing a watch sees)."""
    if job.stuck is None:
        return JOB_POLL_SECONDS
    return min(JOB_POLL_SECONDS, job.stuck.seconds_left(now))
