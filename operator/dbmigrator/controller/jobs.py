"""Pure builders of the Jobs that run the engine: names, labels, arguments, the manifest.

A Job's name is deterministic: `<resource>-g<generation>-<step>[-r<retry>][-a<attempt>]`, so a
restarted operator finds the Job it created instead of creating a second one. Steps are
`plan`, `backup`, `rehearse`, `migrate-<n>` (n = 1-based index of the phase), `down` and
`restore`.
Names and label values are kept within 63 characters (truncated, with a hash of the full name).
The database URI only ever reaches the pod through `secretKeyRef`.

Migrations shipped as an image (`spec.source.image`) reach the engine through two init
containers, because image volumes need Kubernetes 1.33+ with containerd 2.1+ and most nodes
run older runtimes: the engine image copies its static busybox into a shared emptyDir, then the
migrations image (FROM scratch is fine: no shell needed) runs that busybox to copy its files into
the Job's `migrations` emptyDir, which the engine mounts read-only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from dbmigrator.api import constants as c
from dbmigrator.api.checks import render_checks_json
from dbmigrator.api.spec import DatabaseMigrationSpec, ResourceRequirements
from dbmigrator.controller.observed import ResourceRef
from dbmigrator.controller.stepids import StepId, StepKind

_NAME_LIMIT = 63


@dataclass(frozen=True)
class JobRequest:
    """What the planner asks for: one step of a run, everything `build_job` needs beyond spec.

    `target` is the version the step works toward (--target), `backup_file` the dump to restore
    (relative to the backup volume) and `backup_sha256` its recorded hash (the engine refuses a
    dump that does not match), `on_failure` what `up` does with the phase when it fails.
    """

    step: StepId
    generation: int
    retry: int = 0
    attempt: int = 0
    target: str | None = None
    phase: str | None = None
    on_failure: Literal["stop", "down"] = "stop"
    backup_file: str | None = None
    operation: str = "upgrade"
    backup_sha256: str | None = None
    plan: tuple[str, str, str] | None = None  # (hash, from, target): run exactly that plan
    recovery: bool = False  # the down/restore that undoes a failed run

    @property
    def kind(self) -> StepKind:
        """The step's kind: backup, rehearse, migrate, down or restore."""
        return self.step.kind


def build_job_name(
    resource: str, generation: int, step: StepId, retry: int = 0, attempt: int = 0
) -> str:
    """`<resource>-g<generation>-<step>[-r<retry>][-a<attempt>]`, at most 63 characters."""
    suffix = f"-g{generation}-{step}"
    if retry:
        suffix += f"-r{retry}"
    if attempt:
        suffix += f"-a{attempt}"
    return _fit(resource, _NAME_LIMIT - len(suffix)) + suffix


def build_label_value(value: str) -> str:
    """`value` as a label value (at most 63 characters, hashed when longer)."""
    return _fit(value, _NAME_LIMIT)


def build_log_hint(job_name: str, namespace: str) -> str:
    """The command that shows a Job's log."""
    return f"kubectl logs job/{job_name} -n {namespace}"


def backup_relative_path(path: str) -> str:
    """A dump path inside the container made relative to the backup volume (/backups/x -> x)."""
    prefix = c.BACKUPS_DIR.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else path.lstrip("/")


def build_labels(resource: str, request: JobRequest) -> dict[str, str]:
    """The labels of a Job and its pod."""
    return {
        c.LABEL_NAME: c.APP_NAME,
        c.LABEL_INSTANCE: build_label_value(resource),
        c.LABEL_COMPONENT: request.kind,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_GENERATION: str(request.generation),
        c.LABEL_STEP: str(request.step),
        c.LABEL_RETRY: str(request.retry),
        c.LABEL_ATTEMPT: str(request.attempt),
    }


