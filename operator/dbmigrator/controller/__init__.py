"""The operator's controller: a pure core and its Kubernetes glue.

Pure (no kopf, kubernetes, psycopg or subprocess; import-linter enforces it):
`observed` (what a reconcile saw), `planner` (the next step; `steps`, `runs`, `checks` are its
parts), `jobs` (Job manifests), `status` (the new status; `recording`, `messages` are its parts).
A handler observes, calls `status.plan_reconcile(spec, status, observed)`, executes the one
returned step (create or delete a Job, or nothing), and writes the returned status once.
"""
