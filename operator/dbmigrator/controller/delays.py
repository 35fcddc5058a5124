"""Every delay the operator waits, named once (pure constants, seconds).

The reconciler and the kopf glue never write a number: they requeue after the values the pure
core returns (`status.Reconcile.requeue_after`) or after the named retries below.
"""

from __future__ import annotations

JOB_POLL_SECONDS = 30.0  # a Job runs: look again even if its events are missed
SUSPEND_POLL_SECONDS = 2.0  # a Job is being deleted for spec.suspend: see it go
BLOCKED_RECHECK_SECONDS = (
    10.0  # input fixed outside the resource (Secret, ConfigMap) is not watched
)
DEPENDENCY_POLL_SECONDS = 5.0  # a late Secret or ConfigMap is polled for while it is waited for
TRANSIENT_RETRY_SECONDS = 5.0  # the API server failed a call (TransientError)
ERROR_RETRY_SECONDS = 10.0  # a reconcile raised something unexpected
RESYNC_SECONDS = 60.0  # the slow safety net: every resource is reconciled this often
