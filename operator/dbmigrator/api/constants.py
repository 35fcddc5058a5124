"""Names of the `DatabaseMigration` API: group, version, kind, labels, annotations, paths.

One place for every string the operator shares with the cluster, the Jobs and the chart.
The operator uses no finalizer: deleting a resource never touches the database, and the Jobs it
owns are garbage-collected through their owner references.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "dbmigrator.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "DatabaseMigration"
LIST_KIND: Final = "DatabaseMigrationList"
PLURAL: Final = "databasemigrations"
SINGULAR: Final = "databasemigration"
SHORT_NAMES: Final = ("dbmigration", "dbmigrations", "dbm")
CATEGORIES: Final = ("dbmigrator",)
CRD_NAME: Final = f"{PLURAL}.{GROUP}"

# Labels every Job carries (app.kubernetes.io/* per the recommended-labels convention).
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_GENERATION: Final = f"{GROUP}/generation"
LABEL_STEP: Final = f"{GROUP}/step"
LABEL_ATTEMPT: Final = f"{GROUP}/attempt"
LABEL_RETRY: Final = f"{GROUP}/retry"
APP_NAME: Final = "dbmigrator"
MANAGED_BY: Final = "dbmigration-operator"

# Annotations on Jobs (what the Job works toward) and on the resource (user requests).
ANNOTATION_TARGET: Final = f"{GROUP}/target-version"
ANNOTATION_PHASE: Final = f"{GROUP}/phase"
ANNOTATION_OPERATION: Final = f"{GROUP}/operation"
# `kubectl annotate dbm NAME dbmigrator.io/retry=$(date +%s) --overwrite` retries a failed run.
ANNOTATION_RETRY: Final = f"{GROUP}/retry"
# `kubectl annotate dbm NAME dbmigrator.io/approve-plan=<status.plan.hash>` approves that plan.
ANNOTATION_APPROVE_PLAN: Final = f"{GROUP}/approve-plan"

# Inside a Job's pod.
CONTAINER_NAME: Final = "dbmigrator"
COMMAND: Final = ("dbmigrator",)
MIGRATIONS_DIR: Final = "/migrations"
BACKUPS_DIR: Final = "/backups"
TMP_DIR: Final = "/tmp"  # noqa: S108 - an emptyDir mounted by the Job, not a shared host dir
TERMINATION_LOG: Final = "/dev/termination-log"
ENV_DATABASE_URL: Final = "DATABASE_URL"
ENV_CHECKS_JSON: Final = "DBMIGRATOR_CHECKS_JSON"
ENV_APPLICATION_NAME: Final = "DBMIGRATOR_APPLICATION_NAME"
ENV_BACKUP_ROOT: Final = "DBMIGRATOR_BACKUP_ROOT"  # backup paths are reported relative to it
RUN_AS_ID: Final = 10001

# Status bookkeeping.
HISTORY_LIMIT: Final = 10
PLAN_FILES_LIMIT: Final = 50
PLAN_LINT_LIMIT: Final = 20
PLAN_DRIFT_LIMIT: Final = 20
MESSAGE_LIMIT: Final = 1024
