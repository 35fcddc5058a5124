"""The node agent's pure pod translation: $(VAR) expansion, env resolution, path rewriting,
command resolution and volume file planning (no cluster, no processes)."""

from __future__ import annotations

from typing import Any

import pytest

from localcluster.podspec import (
    CannotRunError,
    HostContext,
    MissingObjectError,
    Mount,
    PodObjects,
    build_argv,
    build_mounts,
    build_process,
    expand_vars,
    image_repository,
    is_project_image,
    plan_volume_files,
    referenced_objects,
    resolve_env,
    resolve_executable,
    rewrite_paths,
)

POD: dict[str, Any] = {
    "metadata": {
        "name": "job-abc",
        "namespace": "db",
        "uid": "u-1",
        "labels": {"app": "mig"},
    },
    "spec": {"nodeName": "local-node", "serviceAccountName": "runner"},
}
OBJECTS = PodObjects(
    secrets={"creds": {"password": b"pw", "user": b"admin"}},
    config_maps={"cfg": {"LEVEL": b"debug", "bad-key!": b"x"}},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "1"),
        ("x$(A)y$(B)", "x1y2"),
        ("$(MISSING)", "$(MISSING)"),
        ("$$(A)", "$(A)"),
        ("$$", "$"),
        ("$(A", "$(A"),
        ("cost $5", "cost $5"),
        ("$()", "$()"),
        ("end$", "end$"),
    ],
)
def test_expand_vars(text: str, expected: str) -> None:
    assert expand_vars(text, {"A": "1", "B": "2"}) == expected


def test_resolve_env_sources_and_order() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "creds"}, "prefix": "DB_"},
        ],
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-$(DB_user)-$(LATER)"},
            {"name": "LATER", "value": "z"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "LVL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "LEVEL"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        ],
    }
    env = resolve_env(POD, container, OBJECTS)
    assert env == {
        "LEVEL": "debug",
        "DB_password": "pw",
        "DB_user": "admin",
        "A": "a",
        "B": "a-admin-$(LATER)",
        "LATER": "z",
        "PW": "pw",
        "LVL": "debug",
        "POD": "job-abc",
        "NS": "db",
        "UID": "u-1",
        "NODE": "local-node",
        "IP": "127.0.0.1",
        "APP": "mig",
    }


def test_optional_references_are_skipped() -> None:
    container = {
        "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
        "env": [
            {
                "name": "X",
                "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nokey", "optional": True}},
            },
            {
                "name": "Y",
                "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}},
            },
        ],
    }
    assert resolve_env(POD, container, OBJECTS) == {}


@pytest.mark.parametrize(
    ("var", "message"),
    [
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
        ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
        ({"secretKeyRef": {"name": "creds", "key": "k"}}, "couldn't find key k in Secret db/creds"),
    ],
)
def test_missing_references_are_retryable_errors(var: dict[str, Any], message: str) -> None:
    with pytest.raises(MissingObjectError, match=message):
        resolve_env(POD, {"env": [{"name": "X", "valueFrom": var}]}, OBJECTS)


def test_unsupported_field_ref_cannot_run() -> None:
    container = {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}]}
    with pytest.raises(CannotRunError):
        resolve_env(POD, container, OBJECTS)


def test_referenced_objects() -> None:
    pod = {
        "spec": {
            "initContainers": [{"envFrom": [{"secretRef": {"name": "s1"}}]}],
            "containers": [
                {
                    "env": [
                        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c1", "key": "k"}}}
                    ]
                }
            ],
            "volumes": [
                {"name": "v", "secret": {"secretName": "s2"}},
                {"name": "w", "configMap": {"name": "c2"}},
                {"name": "e", "emptyDir": {}},
            ],
        }
    }
    assert referenced_objects(pod) == ({"s1", "s2"}, {"c1", "c2"})