def build_args(request: JobRequest, spec: DatabaseMigrationSpec, resource: str) -> list[str]:
    """The `dbmigrator` arguments of a step (never the database URI)."""
    kind = request.kind
    tail = ["--output", "json", "--termination-log", c.TERMINATION_LOG]
    if kind == "backup":
        keep = spec.backup.keep if spec.backup else 5
        return ["backup", "--out", f"{c.BACKUPS_DIR}/{resource}", "--keep", str(keep), *tail]
    if kind == "restore":
        if not request.backup_file:
            raise ValueError("a restore step needs backup_file")
        source = f"{c.BACKUPS_DIR}/{request.backup_file}"
        verify = ["--expect-sha256", request.backup_sha256] if request.backup_sha256 else []
        return ["restore", "--from", source, *verify, "--yes", *tail]
    if not request.target:
        raise ValueError(f"step {request.step} needs a target version")
    args = [request.step.facts.command, "--dir", c.MIGRATIONS_DIR, "--target", request.target]
    if kind == "plan":
        down = ["--down"] if request.operation == "rollback" else []
        return [*args, *down, *tail]
    if kind == "migrate":
        args += ["--on-failure", request.on_failure]
    if kind in ("migrate", "down"):
        # spec.safety.drift again right before the change (the plan step saw it first); a
        # recovery down after a failure undoes whatever the schema looks like.
        drift = "ignore" if request.recovery else spec.safety.drift.lower()
        args += ["--drift", drift]
    if request.plan is not None:
        plan_hash, plan_from, plan_target = request.plan
        args += ["--expect-plan", plan_hash, "--plan-from", plan_from, "--plan-target", plan_target]
    if not spec.validation.enabled:
        args.append("--no-validate")
    return [*args, *tail]


@dataclass(frozen=True)
class JobDefaults:
    """Operator-wide defaults for `spec.job` (the chart's `jobDefaults`); the resource wins."""

    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    service_account_name: str = ""
    resources: ResourceRequirements | None = None


def parse_job_resources(text: str) -> ResourceRequirements | None:
    """`{"requests": {...}, "limits": {...}}` as JSON (empty or `{}`: none); ValueError if bad."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        parsed = ResourceRequirements.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"not a resources object (JSON with requests/limits): {exc}") from None
    return parsed if (parsed.requests or parsed.limits) else None


def apply_job_defaults(spec: DatabaseMigrationSpec, defaults: JobDefaults) -> DatabaseMigrationSpec:
    """`spec` with the operator's defaults filled in where `spec.job` leaves a field empty."""
    job = spec.job
    update: dict[str, Any] = {}
    if not job.image_pull_policy and defaults.image_pull_policy:
        update["image_pull_policy"] = defaults.image_pull_policy
    if not job.service_account_name and defaults.service_account_name:
        update["service_account_name"] = defaults.service_account_name
    empty = job.resources is None or not (job.resources.requests or job.resources.limits)
    if empty and defaults.resources is not None:  # `resources: {}` would run BestEffort
        update["resources"] = defaults.resources
    if not update:
        return spec
    return spec.model_copy(update={"job": job.model_copy(update=update)})


def build_job(
    request: JobRequest,
    spec: DatabaseMigrationSpec,
    owner: ResourceRef,
    default_image: str,
) -> dict[str, Any]:
    """The Job manifest (batch/v1) for one step, owned by the DatabaseMigration."""
    name = build_job_name(
        owner.name, request.generation, request.step, request.retry, request.attempt
    )
    labels = build_labels(owner.name, request)
    annotations = {c.ANNOTATION_OPERATION: request.operation}
    if request.target:
        annotations[c.ANNOTATION_TARGET] = request.target
    if request.phase:
        annotations[c.ANNOTATION_PHASE] = request.phase
    volumes, mounts = _volumes(request, spec)
    image = spec.job.image or default_image
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": c.RUN_AS_ID,
            "runAsGroup": c.RUN_AS_ID,
            "fsGroup": c.RUN_AS_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(request, spec, owner, image, mounts)],
        "volumes": volumes,
    }
    if spec.source.image is not None and any(m["name"] == "migrations" for m in mounts):
        pod_spec["initContainers"] = build_image_source_copiers(spec, image)
    if spec.job.service_account_name:
        pod_spec["serviceAccountName"] = spec.job.service_account_name
    else:
        pod_spec["automountServiceAccountToken"] = False
    pod_meta: dict[str, Any] = {"labels": {**(spec.job.pod_labels or {}), **labels}}
    if spec.job.pod_annotations:
        pod_meta["annotations"] = dict(spec.job.pod_annotations)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": owner.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": c.KIND,
                    "name": owner.name,
                    "uid": owner.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.job.active_deadline_seconds,
            "ttlSecondsAfterFinished": spec.job.ttl_seconds_after_finished,
            "template": {"metadata": pod_meta, "spec": pod_spec},
        },
    }


_RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
_TOOLS_DIR = "/dbm-tools"
_BUSYBOX = "/bin/busybox"  # Debian's busybox-static in the engine image (see the Dockerfile)


