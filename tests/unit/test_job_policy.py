"""The confused-deputy guard: a resource may only choose the images and ServiceAccount the
operator's settings allow; anything else is Stalled with a named reason and no Job is created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dbmigrator.api.spec import DatabaseMigrationSpec, parse_spec
from dbmigrator.api.status import DatabaseMigrationStatus
from dbmigrator.controller.checks import image_allowed
from dbmigrator.controller.observed import JobPolicy, Observed, ResourceRef, parse_source_listing
from dbmigrator.controller.planner import plan
from dbmigrator.controller.status import plan_reconcile
from dbmigrator.controller.steps import Blocked, CreateJob

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
DEFAULT = "ghcr.io/dbmigrator/dbmigration-operator:0.1.0"
POLICY = JobPolicy(
    default_image=DEFAULT,
    allowed_job_images=("registry.example.com/dbm/", "ghcr.io/acme/engine:", "quay.io/x/y:1.0"),
    allowed_source_images=("registry.example.com/migrations/",),
    default_service_account="migrator",
    allowed_service_accounts=("vault-migrator",),
)


def spec(job: dict[str, Any] | None = None, source: dict[str, Any] | None = None) -> Any:
    return parse_spec(
        {
            "database": {"secretRef": {"name": "db"}},
            "source": source or {"configMap": {"name": "m"}},
            "targetVersion": "002",
            "job": job or {},
        }
    )


def observed(policy: JobPolicy = POLICY) -> Observed:
    return Observed(
        resource=ResourceRef("shop", "ns", "uid"),
        generation=1,
        now=NOW,
        source=parse_source_listing(["001_a.sql", "002_b.sql"]),
        policy=policy,
    )


CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None, JobPolicy, str | None, str]] = [
    ("no choice: the defaults", {}, None, POLICY, None, ""),
    ("the default image named", {"image": DEFAULT}, None, POLICY, None, ""),
    ("a registry prefix", {"image": "registry.example.com/dbm/engine:2"}, None, POLICY, None, ""),
    ("any tag of a repository", {"image": "ghcr.io/acme/engine:9"}, None, POLICY, None, ""),
    ("an exact image", {"image": "quay.io/x/y:1.0"}, None, POLICY, None, ""),
    ("a foreign image", {"image": "evil.example.com/x:1"}, None, POLICY, "ImageNotAllowed",
     "spec.job.image"),
    ("an exact entry is no prefix", {"image": "quay.io/x/y:1.0-evil"}, None, POLICY,
     "ImageNotAllowed", "spec.job.image"),
    ("a look-alike registry", {"image": "registry.example.com.evil.io/dbm/x:1"}, None, POLICY,
     "ImageNotAllowed", "spec.job.image"),
    ("another tag of the default", {"image": DEFAULT.rsplit(":", 1)[0] + ":latest"}, None,
     POLICY, "ImageNotAllowed", "spec.job.image"),
    ("default policy: only the default image", {"image": "registry.example.com/dbm/e:1"}, None,
     JobPolicy(default_image=DEFAULT), "ImageNotAllowed", "spec.job.image"),
    ("the default ServiceAccount named", {"serviceAccountName": "migrator"}, None, POLICY, None,
     ""),
    ("an allowed ServiceAccount", {"serviceAccountName": "vault-migrator"}, None, POLICY, None,
     ""),
    ("a foreign ServiceAccount", {"serviceAccountName": "argocd-server"}, None, POLICY,
     "ServiceAccountNotAllowed", "spec.job.serviceAccountName"),
    ("default policy: no ServiceAccount", {"serviceAccountName": "default"}, None, JobPolicy(),
     "ServiceAccountNotAllowed", "spec.job.serviceAccountName"),
    ("an allowed source image", {}, {"image": {"reference": "registry.example.com/migrations/s:1"}},
     POLICY, None, ""),
    ("a foreign source image", {}, {"image": {"reference": "evil.example.com/m:1"}}, POLICY,
     "ImageNotAllowed", "spec.source.image.reference"),
    ("default policy: no source image", {}, {"image": {"reference": "r/m:1"}}, JobPolicy(),
     "ImageNotAllowed", "spec.source.image.reference"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("job", "source", "policy", "reason", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_policy_decides_before_any_job(
    job: dict[str, Any],
    source: dict[str, Any] | None,
    policy: JobPolicy,
    reason: str | None,
    field: str,
) -> None:
    step = plan(spec(job, source), DatabaseMigrationStatus(), observed(policy))
    if reason is None:
        assert isinstance(step, CreateJob), step
        return
    assert isinstance(step, Blocked), step
    assert (step.reason, step.field) == (reason, field)
    assert field in step.message


def test_a_refused_image_is_stalled_with_its_reason_and_an_event() -> None:
    s: DatabaseMigrationSpec = spec({"image": "evil.example.com/x:1"})
    result = plan_reconcile(s, DatabaseMigrationStatus(), observed())
    assert isinstance(result.step, Blocked)
    conds = {c.type: (c.status, c.reason) for c in result.status.conditions}
    assert conds["Stalled"] == ("True", "ImageNotAllowed")
    assert conds["Ready"] == ("False", "ImageNotAllowed")
    assert result.status.phase == "Failed" and result.status.observed_generation == 1
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "ImageNotAllowed")]


def test_the_policy_is_checked_again_before_every_step() -> None:
    """A run started under a lax policy creates no further Job under a stricter one."""
    s = spec({"image": "registry.example.com/dbm/engine:2"})
    first = plan_reconcile(s, DatabaseMigrationStatus(), observed())
    assert isinstance(first.step, CreateJob)
    strict = plan(s, first.status, observed(JobPolicy(default_image=DEFAULT)))
    assert isinstance(strict, Blocked) and strict.reason == "ImageNotAllowed"


@pytest.mark.parametrize(
    ("image", "entries", "allowed"),
    [
        ("r.io/a/b:1", ("r.io/a/",), True),
        ("r.io/a/b:1", ("r.io/a",), False),  # no slash: an exact entry, not a prefix
        ("r.io/ab/c:1", ("r.io/a",), False),
        ("r.io/a/b@sha256:00", ("r.io/a/b@",), True),
        ("r.io/a/b:1", ("",), False),
        ("r.io/a/b:1", (), False),
    ],
)
def test_image_allowed(image: str, entries: tuple[str, ...], allowed: bool) -> None:
    assert image_allowed(image, entries) is allowed
