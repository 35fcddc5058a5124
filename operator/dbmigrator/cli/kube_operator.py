"""`dbmigrator operator`: the Kubernetes operator (kopf and the controller load only here)."""

from __future__ import annotations

import click

from dbmigrator import __version__

DEFAULT_IMAGE = f"ghcr.io/dbmigrator/dbmigration-operator:{__version__}"


@click.command("operator")
@click.option(
    "--namespace", "-n", "namespaces", multiple=True, help="Watch this namespace (repeatable)."
)
@click.option(
    "--all-namespaces", "-A", "all_namespaces", is_flag=True, help="Watch every namespace."
)
@click.option(
    "--kubeconfig", envvar="KUBECONFIG", default=None, help="Outside a cluster: the kubeconfig."
)
@click.option(
    "--job-image",
    envvar="DBMIGRATOR_JOB_IMAGE",
    default=DEFAULT_IMAGE,
    show_default=True,
    help="Image of the Jobs (the operator's own image) unless spec.job.image says otherwise.",
)
@click.option(
    "--job-image-pull-policy",
    envvar="DBMIGRATOR_JOB_IMAGE_PULL_POLICY",
    default=None,
    type=click.Choice(["Always", "IfNotPresent", "Never"]),
    help="Default imagePullPolicy of the Jobs (spec.job.imagePullPolicy wins).",
)
@click.option(
    "--job-service-account",
    envvar="DBMIGRATOR_JOB_SERVICE_ACCOUNT",
    default="",
    help="Default ServiceAccount of the Jobs (spec.job.serviceAccountName wins).",
)
@click.option(
    "--job-resources",
    envvar="DBMIGRATOR_JOB_RESOURCES",
    default="",
    help='Default resources of the Jobs as JSON, e.g. {"limits": {"memory": "512Mi"}}.',
)
@click.option(
    "--allowed-job-images",
    envvar="DBMIGRATOR_ALLOWED_JOB_IMAGES",
    default="",
    help="Comma-separated images a resource may name in spec.job.image besides --job-image; "
    "an entry ending in / : or @ is a prefix, any other must match exactly (default: none).",
)
@click.option(
    "--allowed-source-images",
    envvar="DBMIGRATOR_ALLOWED_SOURCE_IMAGES",
    default="",
    help="Comma-separated images allowed in spec.source.image.reference, same rules "
    "(default: none: migrations come from ConfigMaps).",
)
@click.option(
    "--allowed-job-service-accounts",
    envvar="DBMIGRATOR_ALLOWED_JOB_SERVICE_ACCOUNTS",
    default="",
    help="Comma-separated ServiceAccounts a resource may name in spec.job.serviceAccountName "
    "besides --job-service-account (default: none).",
)
@click.option(
    "--metrics-port",
    envvar="DBMIGRATOR_METRICS_PORT",
    type=int,
    default=8080,
    show_default=True,
    help="Prometheus /metrics port (0: off).",
)
@click.option(
    "--liveness-port",
    envvar="DBMIGRATOR_LIVENESS_PORT",
    type=int,
    default=8081,
    show_default=True,
    help="kopf liveness endpoint http://0.0.0.0:PORT/healthz (0: off).",
)
@click.option(
    "--peering",
    envvar="DBMIGRATOR_PEERING",
    default=None,
    help="kopf peering name: replicas with the same name never both act.",
)
@click.option("--standalone", is_flag=True, help="No peering (a single replica).")
@click.option(
    "--priority",
    envvar="DBMIGRATOR_PRIORITY",
    type=int,
    default=None,
    help="Peering priority; default: random, so one of several replicas acts and the "
    "others stand by (equal priorities would pause them all).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="DBMIGRATOR_LOG_FORMAT",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    envvar="DBMIGRATOR_LOG_LEVEL",
)
@click.option("--verbose", "-v", is_flag=True, help="Same as --log-level debug.")
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    kubeconfig: str | None,
    job_image: str,
    job_image_pull_policy: str | None,
    job_service_account: str,
    job_resources: str,
    allowed_job_images: str,
    allowed_source_images: str,
    allowed_job_service_accounts: str,
    metrics_port: int,
    liveness_port: int,
    peering: str | None,
    standalone: bool,
    priority: int | None,
    log_format: str,
    log_level: str,
    verbose: bool,
) -> None:
    """Run the Kubernetes operator for DatabaseMigration resources."""
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace NS (repeatable) or --all-namespaces")
    # kopf and the Kubernetes client load only for this command.
    from dbmigrator.controller.main import BadSetting, OperatorSettings
    from dbmigrator.controller.main import run as run_operator

    try:
        run_operator(OperatorSettings(
            namespaces=namespaces, all_namespaces=all_namespaces, kubeconfig=kubeconfig,
            job_image=job_image, job_image_pull_policy=job_image_pull_policy,
            job_service_account=job_service_account, job_resources=job_resources,
            allowed_job_images=allowed_job_images, allowed_source_images=allowed_source_images,
            allowed_job_service_accounts=allowed_job_service_accounts,
            metrics_port=metrics_port, liveness_port=liveness_port, peering=peering,
            standalone=standalone, priority=priority, log_format=log_format,
            log_level="debug" if verbose else log_level,
        ))  # fmt: skip
    except BadSetting as exc:
        raise click.BadParameter(exc.message, param_hint=exc.option) from None
