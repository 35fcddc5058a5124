"""Pydantic models of the `DatabaseMigration` resource: spec and status (the CRD's source of truth).

Keys are camelCase on the wire (`alias_generator=to_camel`); Python code uses snake_case. Every
field carries a description, which `api/crd.py` renders into the CRD so `kubectl explain` is
useful. Cross-field rules that CEL can express ride along as `x-kubernetes-validations` in
`json_schema_extra`; what only the operator can judge lives in `controller/planner.py`.

The status is the operator's memory between reconciles (`status.run`): Kubernetes prunes status
fields the CRD does not declare, so everything the planner reads is declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

VERSION_PATTERN = r"^[0-9]+$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OPTIONAL_DNS_SUBDOMAIN_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$"
)
CONFIG_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
CHECK_NAME_PATTERN = r"^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$"

Version = Annotated[str, StringConstraints(pattern=VERSION_PATTERN, min_length=1, max_length=18)]
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
DnsSubdomain = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)]
Quantity = int | str
OnFailure = Literal["None", "Down", "Restore"]
Expectation = Literal["allowed", "empty", "denied"]
Phase = Literal[
    "Pending",
    "BackingUp",
    "Rehearsing",
    "Migrating",
    "Validating",
    "RollingBack",
    "Succeeded",
    "Failed",
    "Suspended",
]
PhaseState = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]
Operation = Literal["upgrade", "rollback", "restore"]
RunOperation = Literal["upgrade", "rollback"]
RunOutcome = Literal["Running", "Succeeded", "Failed", "Superseded"]


def _rules(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """`json_schema_extra` with CEL rules (rule, message[, fieldPath]): x-kubernetes-validations."""
    out: list[dict[str, str]] = []
    for rule in rules:
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]  # where kubectl reports the error
        out.append(entry)
    return {"x-kubernetes-validations": out}


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


# --------------------------------------------------------------------------- spec


class SecretKeyRef(_Model):
    """A key of a Secret in the resource's namespace."""

    name: DnsSubdomain = Field(description="Name of the Secret in the resource's namespace.")
    key: Annotated[str, StringConstraints(pattern=CONFIG_KEY_PATTERN, max_length=253)] = Field(
        default="uri", description="Key in the Secret whose value is the postgresql:// URI."
    )


class DatabaseSpec(_Model):
    """Where the database is. The URI is only ever read from a Secret, never written inline."""

    secret_ref: SecretKeyRef = Field(
        description="Secret key holding the database URI (a postgresql:// URI). Jobs receive "
        "it as the DATABASE_URL environment variable via secretKeyRef; it never appears in "
        "arguments, status, Events or logs."
    )


class ConfigMapSource(_Model):
    """Migrations stored as keys of a ConfigMap."""

    name: DnsSubdomain = Field(
        description="Name of the ConfigMap whose keys are NNN_name.sql and NNN_name.down.sql files."
    )


class ImageSource(_Model):
    """Migrations shipped in an OCI image (any base, FROM scratch included).

    An init container copies the files out of the image into the Job's own volume, so it works
    on every container runtime (image volumes need Kubernetes 1.33+ and containerd 2.1+)."""

    reference: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="Image reference, e.g. ghcr.io/acme/shop-migrations:1.4.0."
    )
    path: Annotated[str, StringConstraints(pattern=r"^/.*$", max_length=1024)] = Field(
        default="/migrations", description="Directory inside the image holding the .sql files."
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent",
        alias="pullPolicy",
        description="When the kubelet pulls the migrations image.",
    )


class SourceSpec(_Model):
    """Where the migration files come from: exactly one of configMap or image."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "has(self.configMap) != has(self.image)",
                "exactly one of spec.source.configMap and spec.source.image must be set",
            )
        )
    )

    config_map: ConfigMapSource | None = Field(
        default=None, description="Read migrations from a ConfigMap (mounted at /migrations)."
    )
    image: ImageSource | None = Field(
        default=None,
        description="Read migrations from an image (copied out by an init container). The "
        "operator cannot list an image, so version checks (target present, down files) are "
        "left to the engine.",
    )


class PhaseSpec(_Model):
    """A contiguous range of versions applied by one Job: after the previous phase, to through."""

    name: DnsLabel = Field(description="Phase name (a DNS label), shown in status and Events.")
    through: Version = Field(
        description="Last version of this phase (digits, compared numerically). Must be a version "
        "present in the source, greater than the previous phase's."
    )


class BackupSpec(_Model):
    """A pg_dump before any migration or rollback runs."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "!self.enabled || has(self.volumeClaimName)",
                "spec.backup.volumeClaimName is required when spec.backup.enabled is true",
                ".volumeClaimName",
            )
        )
    )

    enabled: bool = Field(default=True, description="Take a backup before changing the database.")
    volume_claim_name: DnsSubdomain | None = Field(
        default=None,
        description="PersistentVolumeClaim mounted at /backups; dumps go to /backups/<resource>/.",
    )
    keep: int = Field(
        default=5, ge=1, le=1000, description="How many newest dumps of this resource to keep."
    )