MOUNTS = [
    Mount("/migrations", "/h/vol/migrations"),
    Mount("/migrations/extra", "/h/vol/extra"),
    Mount("/dev/termination-log", "/h/term/main"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/migrations", "/h/vol/migrations"),
        ("/migrations/", "/h/vol/migrations/"),
        ("/migrations/0001_init.sql", "/h/vol/migrations/0001_init.sql"),
        ("/migrations/extra/x.sql", "/h/vol/extra/x.sql"),
        ("--dir=/migrations", "--dir=/h/vol/migrations"),
        ("--termination-log=/dev/termination-log", "--termination-log=/h/term/main"),
        ("echo hi > /dev/termination-log", "echo hi > /h/term/main"),
        (
            "cat '/migrations/a' \"/migrations/b\"",
            "cat '/h/vol/migrations/a' \"/h/vol/migrations/b\"",
        ),
        ("PATHS=/migrations:/other", "PATHS=/h/vol/migrations:/other"),
        ("/migrations2", "/migrations2"),
        ("/data/migrations", "/data/migrations"),
        ("x/migrations", "x/migrations"),
        ("/migrations.bak", "/migrations.bak"),
        ("/dev/termination-log-2", "/dev/termination-log-2"),
        ("postgres://u:p@host/migrations", "postgres://u:p@host/migrations"),
        ("nothing here", "nothing here"),
    ],
)
def test_rewrite_paths(text: str, expected: str) -> None:
    assert rewrite_paths(text, MOUNTS) == expected


def test_rewrite_is_a_single_pass() -> None:
    mounts = [Mount("/a", "/b"), Mount("/b", "/c")]
    assert rewrite_paths("/a /b", mounts) == "/b /c"


def test_build_mounts_with_sub_path_and_custom_termination_path() -> None:
    container = {
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/app/"},
            {"name": "data", "mountPath": "/data", "subPath": "pg"},
        ],
        "terminationMessagePath": "/run/app/msg",
    }
    mounts = build_mounts(container, {"cfg": "/h/cfg", "data": "/h/data"}, "/h/term")
    assert mounts == [
        Mount("/etc/app", "/h/cfg"),
        Mount("/data", "/h/data/pg"),
        Mount("/run/app/msg", "/h/term"),
    ]


def test_build_mounts_default_termination_path() -> None:
    assert build_mounts({}, {}, "/h/t") == [Mount("/dev/termination-log", "/h/t")]


@pytest.mark.parametrize(
    ("image", "repo", "ours"),
    [
        ("ghcr.io/acme/dbmigration-operator:0.1.0", "ghcr.io/acme/dbmigration-operator", True),
        ("dbmigration-operator", "dbmigration-operator", True),
        (
            "localhost:5000/dbmigration-operator@sha256:abc",
            "localhost:5000/dbmigration-operator",
            True,
        ),
        ("busybox:1.37", "busybox", False),
        ("localhost:5000/other", "localhost:5000/other", False),
        ("dbmigration-operator-tools:1", "dbmigration-operator-tools", False),
    ],
)
def test_image_repository(image: str, repo: str, ours: bool) -> None:
    assert image_repository(image) == repo
    assert is_project_image(image) is ours


def test_build_argv_expands_and_rewrites() -> None:
    container = {
        "name": "m",
        "image": "busybox",
        "command": ["sh", "-c"],
        "args": ["ls $(DIR) > /dev/termination-log", "$(UNSET)"],
    }
    argv = build_argv(container, {"DIR": "/migrations"}, MOUNTS)
    assert argv == ["sh", "-c", "ls /h/vol/migrations > /h/term/main", "$(UNSET)"]


def test_build_argv_project_image_defaults_to_dbmigrator() -> None:
    container = {
        "name": "m",
        "image": "dbmigration-operator:dev",
        "args": ["up", "--dir=/migrations"],
    }
    assert build_argv(container, {}, MOUNTS) == ["dbmigrator", "up", "--dir=/h/vol/migrations"]


def test_build_argv_refuses_unknown_entrypoint() -> None:
    with pytest.raises(CannotRunError, match="has no command"):
        build_argv({"name": "m", "image": "postgres:17"}, {}, MOUNTS)


