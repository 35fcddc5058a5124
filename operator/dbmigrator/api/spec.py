"""The `spec` of a `DatabaseMigration`: what the user asks for (the CRD's source of truth).

Every field carries a description, which `api/crd.py` renders into the CRD so `kubectl explain`
is useful. What only the operator can judge lives in `controller/checks.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from dbmigrator.api.checks import ChecksConfig
from dbmigrator.api.fields import (
    CONFIG_KEY_PATTERN,
    OPTIONAL_DNS_SUBDOMAIN_PATTERN,
    ApiModel,
    DnsLabel,
    DnsSubdomain,
    OnFailure,
    Quantity,
    Version,
    cel_rules,
)


class SecretKeyRef(ApiModel):
    """A key of a Secret in the resource's namespace."""

    name: DnsSubdomain = Field(description="Name of the Secret in the resource's namespace.")
    key: Annotated[str, StringConstraints(pattern=CONFIG_KEY_PATTERN, max_length=253)] = Field(
        default="uri", description="Key in the Secret whose value is the postgresql:// URI."
    )


class DatabaseSpec(ApiModel):
    """Where the database is. The URI is only ever read from a Secret, never written inline."""

    secret_ref: SecretKeyRef = Field(
        description="Secret key holding the database URI (a postgresql:// URI). Jobs receive "
        "it as the DATABASE_URL environment variable via secretKeyRef; it never appears in "
        "arguments, status, Events or logs."
    )


class ConfigMapSource(ApiModel):
    """Migrations stored as keys of a ConfigMap."""

    name: DnsSubdomain = Field(
        description="Name of the ConfigMap whose keys are NNN_name.sql and NNN_name.down.sql files."
    )


class ImageSource(ApiModel):
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


class SourceSpec(ApiModel):
    """Where the migration files come from: exactly one of configMap or image."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
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


class PhaseSpec(ApiModel):
    """A contiguous range of versions applied by one Job: after the previous phase, to through."""

    name: DnsLabel = Field(description="Phase name (a DNS label), shown in status and Events.")
    through: Version = Field(
        description="Last version of this phase (digits, compared numerically). Must be a version "
        "present in the source, greater than the previous phase's."
    )


class BackupSpec(ApiModel):
    """A pg_dump before any migration or rollback runs."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
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


class RehearsalSpec(ApiModel):
    """Restore a fresh backup into a scratch database and migrate it first."""

    enabled: bool = Field(
        default=False,
        description="Rehearse each upgrade on a scratch copy before touching the database "
        "(the database role needs CREATEDB).",
    )


class SafetySpec(ApiModel):
    """The gate before anything runs: each run first computes its plan (files, checksums, hash,
    lint findings, live-schema drift), then waits for a human when the plan needs one."""

    review: Literal["Never", "OnWarning", "OnError", "Always"] = Field(
        default="OnError",
        description="When a plan waits in phase AwaitingApproval for the annotation "
        "dbmigrator.io/approve-plan=<status.plan.hash>: Never; OnWarning (any lint finding); "
        "OnError (a lint finding of level error, e.g. a non-concurrent index on an existing "
        "table or a column type change); Always. Rollbacks go through the same gate.",
    )
    drift: Literal["Fail", "Warn", "Ignore"] = Field(
        default="Warn",
        description="Changes to the live schema made outside migrations since the last run: "
        "Fail stops the run (reason SchemaDriftDetected); Warn reports them (status.plan.drift, a "
        "Warning Event) and goes on; Ignore does not look. With review Never and drift Ignore "
        "no plan step runs.",
    )


class RollbackSpec(ApiModel):
    """What to do when a migration or its validation fails."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
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


class ResourceRequirements(ApiModel):
    """Compute resources of the Job's container (as in a Pod's resources)."""

    requests: dict[str, Quantity] | None = Field(
        default=None, description="Minimum resources, e.g. {cpu: 100m, memory: 256Mi}."
    )
    limits: dict[str, Quantity] | None = Field(
        default=None, description="Maximum resources, e.g. {memory: 512Mi}."
    )


class JobSpec(ApiModel):
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


class DatabaseMigrationSpec(ApiModel):
    """The desired state: which database, which migrations, up to which version, how safely."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
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
        json_schema_extra=cel_rules(
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
    validation: ChecksConfig = Field(
        default_factory=ChecksConfig,
        description="Checks run after each migration; the shape of the engine's checks file.",
    )
    rollback: RollbackSpec = Field(
        default_factory=RollbackSpec, description="What to do when a migration fails."
    )
    safety: SafetySpec = Field(
        default_factory=SafetySpec,
        description="The plan step and its gate: approval of the exact plan, drift checks.",
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
    def plan_step_enabled(self) -> bool:
        """True when every run starts with a plan step (the gate needs it)."""
        return self.safety.review != "Never" or self.safety.drift != "Ignore"

    @property
    def backup_enabled(self) -> bool:
        """True when a backup is configured, enabled and has a volume."""
        b = self.backup
        return b is not None and b.enabled and bool(b.volume_claim_name)


def parse_spec(data: Mapping[str, Any]) -> DatabaseMigrationSpec:
    """Read a resource's `spec` (camelCase keys); raises pydantic.ValidationError when invalid."""
    return DatabaseMigrationSpec.model_validate(dict(data))