class RehearsalSpec(_Model):
    """Restore a fresh backup into a scratch database and migrate it first."""

    enabled: bool = Field(
        default=False,
        description="Rehearse each upgrade on a scratch copy before touching the database "
        "(the database role needs CREATEDB).",
    )


class RoleProbe(_Model):
    """A query run under SET ROLE (the way PostgREST does) with an expected outcome."""

    role: Annotated[str, StringConstraints(min_length=1, max_length=63)] = Field(
        description="Role to SET ROLE to, e.g. anon or authenticated."
    )
    sql: Annotated[str, StringConstraints(min_length=1, max_length=65536)] = Field(
        description="Query to run (inside a transaction that is rolled back)."
    )
    expect: Expectation = Field(
        description="allowed: the query succeeds (with at least minRows rows); empty: it succeeds "
        "with no rows (RLS filters them); denied: it fails with insufficient privilege."
    )
    claims: dict[str, Any] | None = Field(
        default=None, description="JWT claims set as request.jwt.claims, e.g. {sub: <uuid>}."
    )
    min_rows: int | None = Field(
        default=None, ge=0, description="For expect=allowed: the least number of rows expected."
    )
    since: Version | None = Field(
        default=None, description="Only probe once this version is applied."
    )


class QueryCheck(_Model):
    """A query timed with EXPLAIN ANALYZE before and after each migration."""

    name: Annotated[str, StringConstraints(pattern=CHECK_NAME_PATTERN, max_length=63)] = Field(
        description="Name of the check, shown in status.performance."
    )
    sql: Annotated[str, StringConstraints(min_length=1, max_length=65536)] = Field(
        description="Query to time (executed inside a transaction that is rolled back)."
    )
    max_degradation_percent: float = Field(
        default=50.0,
        ge=0,
        description="Fail validation when the query gets slower than the baseline by more than "
        "this percentage.",
    )
    min_delta_ms: float = Field(
        default=0.5,
        ge=0,
        description="Noise floor: a slowdown of fewer milliseconds than this never fails, "
        "whatever the percentage.",
    )
    repeat: int = Field(
        default=5, ge=1, le=100, description="Runs per measurement; the median counts."
    )


class SecurityChecks(_Model):
    """Security checks beyond role probes."""

    require_rls_on_exposed_tables: bool = Field(
        default=False,
        description="Fail validation when a table exposed to anon/authenticated has RLS disabled.",
    )


class ValidationSpec(_Model):
    """Checks run after each migration (and after a rollback)."""

    enabled: bool = Field(
        default=True,
        description="Validate after each migration; false passes --no-validate to the engine.",
    )
    role_probes: list[RoleProbe] = Field(
        default_factory=list,
        max_length=100,
        description="Role probes: queries under SET ROLE with an expected outcome (RLS tests).",
    )
    queries: list[QueryCheck] = Field(
        default_factory=list,
        max_length=50,
        description="Queries whose plans are timed against a baseline (performance validation).",
    )
    security: SecurityChecks = Field(
        default_factory=SecurityChecks, description="Security checks beyond role probes."
    )


