"""The operator process: settings in, kopf running. `dbmigrator operator` (cli/kube_operator.py) parses the
flags and environment into `OperatorSettings` and calls `run`; kopf and the Kubernetes client
load only here, so the engine's commands start without them.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass

import kopf

from dbmigrator.controller import handlers, kube
from dbmigrator.controller.jobs import JobDefaults, parse_job_resources
from dbmigrator.controller.observed import JobPolicy


@dataclass(frozen=True)
class OperatorSettings:
    """What `dbmigrator operator` was given (lists as the comma-separated text of a flag)."""

    namespaces: tuple[str, ...]
    all_namespaces: bool
    kubeconfig: str | None
    job_image: str
    job_image_pull_policy: str | None
    job_service_account: str
    job_resources: str
    allowed_job_images: str
    allowed_source_images: str
    allowed_job_service_accounts: str
    metrics_port: int
    liveness_port: int
    peering: str | None
    standalone: bool
    priority: int | None
    log_format: str
    """text or json"""
    log_level: str
    """debug, info, warning or error"""


class BadSetting(ValueError):
    """A setting that does not parse; `option` names the flag."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option
        self.message = message


def run(settings: OperatorSettings) -> None:
    """Configure logging, the Kubernetes client and the handlers, then run kopf until stopped.
    Raises BadSetting before anything starts."""
    try:
        resources = parse_job_resources(settings.job_resources)
    except ValueError as exc:
        raise BadSetting("--job-resources", str(exc)) from None
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig
    kube.load_config(settings.kubeconfig)
    kopf.configure(
        verbose=settings.log_level == "debug",
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN,
    )
    logging.getLogger().setLevel(settings.log_level.upper())
    handlers.install(
        handlers.OperatorConfig(
            namespaces=list(settings.namespaces) or None,
            default_image=settings.job_image,
            metrics_port=settings.metrics_port,
            job_defaults=JobDefaults(
                settings.job_image_pull_policy,  # type: ignore[arg-type]
                settings.job_service_account,
                resources,
            ),
            policy=JobPolicy(
                default_image=settings.job_image,
                allowed_job_images=_names(settings.allowed_job_images),
                allowed_source_images=_names(settings.allowed_source_images),
                default_service_account=settings.job_service_account,
                allowed_service_accounts=_names(settings.allowed_job_service_accounts),
            ),
        )
    )
    kopf.run(
        clusterwide=settings.all_namespaces,
        namespaces=list(settings.namespaces),
        standalone=settings.standalone or None,
        peering_name=settings.peering,
        priority=(
            settings.priority if settings.priority is not None else secrets.randbelow(1_000_000) + 1
        ),
        liveness_endpoint=(
            f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
        ),
    )


def _names(text: str) -> tuple[str, ...]:
    """`a, b,,c` -> ("a", "b", "c")."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