def fake_which(name: str, path: str) -> str | None:
    return f"/usr/bin/{name}" if name in ("sh", "python3") else None


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("dbmigrator", "/repo/.venv/bin/dbmigrator"),
        ("/usr/local/bin/dbmigrator", "/repo/.venv/bin/dbmigrator"),
        ("/app/.venv/bin/dbmigrator", "/repo/.venv/bin/dbmigrator"),
        ("sh", "/usr/bin/sh"),
        ("/bin/sh", "/bin/sh"),
        ("/usr/local/bin/python3", "/usr/bin/python3"),
    ],
)
def test_resolve_executable(argv0: str, expected: str) -> None:
    exists = {"/bin/sh"}.__contains__
    assert (
        resolve_executable(argv0, "/repo/.venv/bin/dbmigrator", "P", fake_which, exists) == expected
    )


def test_resolve_executable_not_found() -> None:
    with pytest.raises(CannotRunError, match="not found"):
        resolve_executable("psql", "/d", "P", fake_which, lambda p: False)


def test_build_process_env_cwd_and_termination_log() -> None:
    container = {
        "name": "m",
        "image": "dbmigration-operator:1",
        "command": ["/usr/local/bin/dbmigrator"],
        "args": ["migrate", "--termination-log", "/dev/termination-log"],
        "workingDir": "/migrations",
        "env": [
            {"name": "MIGRATIONS", "value": "/migrations/extra"},
            {"name": "PATH", "value": "/opt/bin"},
        ],
    }
    host = HostContext(
        dbmigrator="/repo/.venv/bin/dbmigrator",
        home="/h/home",
        default_cwd="/h/pod",
        extra_path="/repo/.venv/bin",
        extra_env={"LOCALCLUSTER_OWNER": "/state"},
        which=fake_which,
        exists=lambda p: p == "/h/vol/migrations",
    )
    spec = build_process(POD, container, OBJECTS, MOUNTS, host)
    assert spec.argv == (
        "/repo/.venv/bin/dbmigrator",
        "migrate",
        "--termination-log",
        "/h/term/main",
    )
    assert spec.cwd == "/h/vol/migrations"
    assert spec.termination_file == "/h/term/main"
    assert spec.env["MIGRATIONS"] == "/h/vol/extra"
    assert spec.env["DBMIGRATOR_TERMINATION_LOG"] == "/h/term/main"
    assert spec.env["PATH"].startswith("/opt/bin:/repo/.venv/bin:")
    assert spec.env["HOME"] == "/h/home"
    assert spec.env["HOSTNAME"] == "job-abc"
    assert spec.env["LANG"] == "C.UTF-8"
    assert spec.env["LOCALCLUSTER_OWNER"] == "/state"


def test_build_process_unmapped_working_dir_falls_back_to_pod_dir() -> None:
    container = {"name": "m", "image": "x", "command": ["sh"], "workingDir": "/app"}
    host = HostContext(dbmigrator="/d", home="/h", default_cwd="/h/pod", which=fake_which)
    assert build_process(POD, container, OBJECTS, MOUNTS, host).cwd == "/h/pod"


def test_plan_volume_files_all_keys_and_items() -> None:
    data = {"a.sql": b"A", "b.sql": b"B"}
    assert plan_volume_files({"name": "cm"}, data) == [
        ("a.sql", b"A", 0o644),
        ("b.sql", b"B", 0o644),
    ]
    source = {"defaultMode": 0o755, "items": [{"key": "b.sql", "path": "sub/b.sql", "mode": 0o600}]}
    assert plan_volume_files(source, data) == [("sub/b.sql", b"B", 0o600)]
    assert plan_volume_files({"optional": True}, None) == []
    with pytest.raises(MissingObjectError):
        plan_volume_files({"items": [{"key": "zz", "path": "z"}]}, data)
    with pytest.raises(CannotRunError):
        plan_volume_files({"items": [{"key": "a.sql", "path": "../escape"}]}, data)