class RollbackSpec(_Model):
    """What to do when a migration or its validation fails."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "self.onFailure != 'Restore' || self.allowDataLoss",
                "onFailure Restore requires allowDataLoss to be true",
                ".allowDataLoss",
            )
        )
    )

    on_failure: OnFailure = Field(
        default="None",
        description="None: stop and report; Down: run down files back to the version the run "
        "started from; Restore: restore this run's backup (needs allowDataLoss and a backup).",
    )
    allow_data_loss: bool = Field(
        default=False,
        description="Acknowledge that Restore discards every write made since the backup.",
    )


class ResourceRequirements(_Model):
    """Compute resources of the Job's container (as in a Pod's resources)."""

    requests: dict[str, Quantity] | None = Field(
        default=None, description="Minimum resources, e.g. {cpu: 100m, memory: 256Mi}."
    )
    limits: dict[str, Quantity] | None = Field(
        default=None, description="Maximum resources, e.g. {memory: 512Mi}."
    )


class JobSpec(_Model):
    """How the operator's Jobs run."""

    image: Annotated[str, StringConstraints(max_length=1024)] = Field(
        default="", description="Engine image; empty uses the operator's own image."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="Image pull policy of the Job's container."
    )
    service_account_name: Annotated[
        str, StringConstraints(pattern=OPTIONAL_DNS_SUBDOMAIN_PATTERN, max_length=253)
    ] = Field(
        default="",
        description="ServiceAccount the Job runs as; empty runs without a mounted token.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="Compute resources of the Job's container."
    )
    active_deadline_seconds: int = Field(
        default=3600, ge=1, description="Seconds a Job may run before Kubernetes stops it."
    )
    ttl_seconds_after_finished: int = Field(
        default=86400,
        ge=0,
        description="Seconds a finished Job is kept (the operator must read it before then).",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Retries of a step after a transient failure (database unreachable or "
        "locked), with exponential backoff, before the run fails.",
    )
    pod_annotations: dict[str, str] | None = Field(
        default=None,
        description="Extra annotations on the Job's pod, e.g. to disable sidecar injection.",
    )
    pod_labels: dict[str, str] | None = Field(
        default=None, description="Extra labels on the Job's pod."
    )


class DatabaseMigrationSpec(_Model):
    """The desired state: which database, which migrations, up to which version, how safely."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "!has(self.phases) || size(self.phases) == 0 || "
                "self.phases.map(p, int(p.through)).max() >= int(self.targetVersion)",
                "the last phase's through must be at least spec.targetVersion",
                ".targetVersion",
            ),
            (
                "!has(self.rollback) || self.rollback.onFailure != 'Restore' || "
                "(has(self.backup) && self.backup.enabled)",
                "spec.rollback.onFailure Restore requires spec.backup.enabled",
                ".rollback.onFailure",
            ),
        )
    )

    database: DatabaseSpec = Field(description="The database to migrate.")
    source: SourceSpec = Field(description="Where the migration files come from.")
    target_version: Version = Field(
        description="Version the database should be at (digits, compared numerically). Raising "
        "it applies migrations; lowering it below status.currentVersion runs down files."
    )
    phases: list[PhaseSpec] = Field(
        default_factory=list,
        max_length=50,
        description="Contiguous version ranges, in order, each applied by its own Job. Without "
        "phases one phase named 'all' runs through the target.",
        json_schema_extra=_rules(
            (
                "self.all(p, self.exists_one(q, q.name == p.name))",
                "phase names must be unique",
            ),
            (
                "self.map(p, int(p.through)).isSorted() && "
                "self.all(p, self.exists_one(q, int(q.through) == int(p.through)))",
                "phase through versions must be strictly increasing",
            ),
        ),
    )
    backup: BackupSpec | None = Field(
        default=None, description="Backups before changes; omitted means no backup."
    )
    rehearsal: RehearsalSpec = Field(
        default_factory=RehearsalSpec, description="Rehearse upgrades on a scratch copy first."
    )
    validation: ValidationSpec = Field(
        default_factory=ValidationSpec, description="Checks run after each migration."
    )
    rollback: RollbackSpec = Field(
        default_factory=RollbackSpec, description="What to do when a migration fails."
    )
    dependency_timeout_seconds: int = Field(
        default=300,
        ge=0,
        le=86400,
        alias="dependencyTimeoutSeconds",
        description="How long a missing Secret, Secret key or ConfigMap is waited for "
        "(Progressing, reason WaitingFor...) before the resource is Stalled: in GitOps they often "
        "arrive moments later (External Secrets, Sealed Secrets, a later sync wave).",
    )
    suspend: bool = Field(
        default=False,
        description="Stop starting Jobs; a running Job is deleted (its current migration's "
        "transaction rolls back).",
    )
    job: JobSpec = Field(default_factory=JobSpec, description="How the operator's Jobs run.")

    @property
    def backup_enabled(self) -> bool:
        """True when a backup is configured, enabled and has a volume."""
        b = self.backup
        return b is not None and b.enabled and bool(b.volume_claim_name)


# --------------------------------------------------------------------------- status


class AppliedMigrationStatus(_Model):
    """A migration recorded as applied in the database."""

    version: str = Field(description="Version (the file name's leading digits).")
    name: str = Field(description="Name (the file name after the version).")
    checksum: str | None = Field(default=None, description="Checksum of the applied file.")
    applied_at: str | None = Field(default=None, description="When it was applied (RFC 3339).")


class PhaseStatus(_Model):
    """Progress of one phase of the current (or last) upgrade."""

    name: str = Field(description="Phase name from spec.phases ('all' without phases).")
    through: str = Field(description="Last version of the phase.")
    state: PhaseState = Field(description="Pending, Running, Succeeded, Failed or Skipped.")
    job: str | None = Field(default=None, description="Job that ran (or runs) this phase.")
    started_at: str | None = Field(default=None, description="When its Job started (RFC 3339).")
    completed_at: str | None = Field(default=None, description="When it ended (RFC 3339).")
    message: str | None = Field(default=None, description="What happened.")


class BackupStatus(_Model):
    """The newest backup taken by the operator."""

    file: str = Field(description="Dump file, relative to the backup volume (resource/file.dump).")
    size_bytes: int = Field(description="Size of the dump in bytes.")
    sha256: str = Field(description="SHA-256 of the dump.")
    version: str | None = Field(default=None, description="Database version when dumped.")
    completed_at: str | None = Field(default=None, description="When it finished (RFC 3339).")


MAX_WARNING_DETAILS = 20


class CheckFailureStatus(_Model):
    """One failed validation check."""

    check: str = Field(description="Check kind, e.g. rls, role-probe, object-exists.")
    target: str = Field(description="What was checked, e.g. a table or probe.")
    message: str = Field(description="Why it failed.")


class ValidationStatus(_Model):
    """Summary of the last validation."""

    passed: bool = Field(description="True when no check failed.")
    checked_at: str | None = Field(default=None, description="When it ran (RFC 3339).")
    total: int = Field(description="Checks run.")
    failed: int = Field(description="Checks failed.")
    warnings: int = Field(default=0, description="Checks with warnings.")
    failures: list[CheckFailureStatus] = Field(
        default_factory=list, description="The failed checks (possibly truncated)."
    )
    warning_details: list[CheckFailureStatus] = Field(
        default_factory=list,
        max_length=MAX_WARNING_DETAILS,
        description=f"The checks with warnings, each named (the first {MAX_WARNING_DETAILS}).",
    )


class PerformanceStatus(_Model):
    """Timing of a configured query against its baseline."""

    name: str = Field(description="Query check name.")
    baseline_ms: float | None = Field(default=None, description="Time before the migration.")
    current_ms: float | None = Field(default=None, description="Time after the migration.")
    degradation_percent: float | None = Field(default=None, description="Slowdown in percent.")
    max_degradation_percent: float | None = Field(default=None, description="Allowed slowdown.")
    passed: bool = Field(default=True, description="True when within the allowed slowdown.")


class HistoryEntry(_Model):
    """One finished operation (the last 10 are kept, oldest first)."""

    operation: Operation = Field(description="upgrade, rollback or restore.")
    from_version: str | None = Field(
        default=None, alias="from", description="Database version before."
    )
    to_version: str | None = Field(default=None, alias="to", description="Version after.")
    result: str = Field(description="Succeeded, Failed or Superseded.")
    at: str = Field(description="When it ended (RFC 3339).")
    message: str | None = Field(default=None, description="Summary.")


class Condition(_Model):
    """A kstatus-style condition (Ready, Reconciling, Stalled, BackupReady, Validated)."""

    type: str = Field(description="Condition type.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="One-word CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was computed from."
    )


class LastJob(_Model):
    """The most recent Job, and where its log is."""

    name: str = Field(description="Job name.")
    step: str = Field(description="Step: backup, rehearse, migrate-N, down or restore.")
    log_hint: str = Field(description="Command that shows the Job's log.")


class RunStepRecord(_Model):
    """A step of the run whose Job result has been recorded (exactly once)."""

    step: str = Field(description="Step name: backup, rehearse, migrate-N, down or restore.")
    job: str = Field(description="Job whose result this is.")
    succeeded: bool = Field(description="Whether the step succeeded.")
    reason: str = Field(description="Condition reason of the outcome.")
    message: str | None = Field(default=None, description="Outcome summary.")
    applied: int = Field(default=0, description="Migrations applied by the step.")
    reverted: int = Field(default=0, description="Migrations reverted by the step.")
    completed_at: str | None = Field(default=None, description="When recorded (RFC 3339).")


class RunFailure(_Model):
    """The failure that ended the run's forward progress."""

    step: str = Field(description="Step that failed.")
    job: str | None = Field(default=None, description="Job that failed.")
    reason: str = Field(description="Condition reason.")
    message: str = Field(description="Error, with where to read the Job's log.")
    version: str | None = Field(
        default=None, description="Database version right after the failure, when known."
    )


class PlannedStep(_Model):
    """A step of a run, fixed when the run starts (so a changed spec cannot reshape it)."""

    step: str = Field(description="Step name: backup, rehearse, migrate-N, down or restore.")
    target: str | None = Field(default=None, description="Version the step works toward.")
    phase: str | None = Field(default=None, description="Phase name, for migrate-N steps.")


class RunState(_Model):
    """The operator's memory of the run toward status.targetVersion (restart-safe)."""

    generation: int = Field(description="metadata.generation this run serves.")
    retry: int = Field(
        default=0, description="Manual retries of this generation (part of Job names)."
    )
    operation: RunOperation = Field(description="upgrade or rollback (a lowered target).")
    state: RunOutcome = Field(description="Running, Succeeded, Failed or Superseded.")
    start_version: str | None = Field(
        default=None, description="Database version when the run started, when known."
    )
    target_version: str = Field(description="Version this run works toward.")
    plan: list[PlannedStep] = Field(
        default_factory=list, description="Steps planned at the start, in order."
    )
    on_failure: OnFailure = Field(default="None", description="spec.rollback.onFailure at start.")
    completed: list[RunStepRecord] = Field(
        default_factory=list, description="Steps whose results are recorded."
    )
    attempt: int = Field(default=0, description="Attempt of the current step (transient retries).")
    retry_after: str | None = Field(
        default=None, description="No new attempt before this time (RFC 3339)."
    )
    last_error: str | None = Field(default=None, description="Last transient error.")
    last_reason: str | None = Field(
        default=None, description="The reason of the last transient error (e.g. Interrupted)."
    )
    failure: RunFailure | None = Field(default=None, description="The failure, if any.")
    backup_file: str | None = Field(
        default=None, description="This run's backup, relative to the volume (for Restore)."
    )
    retry_token: str | None = Field(
        default=None, description="Value of the dbmigrator.io/retry annotation at start."
    )
    source_digest: str | None = Field(
        default=None, description="Digest of the migration source at start."
    )
    started_at: str | None = Field(default=None, description="When the run started (RFC 3339).")
    finished_at: str | None = Field(default=None, description="When it ended (RFC 3339).")


class DatabaseMigrationStatus(_Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation whose outcome this status reports."
    )
    phase: Phase | None = Field(
        default=None,
        description="Pending, BackingUp, Rehearsing, Migrating, Validating, RollingBack, "
        "Succeeded, Failed or Suspended.",
    )
    current_version: str | None = Field(
        default=None, description="Highest version applied to the database, as last observed."
    )
    target_version: str | None = Field(
        default=None, description="Version the current (or last) run works toward."
    )
    message: str | None = Field(default=None, description="Human-readable summary.")
    applied: list[AppliedMigrationStatus] = Field(
        default_factory=list, description="Migrations applied, as reported by the engine."
    )
    phases: list[PhaseStatus] = Field(
        default_factory=list, description="Phases of the current (or last) upgrade."
    )
    backup: BackupStatus | None = Field(default=None, description="The newest backup.")
    validation: ValidationStatus | None = Field(default=None, description="Last validation.")
    performance: list[PerformanceStatus] = Field(
        default_factory=list, description="Last query timings against their baselines."
    )
    history: list[HistoryEntry] = Field(
        default_factory=list, description="The last 10 operations, oldest first."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, Reconciling, Stalled, BackupReady, Validated."
    )
    last_job: LastJob | None = Field(default=None, description="The most recent Job.")
    waiting_since: str | None = Field(
        default=None,
        alias="waitingSince",
        description="Since when this generation waits for a missing Secret or ConfigMap.",
    )
    run: RunState | None = Field(
        default=None, description="The current (or last) run: the operator's memory."
    )


def parse_spec(data: Mapping[str, Any]) -> DatabaseMigrationSpec:
    """Read a resource's `spec` (camelCase keys); raises pydantic.ValidationError when invalid."""
    return DatabaseMigrationSpec.model_validate(dict(data))


def parse_status(data: Mapping[str, Any] | None) -> DatabaseMigrationStatus:
    """Read a resource's `status`; unknown keys (e.g. written by other tools) are ignored."""
    return DatabaseMigrationStatus.model_validate(dict(data or {}))


def render_status_patch(status: DatabaseMigrationStatus) -> dict[str, Any]:
    """The status as a JSON merge patch body that replaces the stored status.

    Unset fields of objects are explicit nulls (so a merge patch deletes what was cleared);
    items of lists carry only their set fields (lists are replaced wholesale by a merge patch).
    """
    return _patch_object(status)


def _patch_object(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out[key] = _patch_object(value)
        elif isinstance(value, list):
            out[key] = [
                v.model_dump(by_alias=True, exclude_none=True) if isinstance(v, BaseModel) else v
                for v in value
            ]
        else:
            out[key] = value
    return out
