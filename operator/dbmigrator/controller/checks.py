"""Input checks before a run starts: what the user must fix becomes a Blocked step.

Only what the CRD schema cannot judge: the images and ServiceAccount the resource asks for are
allowed by the operator's policy (the confused-deputy guard: the operator creates pods with its
own rights, so a resource may only choose what the operator's settings allow); the Secret, its
key and the ConfigMap exist; the target, every phase boundary and (for rollbacks) every down
file exist in the source; phases increase and reach the target. Each Blocked names the
offending spec field.
"""

from __future__ import annotations

from dbmigrator.api.conditions import Reason
from dbmigrator.api.spec import DatabaseMigrationSpec
from dbmigrator.api.status import DatabaseMigrationStatus
from dbmigrator.controller.observed import JobPolicy, Observed, SourceListing
from dbmigrator.controller.runs import vint
from dbmigrator.controller.steps import Blocked


def image_allowed(image: str, entries: tuple[str, ...]) -> bool:
    """True when an entry allows `image`: entries ending in `/`, `:` or `@` are prefixes, any
    other entry must be equal (so `reg/app:1` never allows `reg/app:1-evil`)."""
    return any(
        image.startswith(entry) if entry.endswith(("/", ":", "@")) else image == entry
        for entry in entries
        if entry
    )


def check_policy(spec: DatabaseMigrationSpec, policy: JobPolicy) -> Blocked | None:
    """Refuse an image or ServiceAccount the operator's settings do not allow (no Job is made)."""
    image = spec.job.image
    if (
        image
        and image != policy.default_image
        and not image_allowed(image, policy.allowed_job_images)
    ):
        return Blocked(
            Reason.IMAGE_NOT_ALLOWED,
            f"spec.job.image {image!r} is not allowed by the operator: use its default image "
            f"or one allowed by --allowed-job-images ({_allowed(policy.allowed_job_images)})",
            "spec.job.image",
        )
    source = spec.source.image
    if source is not None and not image_allowed(source.reference, policy.allowed_source_images):
        return Blocked(
            Reason.IMAGE_NOT_ALLOWED,
            f"spec.source.image.reference {source.reference!r} is not allowed by the operator: "
            f"use a ConfigMap source or an image allowed by --allowed-source-images "
            f"({_allowed(policy.allowed_source_images)})",
            "spec.source.image.reference",
        )
    account = spec.job.service_account_name
    if (
        account
        and account != policy.default_service_account
        and account not in policy.allowed_service_accounts
    ):
        return Blocked(
            Reason.SERVICE_ACCOUNT_NOT_ALLOWED,
            f"spec.job.serviceAccountName {account!r} is not allowed by the operator: leave it "
            f"empty (no token is mounted) or use one allowed by --allowed-job-service-accounts "
            f"({_allowed(policy.allowed_service_accounts)})",
            "spec.job.serviceAccountName",
        )
    return None


def _allowed(entries: tuple[str, ...]) -> str:
    return "allowed: " + ", ".join(entries) if entries else "none allowed"


def check_inputs(spec: DatabaseMigrationSpec, observed: Observed) -> Blocked | None:
    blocked = check_policy(spec, observed.policy)
    if blocked is not None:
        return blocked
    ref = spec.database.secret_ref
    ns = observed.resource.namespace
    if not observed.secret_found:
        return Blocked(
            Reason.SECRET_NOT_FOUND,
            f"Secret {ref.name} not found in namespace {ns} (spec.database.secretRef.name)",
            "spec.database.secretRef.name",
        )
    if not observed.secret_key_found:
        return Blocked(
            Reason.SECRET_KEY_NOT_FOUND,
            f"Secret {ref.name} has no key {ref.key!r} (spec.database.secretRef.key)",
            "spec.database.secretRef.key",
        )
    cm = spec.source.config_map
    if cm is not None and not observed.config_map_found:
        return Blocked(
            Reason.CONFIG_MAP_NOT_FOUND,
            f"ConfigMap {cm.name} not found in namespace {ns} (spec.source.configMap.name)",
            "spec.source.configMap.name",
        )
    return None


def check_spec(
    spec: DatabaseMigrationSpec, status: DatabaseMigrationStatus, source: SourceListing | None
) -> Blocked | None:
    target = spec.target_version
    where = f"ConfigMap {spec.source.config_map.name}" if spec.source.config_map else "the source"
    if source is not None and vint(target) != 0 and not source.has_version(target):
        return Blocked(
            Reason.TARGET_VERSION_NOT_FOUND,
            f"spec.targetVersion {target} is not a version in {where} "
            f"(available: {_shorten(source.versions)})",
            "spec.targetVersion",
        )
    blocked = _check_phases(spec, source, where)
    if blocked is not None:
        return blocked
    current = status.current_version
    if source is not None and current is not None and vint(target) < vint(current):
        return _check_downs(source, status, target, current, "lowering spec.targetVersion")
    if source is not None and spec.rollback.on_failure == "Down":
        return _check_downs(source, status, current or "0", target, "spec.rollback.onFailure Down")
    return None


def _check_phases(
    spec: DatabaseMigrationSpec, source: SourceListing | None, where: str
) -> Blocked | None:
    seen: set[str] = set()
    previous: str | None = None
    for i, phase in enumerate(spec.phases):
        field = f"spec.phases[{i}]"
        if phase.name in seen:
            return Blocked(
                Reason.INVALID_PHASES, f"{field}.name {phase.name!r} is used twice", f"{field}.name"
            )
        seen.add(phase.name)
        if source is not None and not source.has_version(phase.through):
            return Blocked(
                Reason.INVALID_PHASES,
                f"{field}.through {phase.through} is not a version in {where}",
                f"{field}.through",
            )
        if previous is not None and vint(phase.through) <= vint(previous):
            return Blocked(
                Reason.INVALID_PHASES,
                f"{field}.through {phase.through} must be greater than "
                f"spec.phases[{i - 1}].through {previous}",
                f"{field}.through",
            )
        previous = phase.through
    if spec.phases and vint(spec.phases[-1].through) < vint(spec.target_version):
        last = len(spec.phases) - 1
        return Blocked(
            Reason.INVALID_PHASES,
            f"spec.phases[{last}].through {spec.phases[-1].through} is below spec.targetVersion "
            f"{spec.target_version}: the last phase must reach the target",
            f"spec.phases[{last}].through",
        )
    return None


def _check_downs(
    source: SourceListing, status: DatabaseMigrationStatus, low: str, high: str, why: str
) -> Blocked | None:
    """Every version in (low, high] (in the source or applied) needs a down file."""
    versions = {v for v in source.versions if vint(low) < vint(v) <= vint(high)}
    versions |= {a.version for a in status.applied if vint(low) < vint(a.version) <= vint(high)}
    missing = sorted((v for v in versions if not source.has_down(v)), key=vint)
    if not missing:
        return None
    return Blocked(
        Reason.DOWN_FILE_MISSING,
        f"{why} needs down files for versions {', '.join(missing)}, which have none",
        "spec.targetVersion" if why.startswith("lowering") else "spec.rollback.onFailure",
    )


def _shorten(versions: tuple[str, ...], limit: int = 10) -> str:
    if not versions:
        return "none"
    if len(versions) <= limit:
        return ", ".join(versions)
    return ", ".join(versions[:3]) + f", ... {versions[-1]} ({len(versions)} versions)"
