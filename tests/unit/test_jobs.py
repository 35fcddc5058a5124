"""Job manifests: names, labels, arguments, security, volumes; and observing Jobs back."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from dbmigrator.api.checks import render_checks_json
from dbmigrator.api.constants import TMP_DIR
from dbmigrator.api.spec import DatabaseMigrationSpec, parse_spec
from dbmigrator.controller.jobs import (
    JobRequest,
    backup_relative_path,
    build_args,
    build_job,
    build_job_name,
    build_label_value,
)
from dbmigrator.controller.observed import (
    ResourceRef,
    digest_source,
    observe_job,
    parse_source_listing,
)
from dbmigrator.controller.stepids import KINDS, STEP_KINDS, StepId, parse_step_or_none

OWNER = ResourceRef(name="shop-db", namespace="shop", uid="1234-uid")
TAIL = ["--output", "json", "--termination-log", "/dev/termination-log"]
BASE: dict[str, Any] = {
    "database": {"secretRef": {"name": "shop-db-credentials", "key": "dsn"}},
    "source": {"configMap": {"name": "shop-migrations"}},
    "targetVersion": "008",
    "backup": {"volumeClaimName": "db-backups", "keep": 7},
    "validation": {
        "roleProbes": [{"role": "anon", "sql": "select 1", "expect": "allowed"}],
        "queries": [{"name": "q1", "sql": "select 2"}],
    },
}


def spec(**patch: Any) -> DatabaseMigrationSpec:
    return parse_spec({**BASE, **patch})


def job(request: JobRequest, s: DatabaseMigrationSpec | None = None) -> dict[str, Any]:
    return build_job(request, s or spec(), OWNER, "ghcr.io/acme/dbmigrator:1.0")


def pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec_: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec_


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod(manifest)["containers"]
    result: dict[str, Any] = only
    return result


MIGRATE = JobRequest(step=StepId.parse("migrate-2"), generation=4, target="005", phase="payments")
BACKUP = JobRequest(step=StepId.parse("backup"), generation=4, target="003")
RESTORE = JobRequest(
    step=StepId.parse("restore"), generation=4, backup_file="shop-db/db-x-003.dump"
)


# --------------------------------------------------------------------------- names


def test_job_names_are_deterministic() -> None:
    assert build_job_name("shop-db", 4, StepId.parse("migrate-2")) == "shop-db-g4-migrate-2"
    assert build_job_name("shop-db", 4, StepId.parse("backup"), retry=1) == "shop-db-g4-backup-r1"
    assert build_job_name("shop-db", 4, StepId.parse("down"), attempt=2) == "shop-db-g4-down-a2"
    assert build_job_name("shop-db", 4, StepId.parse("down"), 1, 2) == "shop-db-g4-down-r1-a2"


def test_long_names_are_truncated_and_hashed() -> None:
    a = build_job_name("a" * 60 + "-one", 12, StepId.parse("migrate-10"), 3, 4)
    b = build_job_name("a" * 60 + "-two", 12, StepId.parse("migrate-10"), 3, 4)
    assert len(a) <= 63 and len(b) <= 63 and a != b
    assert a.endswith("-g12-migrate-10-r3-a4")
    assert a == build_job_name("a" * 60 + "-one", 12, StepId.parse("migrate-10"), 3, 4)
    dotted = build_job_name("x" * 40 + "." + "y" * 40, 1, StepId.parse("backup"))
    assert len(dotted) <= 63 and "-." not in dotted and ".-" not in dotted
    assert build_label_value("short") == "short"
    assert len(build_label_value("n" * 200)) == 63


def test_step_ids_parse_and_format_in_one_place() -> None:
    texts = ("backup", "rehearse", "migrate-12", "down", "restore")
    ids = [StepId.parse(t) for t in texts]
    assert [i.kind for i in ids] == ["backup", "rehearse", "migrate", "down", "restore"]
    assert [str(i) for i in ids] == list(texts)
    assert StepId.parse("migrate-12") == StepId.migrate(12)
    assert StepId.migrate(3).phase_index == 2 and StepId("down").phase_index is None
    for bad in ("explode", "migrate", "migrate-0", "migrate-01", "migrate-x", "backup-1", ""):
        with pytest.raises(ValueError, match="unknown step"):
            StepId.parse(bad)
    with pytest.raises(ValueError, match="phase index"):
        StepId("backup", 1)
    assert parse_step_or_none("teardown") is None and parse_step_or_none(None) is None


def test_every_step_kind_has_one_row_of_facts() -> None:
    assert set(KINDS) == set(STEP_KINDS)
    assert {k: f.command for k, f in KINDS.items()} == {
        "plan": "plan", "backup": "backup", "rehearse": "rehearse", "migrate": "up",
        "down": "down", "restore": "restore",
    }  # fmt: skip
    assert [k for k, f in KINDS.items() if f.recovery] == ["down", "restore"]
    assert KINDS["migrate"].failure is None  # the engine's error kind decides


def test_args_per_step() -> None:
    s = spec()
    assert build_args(BACKUP, s, "shop-db") == [
        "backup", "--out", "/backups/shop-db", "--keep", "7", *TAIL
    ]  # fmt: skip
    rehearse = JobRequest(step=StepId.parse("rehearse"), generation=4, target="008")
    assert build_args(rehearse, s, "shop-db") == [
        "rehearse", "--dir", "/migrations", "--target", "008", *TAIL
    ]  # fmt: skip
    assert build_args(MIGRATE, s, "shop-db") == [
        "up", "--dir", "/migrations", "--target", "005", "--on-failure", "stop",
        "--drift", "warn", *TAIL
    ]  # fmt: skip
    down = JobRequest(step=StepId.parse("down"), generation=4, target="003")
    assert build_args(down, s, "shop-db") == [
        "down", "--dir", "/migrations", "--target", "003", "--drift", "warn", *TAIL
    ]  # fmt: skip
    no_checks = spec(validation={"enabled": False})
    assert "--no-validate" in build_args(down, no_checks, "shop-db")
    assert "--no-validate" in build_args(rehearse, no_checks, "shop-db")
    assert "--no-validate" not in build_args(BACKUP, no_checks, "shop-db")
    assert build_args(RESTORE, s, "shop-db") == [
        "restore", "--from", "/backups/shop-db/db-x-003.dump", "--yes", *TAIL
    ]  # fmt: skip


def test_plan_args_and_the_binding_of_later_steps_to_the_approved_plan() -> None:
    s = spec(safety={"review": "Always", "drift": "Fail"})
    plan = JobRequest(step=StepId("plan"), generation=4, target="009")
    assert build_args(plan, s, "shop-db") == [
        "plan", "--dir", "/migrations", "--target", "009", *TAIL
    ]  # fmt: skip
    lowered = JobRequest(step=StepId("plan"), generation=4, target="005", operation="rollback")
    assert build_args(lowered, s, "shop-db")[5] == "--down"
    bound = ("sha256:" + "ab" * 32, "008", "009")
    for step in ("rehearse", "migrate-1", "down"):
        request = JobRequest(step=StepId.parse(step), generation=4, target="009", plan=bound)
        args = build_args(request, s, "shop-db")
        i = args.index("--expect-plan")
        assert args[i : i + 6] == ["--expect-plan", bound[0], "--plan-from", "008",
                                   "--plan-target", "009"]  # fmt: skip
    migrate = JobRequest(step=StepId.parse("migrate-1"), generation=4, target="009")
    assert build_args(migrate, s, "shop-db")[-6:-4] == ["--drift", "fail"]
    recovery = JobRequest(step=StepId("down"), generation=4, target="008", recovery=True)
    assert build_args(recovery, s, "shop-db")[-6:-4] == ["--drift", "ignore"]
    # The plan step reads the lint settings (the checks JSON) even without validation, and
    # mounts the migrations but never the backup volume.
    job = build_job(plan, spec(validation={"enabled": False}), OWNER, "img")
    env = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    volumes = {v["name"] for v in job["spec"]["template"]["spec"]["volumes"]}
    assert "DBMIGRATOR_CHECKS_JSON" in env and "backups" not in volumes and "migrations" in volumes


def test_restore_passes_the_recorded_hash_of_the_backup() -> None:
    sha = "ab" * 32
    request = JobRequest(
        step=StepId.parse("restore"), generation=4, backup_file="shop-db/x.dump", backup_sha256=sha
    )
    args = build_args(request, spec(), "shop-db")
    assert args[args.index("--expect-sha256") + 1] == sha and args[-4:] == TAIL


def test_up_args_follow_rollback_and_validation_settings() -> None:
    request = JobRequest(
        step=StepId.parse("migrate-1"), generation=1, target="003", on_failure="down"
    )
    args = build_args(request, spec(validation={"enabled": False}), "x")
    assert args[args.index("--on-failure") + 1] == "down"
    assert "--no-validate" in args and args[-4:] == TAIL


def test_args_need_their_inputs() -> None:
    with pytest.raises(ValueError, match="backup_file"):
        build_args(JobRequest(step=StepId.parse("restore"), generation=1), spec(), "x")
    with pytest.raises(ValueError, match="target"):
        build_args(JobRequest(step=StepId.parse("migrate-1"), generation=1), spec(), "x")


def test_checks_json_has_the_engine_keys() -> None:
    """The Job gets spec.validation in the engine's camelCase keys, defaults left out (the
    engine fills them in with the same model)."""
    checks = json.loads(render_checks_json(spec().validation))
    assert set(checks) == {"roleProbes", "queries"}
    assert checks["roleProbes"] == [{"role": "anon", "sql": "select 1", "expect": "allowed"}]
    assert checks["queries"] == [{"name": "q1", "sql": "select 2"}]
    secured = spec(validation={"security": {"requireRlsOnExposedTables": True}}).validation
    assert json.loads(render_checks_json(secured)) == {
        "security": {"requireRlsOnExposedTables": True}
    }
    excluding = spec(validation={"enabled": False, "drift": {"exclude": ["audit.*"]}}).validation
    assert json.loads(render_checks_json(excluding))["drift"] == {"exclude": ["audit.*"]}


# --------------------------------------------------------------------------- manifest


def test_job_metadata_labels_and_owner() -> None:
    m = job(MIGRATE)
    meta = m["metadata"]
    assert meta["name"] == "shop-db-g4-migrate-2" and meta["namespace"] == "shop"
    assert meta["labels"] == {
        "app.kubernetes.io/name": "dbmigrator",
        "app.kubernetes.io/instance": "shop-db",
        "app.kubernetes.io/component": "migrate",
        "app.kubernetes.io/managed-by": "dbmigration-operator",
        "dbmigrator.io/generation": "4",
        "dbmigrator.io/step": "migrate-2",
        "dbmigrator.io/retry": "0",
        "dbmigrator.io/attempt": "0",
    }
    assert meta["annotations"] == {
        "dbmigrator.io/target-version": "005",
        "dbmigrator.io/phase": "payments",
        "dbmigrator.io/operation": "upgrade",
    }
    assert meta["ownerReferences"] == [
        {"apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration", "name": "shop-db",
         "uid": "1234-uid", "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert m["spec"]["template"]["metadata"]["labels"] == meta["labels"]


def test_job_runs_once_with_deadlines() -> None:
    m = job(MIGRATE, spec(job={"activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 7200}))
    assert m["spec"]["backoffLimit"] == 0
    assert m["spec"]["activeDeadlineSeconds"] == 600
    assert m["spec"]["ttlSecondsAfterFinished"] == 7200
    assert pod(m)["restartPolicy"] == "Never"


def test_pod_and_container_are_locked_down() -> None:
    m = job(MIGRATE)
    assert pod(m)["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    sc = container(m)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod(m)["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod(m)
    assert container(m)["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container(m)["command"] == ["dbmigrator"]


def test_database_uri_only_comes_from_the_secret() -> None:
    env = {e["name"]: e for e in container(job(MIGRATE))["env"]}
    assert env["DATABASE_URL"] == {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "shop-db-credentials", "key": "dsn"}},
    }
    assert env["DBMIGRATOR_APPLICATION_NAME"]["value"] == "dbmigrator-shop-shop-db"
    assert env["DBMIGRATOR_BACKUP_ROOT"]["value"] == "/backups"  # backup paths come back relative
    no_backup = {e["name"] for e in container(job(MIGRATE, spec(backup=None)))["env"]}
    assert "DBMIGRATOR_BACKUP_ROOT" not in no_backup
    assert json.loads(env["DBMIGRATOR_CHECKS_JSON"]["value"])["queries"][0]["name"] == "q1"
    for request in (MIGRATE, BACKUP, RESTORE):
        assert "postgres" not in json.dumps(job(request))


def test_checks_are_passed_only_to_steps_that_validate() -> None:
    def names(m: dict[str, Any]) -> set[str]:
        return {e["name"] for e in container(m)["env"]}

    assert "DBMIGRATOR_CHECKS_JSON" in names(job(MIGRATE))
    assert "DBMIGRATOR_CHECKS_JSON" not in names(job(BACKUP))
    assert "DBMIGRATOR_CHECKS_JSON" not in names(job(MIGRATE, spec(validation={"enabled": False})))
    # drift exclusions travel in the checks file even without validation
    excluding = spec(validation={"enabled": False, "drift": {"exclude": ["audit.*"]}})
    assert "DBMIGRATOR_CHECKS_JSON" in names(job(MIGRATE, excluding))


def _mounts(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {vm["name"]: vm for vm in container(m)["volumeMounts"]}


def _volumes(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod(m)["volumes"]}


def test_volumes_for_a_migrate_step() -> None:
    m = job(MIGRATE)
    assert _volumes(m) == {
        "migrations": {"name": "migrations", "configMap": {"name": "shop-migrations"}},
        "backups": {"name": "backups", "persistentVolumeClaim": {"claimName": "db-backups"}},
        "tmp": {"name": "tmp", "emptyDir": {}},
    }
    assert _mounts(m)["migrations"] == {
        "name": "migrations", "mountPath": "/migrations", "readOnly": True
    }  # fmt: skip
    assert _mounts(m)["backups"]["mountPath"] == "/backups"
    assert _mounts(m)["tmp"]["mountPath"] == TMP_DIR


def test_volumes_without_backup_and_for_backup_steps() -> None:
    no_backup = spec(backup=None)
    assert set(_volumes(job(MIGRATE, no_backup))) == {"migrations", "tmp"}
    assert set(_volumes(job(BACKUP))) == {"backups", "tmp"}
    assert set(_volumes(job(RESTORE))) == {"backups", "tmp"}
    with pytest.raises(ValueError, match="volumeClaimName"):
        job(BACKUP, no_backup)


def test_image_source_is_copied_out_by_init_containers() -> None:
    """Works without image volumes (containerd < 2.1): busybox from the engine image runs inside
    the migrations image (FROM scratch has no shell) and copies the files into an emptyDir."""
    s = spec(source={"image": {"reference": "ghcr.io/acme/m:1", "path": "/sql/shop/",
                               "pullPolicy": "Never"}})  # fmt: skip
    m = job(MIGRATE, s)
    assert _volumes(m)["migrations"] == {"name": "migrations", "emptyDir": {}}
    assert _mounts(m)["migrations"] == {
        "name": "migrations", "mountPath": "/migrations", "readOnly": True
    }  # fmt: skip
    busybox, copier = pod(m)["initContainers"]
    assert busybox["image"] == "ghcr.io/acme/dbmigrator:1.0"
    assert busybox["command"] == ["cp", "/bin/busybox", "/dbm-tools/busybox"]
    assert copier["image"] == "ghcr.io/acme/m:1"
    assert copier["imagePullPolicy"] == "Never"
    assert copier["command"] == ["/dbm-tools/busybox", "cp", "-R", "/sql/shop/.", "/migrations/"]
    writable = {v["name"]: v.get("readOnly", False) for v in copier["volumeMounts"]}
    assert writable == {"dbm-tools": True, "migrations": False}
    for init in (busybox, copier):
        assert init["securityContext"]["readOnlyRootFilesystem"] is True
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "initContainers" not in pod(job(BACKUP, s)), "a backup reads no migrations"
    assert "initContainers" not in pod(job(MIGRATE)), "a ConfigMap source needs no copy"


def test_image_resources_and_service_account_come_from_the_spec() -> None:
    s = spec(job={
        "image": "registry/engine:2", "imagePullPolicy": "Always", "serviceAccountName": "mig",
        "resources": {"requests": {"cpu": 1, "memory": "64Mi"}, "limits": {"memory": "1Gi"}},
        "podAnnotations": {"sidecar.istio.io/inject": "false"},
        "podLabels": {"team": "shop", "app.kubernetes.io/name": "spoofed"},
    })  # fmt: skip
    m = job(MIGRATE, s)
    assert container(m)["image"] == "registry/engine:2"
    assert container(m)["imagePullPolicy"] == "Always"
    assert container(m)["resources"] == {
        "requests": {"cpu": "1", "memory": "64Mi"}, "limits": {"memory": "1Gi"}
    }  # fmt: skip
    assert pod(m)["serviceAccountName"] == "mig"
    assert "automountServiceAccountToken" not in pod(m)
    template_meta = m["spec"]["template"]["metadata"]
    assert template_meta["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert template_meta["labels"]["team"] == "shop"
    assert template_meta["labels"]["app.kubernetes.io/name"] == "dbmigrator"  # ours win
    default = job(MIGRATE)
    assert container(default)["image"] == "ghcr.io/acme/dbmigrator:1.0"
    assert "resources" not in container(default) and "imagePullPolicy" not in container(default)


@pytest.mark.parametrize(
    "request_",
    [
        MIGRATE,
        BACKUP,
        RESTORE,
        JobRequest(step=StepId.parse("rehearse"), generation=1, target="008"),
        JobRequest(step=StepId.parse("down"), generation=1, target="0", retry=2, attempt=1),
    ],
)
def test_manifests_are_valid_batch_v1_jobs(request_: JobRequest) -> None:
    for s in (spec(), spec(source={"image": {"reference": "r/m:1"}})):
        manifest = job(request_, s)
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_backup_paths_are_made_relative_to_the_volume() -> None:
    assert backup_relative_path("/backups/shop-db/x.dump") == "shop-db/x.dump"
    assert backup_relative_path("shop-db/x.dump") == "shop-db/x.dump"
    assert backup_relative_path("/elsewhere/x.dump") == "elsewhere/x.dump"


# --------------------------------------------------------------------------- observing


def _job_dict(conditions: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shop-db-g4-migrate-2-a1",
            "labels": {"dbmigrator.io/step": "migrate-2", "dbmigrator.io/generation": "4",
                       "dbmigrator.io/attempt": "1"},
            **meta,
        },
        "status": {"startTime": "2026-11-24T22:00:00Z", "conditions": conditions},
    }  # fmt: skip


def _pod(created: str, message: str | None, code: int = 0) -> dict[str, Any]:
    terminated = {"exitCode": code, "message": message} if message is not None else None
    return {
        "metadata": {"creationTimestamp": created},
        "status": {"containerStatuses": [
            {"name": "sidecar", "state": {"terminated": {"exitCode": 0, "message": "nope"}}},
            {"name": "dbmigrator", "state": {"terminated": terminated} if terminated else {}},
        ]},
    }  # fmt: skip


def test_observe_a_running_job() -> None:
    observed = observe_job(_job_dict([]), [_pod("2026-11-24T22:00:00Z", None)])
    assert observed.state == "Active" and not observed.finished
    assert (observed.step, observed.generation, observed.attempt) == ("migrate-2", 4, 1)
    assert observed.termination_message is None


def test_observe_a_finished_job_reads_the_newest_pod() -> None:
    done = [{"type": "Complete", "status": "True"}]
    observed = observe_job(
        {**_job_dict(done), "status": {"conditions": done, "completionTime": "T2"}},
        [_pod("2026-11-24T22:01:00Z", '{"new": 1}'), _pod("2026-11-24T22:00:00Z", '{"old":1}')],
    )
    assert observed.state == "Succeeded" and observed.finished
    assert observed.termination_message == '{"new": 1}' and observed.exit_code == 0
    assert observed.completed_at == "T2"


def test_observe_a_failed_and_a_deleting_job() -> None:
    failed = [
        {"type": "FailureTarget", "status": "True"},
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
         "message": "Job was active longer than specified deadline", "lastTransitionTime": "T3"},
    ]  # fmt: skip
    observed = observe_job(_job_dict(failed, deletionTimestamp="T4"))
    assert observed.state == "Failed"
    assert observed.failure_reason == (
        "DeadlineExceeded: Job was active longer than specified deadline"
    )
    assert observed.completed_at == "T3" and observed.deleting
    # Only FailureTarget (pods still terminating) is not finished yet.
    assert observe_job(_job_dict(failed[:1])).state == "Active"
    bare = observe_job({"metadata": {"name": "x", "labels": {"dbmigrator.io/generation": "?"}}})
    assert bare.generation is None and bare.attempt == 0 and bare.state == "Active"


def test_parse_source_listing() -> None:
    listing = parse_source_listing([
        "010_ten.sql", "002_two.sql", "002_two.down.sql", "README.md", "001_one.sql",
        "010_ten.down.sql", "x_bad.sql",
    ])  # fmt: skip
    assert listing.versions == ("001", "002", "010")
    assert listing.down_versions == frozenset({"002", "010"})
    assert listing.has_version("10") and not listing.has_version("3")
    assert listing.has_down("2") and not listing.has_down("001")


def test_digest_source_is_order_independent_and_content_sensitive() -> None:
    a = digest_source({"001_a.sql": "create table a();", "002_b.sql": "x"})
    b = digest_source({"002_b.sql": "x", "001_a.sql": "create table a();"})
    assert a == b and a.startswith("sha256:")
    assert a != digest_source({"001_a.sql": "create table a ();", "002_b.sql": "x"})


def test_operator_job_defaults_fill_only_what_the_resource_leaves_empty() -> None:
    from dbmigrator.controller.jobs import JobDefaults, apply_job_defaults, parse_job_resources

    defaults = JobDefaults(
        "IfNotPresent", "migrator", parse_job_resources('{"limits": {"memory": "1Gi"}}')
    )
    filled = apply_job_defaults(spec(), defaults).job
    assert (filled.image_pull_policy, filled.service_account_name) == ("IfNotPresent", "migrator")
    assert filled.resources is not None and filled.resources.limits == {"memory": "1Gi"}
    own = spec(job={"serviceAccountName": "own", "imagePullPolicy": "Always"})
    kept = apply_job_defaults(own, defaults).job
    assert (kept.image_pull_policy, kept.service_account_name) == ("Always", "own")
    assert apply_job_defaults(spec(), JobDefaults()) == spec()
    assert parse_job_resources("") is None and parse_job_resources("{}") is None
    with pytest.raises(ValueError, match="not a resources object"):
        parse_job_resources('{"limits": 3}')


def test_an_empty_resources_object_gets_the_operator_defaults_not_best_effort() -> None:
    from dbmigrator.controller.jobs import JobDefaults, apply_job_defaults, parse_job_resources

    defaults = JobDefaults(resources=parse_job_resources('{"requests": {"memory": "256Mi"}}'))
    for job_spec in ({"resources": {}}, {"resources": {"requests": {}, "limits": {}}}):
        filled = apply_job_defaults(spec(job=job_spec), defaults)
        resources = container(job(MIGRATE, filled)).get("resources")
        assert resources == {"requests": {"memory": "256Mi"}}, job_spec
    own = spec(job={"resources": {"limits": {"memory": "2Gi"}}})
    assert apply_job_defaults(own, defaults) == own


def test_every_validation_field_of_the_crd_is_understood_by_the_engine() -> None:
    """The CRD's spec.validation and the engine's checks file are one model: what the resource
    says is what the Job reads back from DBMIGRATOR_CHECKS_JSON, field for field."""
    from dbmigrator.engine.checksfile import parse_checks

    full = spec(validation={
        "roleProbes": [{"role": "authenticated", "sql": "select 1", "expect": "allowed",
                        "claims": {"sub": "x", "role": "authenticated"}, "minRows": 1,
                        "since": "003", "name": "own-profile"}],
        "queries": [{"name": "q", "sql": "select 1", "maxDegradationPercent": 20,
                     "statementTimeout": "500ms"}],
        "security": {"requireRlsOnExposedTables": True, "exposedRoles": ["anon"]},
        "lint": {"failOn": "warning", "ignore": ["ban-char-field"]},
        "drift": {"exclude": ["public.tmp_*", "audit.*"]},
        "publications": {"supabase_realtime": ["public.presence"]},
    }).validation  # fmt: skip
    env = {e["name"]: e.get("value") for e in container(job(MIGRATE, spec()))["env"]}
    assert env["DBMIGRATOR_CHECKS_JSON"] == render_checks_json(spec().validation)
    checks = parse_checks(render_checks_json(full), "DBMIGRATOR_CHECKS_JSON")
    assert checks == full
    assert checks.queries[0].statement_timeout == "500ms"
    assert checks.security.exposed_roles == ("anon",)
