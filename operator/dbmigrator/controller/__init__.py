"""The operator's controller: a pure core and its Kubernetes glue.

Pure (no kopf, kubernetes, psycopg or subprocess; import-linter enforces it):
`stepids` (the step vocabulary: `StepId` and the per-kind table `KINDS`), `observed` (what a
reconcile saw), `planner` (the next action; `steps`, `runs`, `checks`, `dependencies`,
`outcomes` are its parts), `jobs` (Job manifests), `status` (fold finished Jobs' results in,
then the new status; `recording`, `runstatus`, `events`, `messages` are its parts), `delays`
(every wait, named). The reconciler observes, calls `status.plan_reconcile(spec, status,
observed)`, executes the one returned action (create or delete a Job, or nothing), writes the
returned status once, posts the returned Events and requeues after the returned delay.
"""