def build_image_source_copiers(spec: DatabaseMigrationSpec, engine_image: str) -> list[Any]:
    """The init containers that copy `spec.source.image`'s files into the `migrations` volume."""
    source = spec.source.image
    if source is None:
        raise ValueError("spec.source.image is not set")
    tools = {"name": "dbm-tools", "mountPath": _TOOLS_DIR}
    copy_from = source.path.rstrip("/") or "/"
    return [
        {
            "name": "copy-busybox",
            "image": engine_image,
            "command": ["cp", _BUSYBOX, f"{_TOOLS_DIR}/busybox"],
            "volumeMounts": [tools],
            "securityContext": dict(_RESTRICTED),
            **(
                {"imagePullPolicy": spec.job.image_pull_policy}
                if spec.job.image_pull_policy
                else {}
            ),
        },
        {
            "name": "copy-migrations",
            "image": source.reference,
            "imagePullPolicy": source.pull_policy,
            # `cp -R DIR/. DEST` copies the directory's contents; a missing DIR fails the Job
            # with busybox's message in the init container's log.
            "command": [
                f"{_TOOLS_DIR}/busybox",
                "cp",
                "-R",
                f"{copy_from}/.",
                f"{c.MIGRATIONS_DIR}/",
            ],
            "volumeMounts": [
                {**tools, "readOnly": True},
                {"name": "migrations", "mountPath": c.MIGRATIONS_DIR},
            ],
            "securityContext": dict(_RESTRICTED),
        },
    ]


def _container(
    request: JobRequest,
    spec: DatabaseMigrationSpec,
    owner: ResourceRef,
    image: str,
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    ref = spec.database.secret_ref
    env: list[dict[str, Any]] = [
        {
            "name": c.ENV_DATABASE_URL,
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        },
        {"name": c.ENV_APPLICATION_NAME, "value": f"dbmigrator-{owner.namespace}-{owner.name}"},
        {"name": "HOME", "value": c.TMP_DIR},
    ]
    validation = spec.validation
    checks = request.kind in ("rehearse", "migrate", "down") and (
        validation.enabled or bool(validation.drift.exclude)
    )
    if checks or request.kind == "plan":  # the plan step lints and checks drift with them
        # spec.validation is the checks file's model (api/checks.py): the Job reads it back
        env.append({"name": c.ENV_CHECKS_JSON, "value": render_checks_json(validation)})
    if any(m["name"] == "backups" for m in mounts):
        env.append({"name": c.ENV_BACKUP_ROOT, "value": c.BACKUPS_DIR})
    container: dict[str, Any] = {
        "name": c.CONTAINER_NAME,
        "image": image,
        "command": list(c.COMMAND),
        "args": build_args(request, spec, owner.name),
        "env": env,
        "volumeMounts": mounts,
        "terminationMessagePath": c.TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": dict(_RESTRICTED),
    }
    if spec.job.image_pull_policy:
        container["imagePullPolicy"] = spec.job.image_pull_policy
    resources = spec.job.resources
    if resources is not None and (resources.requests or resources.limits):
        container["resources"] = {
            key: {k: str(v) for k, v in values.items()}
            for key, values in (("requests", resources.requests), ("limits", resources.limits))
            if values
        }
    return container


def _volumes(
    request: JobRequest, spec: DatabaseMigrationSpec
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if request.kind in ("plan", "rehearse", "migrate", "down"):
        mount: dict[str, Any] = {
            "name": "migrations",
            "mountPath": c.MIGRATIONS_DIR,
            "readOnly": True,
        }
        source = spec.source
        if source.config_map is not None:
            volumes.append({"name": "migrations", "configMap": {"name": source.config_map.name}})
        elif source.image is not None:
            # Filled by the init containers (build_image_source_copiers); at most the files.
            volumes.append({"name": "migrations", "emptyDir": {}})
            volumes.append({"name": "dbm-tools", "emptyDir": {"sizeLimit": "16Mi"}})
        else:
            raise ValueError("spec.source needs configMap or image")
        mounts.append(mount)
    claim = spec.backup.volume_claim_name if spec.backup else None
    if (spec.backup_enabled and request.kind != "plan") or request.kind in ("backup", "restore"):
        if not claim:
            raise ValueError(f"step {request.step} needs spec.backup.volumeClaimName")
        volumes.append({"name": "backups", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": "backups", "mountPath": c.BACKUPS_DIR})
    volumes.append({"name": "tmp", "emptyDir": {}})
    mounts.append({"name": "tmp", "mountPath": c.TMP_DIR})
    return volumes, mounts


def _fit(value: str, limit: int) -> str:
    """`value` if it fits in `limit`, else a prefix plus 8 hex digits of its SHA-256."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    head = value[: max(limit - 9, 1)].rstrip("-.")
    return f"{head}-{digest}"
