"""The Helm chart, rendered and linted by a real helm, every object checked against its schema.

helm comes from `hack/build-helm.sh` (built once from the Go module proxy, then cached) or from
the HELM environment variable. Rendered objects are validated offline with kubernetes-validate's
bundled strict schemas; kinds it cannot know (ServiceMonitor, kopf's peerings) get structural
checks here. The RBAC rules are compared with the explicit list the chart README justifies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dbmigrator.api import constants as c

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dbmigration-operator"
KUBE_VERSION = "1.36.3"
RELEASE, NAMESPACE = "dbm", "dbmigrator-system"
FULLNAME = "dbm-dbmigration-operator"

Obj = dict[str, Any]
Render = Callable[..., list[Obj]]

NON_DEFAULT: dict[str, Any] = {
    "watchNamespaces": ["a", "b"],
    "replicas": 2,
    "image": {"repository": "registry.example.com/dbm/operator", "tag": "1.2.3"},
    "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "400Mi"}},
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Databases"}},
    },
    "jobDefaults": {
        "image": "registry.example.com/dbm/jobs:1.2.3",
        "serviceAccountName": "migrator",
        "resources": {"limits": {"memory": "1Gi"}},
    },
    "jobPolicy": {
        "allowedJobImages": ["registry.example.com/dbm/", "quay.io/x/y:1.0"],
        "allowedSourceImages": ["registry.example.com/migrations/"],
        "allowedServiceAccounts": ["vault-migrator"],
    },
    "networkPolicy": {
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    },
    "priorityClassName": "platform",
    "podAnnotations": {"example.com/team": "data"},
    "logLevel": "debug",
}

# --------------------------------------------------------------------------- the RBAC contract

NAMESPACED_RULES: list[Obj] = [
    {
        "apiGroups": ["dbmigrator.io"],
        "resources": ["databasemigrations"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["dbmigrator.io"],
        "resources": ["databasemigrations/status"],
        "verbs": ["patch"],
    },
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
POD_LOGS_RULE: Obj = {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}
CRD_RULE: Obj = {
    "apiGroups": ["apiextensions.k8s.io"],
    "resources": ["customresourcedefinitions"],
    "verbs": ["list", "watch"],
}
NAMESPACES_RULE: Obj = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
CLUSTER_PEERING_RULE: Obj = {
    "apiGroups": ["kopf.dev"],
    "resources": ["clusterkopfpeerings"],
    "verbs": ["list", "watch", "patch"],
}
NAMESPACED_PEERING_RULE: Obj = {
    "apiGroups": ["kopf.dev"],
    "resources": ["kopfpeerings"],
    "verbs": ["list", "watch", "patch"],
}


# --------------------------------------------------------------------------- helm


def _find_helm() -> str:
    explicit = os.environ.get("HELM")
    if explicit:
        return explicit
    proc = subprocess.run(
        ["bash", str(REPO / "hack" / "build-helm.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        pytest.skip(f"helm could not be built by hack/build-helm.sh: {proc.stderr[-800:]}")
    return lines[-1]


@pytest.fixture(scope="session")
def helm() -> str:
    return _find_helm()


_HELM_HOME: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def _helm_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep helm's cache/config/data out of the user's home."""
    home = tmp_path_factory.mktemp("helm")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        _HELM_HOME[var] = str(home / var.lower())


def run_helm(helm: str, *args: str, values: Obj | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [helm, *args, "--kube-version", KUBE_VERSION]
    if values is not None:
        cmd += ["--values", "-"]
    return subprocess.run(
        cmd,
        input=yaml.safe_dump(values) if values is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **_HELM_HOME},
    )


@pytest.fixture(scope="session")
def render(helm: str) -> Render:
    cache: dict[str, list[Obj]] = {}

    def _render(values: Obj | None = None, *extra: str) -> list[Obj]:
        key = json.dumps([values, extra], sort_keys=True)
        if key not in cache:
            proc = run_helm(
                helm, "template", RELEASE, str(CHART), "-n", NAMESPACE, *extra, values=values
            )
            assert proc.returncode == 0, proc.stderr
            cache[key] = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return cache[key]

    return _render


def by_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[Obj], kind: str) -> Obj:
    found = by_kind(objs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(objs: list[Obj]) -> Obj:
    containers: list[Obj] = one(objs, "Deployment")["spec"]["template"]["spec"]["containers"]
    (ctr,) = containers
    return ctr


def env_of(objs: list[Obj]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objs)["env"]}


# --------------------------------------------------------------------------- lint and schemas


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_helm_lint_strict(helm: str, values: Obj | None) -> None:
    proc = run_helm(helm, "lint", "--strict", str(CHART), values=values)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def _validate_structurally(obj: Obj) -> None:
    """Kinds kubernetes-validate has no schema for: the fields their CRDs require."""
    kind, meta = obj["kind"], obj["metadata"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]), meta["name"]
    if kind == "ServiceMonitor":
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        spec = obj["spec"]
        assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
        assert spec["selector"]["matchLabels"]
        for endpoint in spec["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
            assert re.fullmatch(r"([0-9]+(ms|s|m|h))+", endpoint["interval"])
    elif kind == "PrometheusRule":
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert set(obj["spec"]) == {"groups"}
        for group in obj["spec"]["groups"]:
            assert set(group) <= {"name", "interval", "rules"} and group["rules"]
            for rule in group["rules"]:
                assert set(rule) <= {"alert", "record", "expr", "for", "labels", "annotations"}
                assert ("alert" in rule) != ("record" in rule) and rule["expr"].strip()
                assert re.fullmatch(r"([0-9]+(ms|s|m|h|d))+", rule.get("for", "0s"))
    elif kind in ("ClusterKopfPeering", "KopfPeering"):
        assert obj["apiVersion"] == "kopf.dev/v1"
        assert set(obj) == {"apiVersion", "kind", "metadata"}, "kopf fills status itself"
        assert ("namespace" in meta) is (kind == "KopfPeering")
    else:
        raise AssertionError(f"no validation for {kind}")


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_every_rendered_object_is_valid(render: Render, values: Obj | None) -> None:
    objs = render(values, "--include-crds")
    kinds = {o["kind"] for o in objs}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount", "Service"} <= kinds
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            _validate_structurally(obj)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']}: {exc}") from exc


CLUSTER_SCOPED = (
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterKopfPeering",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_objects_carry_recommended_labels_and_namespaces(
    render: Render, values: Obj | None
) -> None:
    watched = set((values or {}).get("watchNamespaces", [])) or {NAMESPACE}
    for obj in render(values):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "dbmigration-operator"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"]
        elif obj["kind"] in ("Role", "RoleBinding", "KopfPeering"):
            assert obj["metadata"]["namespace"] in watched
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"replicas": -1}, "/replicas"),
        ({"replicas": "two"}, "/replicas"),
        ({"replica": 2}, "replica"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"watchNamespaces": ["a", "a"]}, "/watchNamespaces"),
        ({"logFormat": "xml"}, "/logFormat"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"metrics": {"port": 70000}}, "/metrics/port"),
        # per resource (spec.job), never operator-wide: a CRD default fills every resource
        ({"jobDefaults": {"activeDeadlineSeconds": 600}}, "activeDeadlineSeconds"),
        ({"jobDefaults": {"imagePullPolicy": "Sometimes"}}, "/jobDefaults/imagePullPolicy"),
        ({"allNamespaces": "yes"}, "/allNamespaces"),
        ({"jobPolicy": {"allowedJobImages": ["a/,b/"]}}, "/jobPolicy/allowedJobImages/0"),
        ({"jobPolicy": {"allowedJobImages": ["a' || true || '"]}}, "/jobPolicy/allowedJobImages/0"),
        (
            {"jobPolicy": {"allowedServiceAccounts": ["Not_A_Name"]}},
            "/jobPolicy/allowedServiceAccounts/0",
        ),
        ({"networkPolicy": {"metricsFrom": {}}}, "/networkPolicy/metricsFrom"),
    ],
)
def test_values_schema_rejects_bad_values(helm: str, values: Obj, error: str) -> None:
    proc = run_helm(helm, "template", RELEASE, str(CHART), values=values)
    assert proc.returncode != 0, f"{values} was accepted"
    assert error in proc.stderr, proc.stderr


def test_values_yaml_matches_its_schema_and_readme(render: Render) -> None:
    """helm checks values.yaml against the schema on every render; here: same keys, documented."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False, "typos in values must fail"
    assert set(values) == set(schema["properties"]) - {"global"}, "schema and values drifted"
    assert render(), "the defaults pass the schema"
    readme = (CHART / "README.md").read_text()
    for key in _leaf_keys(values):
        assert f"`{key}`" in readme, f"README.md does not document {key}"


OPAQUE_VALUES = ("resources", "podSecurityContext", "securityContext", "metricsFrom")


def _leaf_keys(values: Obj, prefix: str = "") -> Iterator[str]:
    """`image.tag`, `metrics.serviceMonitor.enabled`, ...; Kubernetes objects count as one key."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in OPAQUE_VALUES:
            yield from _leaf_keys(value, f"{path}.")
        else:
            yield path


# --------------------------------------------------------------------------- CRDs


def test_chart_crd_is_a_byte_identical_copy() -> None:
    source = REPO / "crds" / "dbmigrator.io_databasemigrations.yaml"
    copy = CHART / "crds" / "dbmigrator.io_databasemigrations.yaml"
    assert copy.read_bytes() == source.read_bytes(), "run `make chart-crds`"


def test_chart_ships_kopf_peering_crds(render: Render) -> None:
    crds = {
        o["metadata"]["name"]: o
        for o in render(None, "--include-crds")
        if o["kind"] == "CustomResourceDefinition"
    }
    assert set(crds) == {
        "databasemigrations.dbmigrator.io",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    assert crds["clusterkopfpeerings.kopf.dev"]["spec"]["scope"] == "Cluster"
    assert crds["kopfpeerings.kopf.dev"]["spec"]["scope"] == "Namespaced"
    templated = [o for o in render(None) if o["kind"] == "CustomResourceDefinition"]
    assert templated == [], "CRDs live in crds/, never in templates/"


# --------------------------------------------------------------------------- RBAC


def _rules(obj: Obj) -> list[Obj]:
    return [
        {k: r[k] for k in ("apiGroups", "resources", "verbs", "resourceNames") if k in r}
        for r in obj["rules"]
    ]


ALL_NAMESPACES: Obj = {"allNamespaces": True}


def test_rbac_default_is_the_release_namespace_only(render: Render) -> None:
    """Nothing cluster-wide by default: secrets, pods and jobs only in the release namespace."""
    objs = render()
    (role,) = by_kind(objs, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert _rules(role) == [*NAMESPACED_RULES, NAMESPACED_PEERING_RULE]
    (binding,) = by_kind(objs, "RoleBinding")
    assert binding["metadata"]["namespace"] == NAMESPACE
    cluster_role = one(objs, "ClusterRole")
    assert _rules(cluster_role) == [CRD_RULE, NAMESPACES_RULE], "kopf's cluster-scoped needs only"
    assert container(objs)["args"] == ["operator", "--namespace", NAMESPACE]
    assert one(objs, "KopfPeering")["metadata"]["namespace"] == NAMESPACE
    assert by_kind(objs, "ClusterKopfPeering") == []


def test_all_namespaces_is_an_explicit_opt_in(helm: str) -> None:
    proc = run_helm(helm, "template", RELEASE, str(CHART),
                    values={"allNamespaces": True, "watchNamespaces": ["a"]})  # fmt: skip
    assert proc.returncode != 0 and "either allNamespaces or watchNamespaces" in proc.stderr


def test_rbac_all_namespaces(render: Render) -> None:
    objs = render(ALL_NAMESPACES)
    assert by_kind(objs, "Role") == [] and by_kind(objs, "RoleBinding") == []
    role = one(objs, "ClusterRole")
    assert role["metadata"]["name"] == FULLNAME
    assert _rules(role) == [*NAMESPACED_RULES, CRD_RULE, CLUSTER_PEERING_RULE]
    binding = one(objs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": FULLNAME,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]


def test_rbac_listed_namespaces(render: Render) -> None:
    objs = render(NON_DEFAULT)
    roles = {r["metadata"]["namespace"]: r for r in by_kind(objs, "Role")}
    assert set(roles) == {"a", "b"}
    for role in roles.values():
        assert _rules(role) == [*NAMESPACED_RULES, NAMESPACED_PEERING_RULE]
    bindings = {b["metadata"]["namespace"]: b for b in by_kind(objs, "RoleBinding")}
    assert set(bindings) == {"a", "b"}
    for binding in bindings.values():
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["roleRef"]["name"] == FULLNAME
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
        ]
    cluster_role = one(objs, "ClusterRole")
    assert cluster_role["metadata"]["name"] == f"{FULLNAME}-crds"
    assert _rules(cluster_role) == [CRD_RULE, NAMESPACES_RULE], "kopf's cluster-scoped needs only"
    assert one(objs, "ClusterRoleBinding")["roleRef"]["name"] == f"{FULLNAME}-crds"


def test_rbac_options(render: Render) -> None:
    with_logs = render({"rbac": {"podLogs": True}, **ALL_NAMESPACES})
    assert POD_LOGS_RULE in _rules(one(with_logs, "ClusterRole"))
    no_peering = render({"peering": {"enabled": False}, **ALL_NAMESPACES})
    assert CLUSTER_PEERING_RULE not in _rules(one(no_peering, "ClusterRole"))
    assert by_kind(no_peering, "ClusterKopfPeering") == []
    assert "DBMIGRATOR_PEERING" not in env_of(no_peering)
    assert container(no_peering)["args"] == ["operator", "--all-namespaces", "--standalone"]
    no_rbac = render({"rbac": {"create": False}, "serviceAccount": {"create": False}})
    kinds = {o["kind"] for o in no_rbac}
    assert not kinds & {
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    }
    spec = one(no_rbac, "Deployment")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "default"


def test_rbac_never_grants_more_than_listed(render: Render) -> None:
    for values in (None, NON_DEFAULT, ALL_NAMESPACES):
        for obj in render(values):
            if obj["kind"] not in ("ClusterRole", "Role"):
                continue
            for rule in obj["rules"]:
                assert "*" not in rule["verbs"] and "*" not in rule["resources"], rule
                assert "*" not in rule["apiGroups"], rule
                if "secrets" in rule["resources"]:
                    assert rule["verbs"] == ["get"], "the operator only checks a key exists"


# --------------------------------------------------------------------------- Deployment


def test_deployment_defaults(render: Render) -> None:
    objs = render()
    deployment = one(objs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    ctr = container(objs)
    assert ctr["image"] == "ghcr.io/dbmigrator/dbmigration-operator:0.1.0"
    assert ctr["args"] == ["operator", "--namespace", NAMESPACE]
    assert "command" not in ctr, "the image's ENTRYPOINT is dbmigrator"
    env = env_of(objs)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["DBMIGRATOR_JOB_IMAGE"] == ctr["image"], "Jobs run the operator's image by default"
    assert "DBMIGRATOR_JOB_ACTIVE_DEADLINE_SECONDS" not in env, "a CRD default owns it"
    assert json.loads(env["DBMIGRATOR_JOB_RESOURCES"]) == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }, "Jobs are never BestEffort by default"
    assert env["DBMIGRATOR_ALLOWED_JOB_IMAGES"] == ""
    assert env["DBMIGRATOR_ALLOWED_SOURCE_IMAGES"] == ""
    assert env["DBMIGRATOR_ALLOWED_JOB_SERVICE_ACCOUNTS"] == ""
    assert env["DBMIGRATOR_LOG_FORMAT"] == "json"
    assert env["DBMIGRATOR_PEERING"] == FULLNAME
    assert env["DBMIGRATOR_LIVENESS_PORT"] == "8081"
    assert env["DBMIGRATOR_METRICS_PORT"] == "8080"
    assert one(objs, "KopfPeering")["metadata"]["name"] == FULLNAME
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    probe = ctr["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    assert by_kind(objs, "ServiceMonitor") == []
    service = one(objs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_deployment_non_default(render: Render) -> None:
    objs = render(NON_DEFAULT)
    deployment = one(objs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    ctr = container(objs)
    assert ctr["image"] == "registry.example.com/dbm/operator:1.2.3"
    assert ctr["args"] == ["operator", "--namespace", "a", "--namespace", "b", "--verbose"]
    assert ctr["resources"] == NON_DEFAULT["resources"]
    env = env_of(objs)
    assert env["DBMIGRATOR_JOB_IMAGE"] == "registry.example.com/dbm/jobs:1.2.3"
    assert env["DBMIGRATOR_JOB_SERVICE_ACCOUNT"] == "migrator"
    # helm merges maps: the default requests stay unless set to null
    assert json.loads(env["DBMIGRATOR_JOB_RESOURCES"]) == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert env["DBMIGRATOR_ALLOWED_JOB_IMAGES"] == "registry.example.com/dbm/,quay.io/x/y:1.0"
    assert env["DBMIGRATOR_ALLOWED_SOURCE_IMAGES"] == "registry.example.com/migrations/"
    assert env["DBMIGRATOR_ALLOWED_JOB_SERVICE_ACCOUNTS"] == "vault-migrator"
    assert env["DBMIGRATOR_LOG_LEVEL"] == "debug"
    pod = deployment["spec"]["template"]
    assert pod["spec"]["priorityClassName"] == "platform"
    assert pod["metadata"]["annotations"] == {"example.com/team": "data"}
    peerings = by_kind(objs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["a", "b"]
    monitor = one(objs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = one(objs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_deployment_is_restricted(render: Render, values: Obj | None) -> None:
    """The Pod Security Standard "restricted" profile, field by field."""
    pod = one(render(values), "Deployment")["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 10001 and psc["runAsGroup"] == 10001
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    ctr = container(render(values))
    sc = ctr["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in sc
    mounts = {m["mountPath"]: m["name"] for m in ctr["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[c.TMP_DIR]], "a writable /tmp on a read-only root"
    assert all("hostPath" not in v for v in pod["volumes"])


def test_readme_documents_the_operator_environment(render: Render) -> None:
    readme = (CHART / "README.md").read_text()
    for name in env_of(render(NON_DEFAULT)):
        assert f"`{name}`" in readme, f"README.md does not document {name}"
    for rule in [*NAMESPACED_RULES, POD_LOGS_RULE, CRD_RULE, NAMESPACES_RULE]:
        for resource in rule["resources"]:
            assert f"`{resource}`" in readme, f"README.md does not justify {resource}"
    assert "`clusterkopfpeerings`" in readme and "`kopfpeerings`" in readme


# --------------------------------------------------------------------------- the operator CLI

# Variables the chart sets that the dbmigrator CLI itself does not read (chart README.md).
NOT_YET_READ = {
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_ID",  # read by kopf itself
}


@pytest.mark.parametrize(
    "values",
    [None, NON_DEFAULT, {"peering": {"enabled": False}}],
    ids=["default", "non-default", "standalone"],
)
def test_chart_starts_the_operator_cli_it_ships(render: Render, values: Obj | None) -> None:
    """Every flag the Deployment passes and every variable marked "read" exist in the CLI."""
    import click

    from dbmigrator.cli.main import main

    assert isinstance(main, click.Group)
    command = main.commands["operator"]
    flags = {opt for param in command.params for opt in param.opts}
    envvars = {param.envvar for param in command.params if isinstance(param.envvar, str)}
    objs = render(values)
    args = container(objs)["args"]
    assert args[0] == "operator"
    for arg in args[1:]:
        if arg.startswith("-"):
            assert arg.split("=", 1)[0] in flags, f"dbmigrator operator has no {arg}"
    read = set(env_of(objs)) - NOT_YET_READ
    assert read <= envvars, f"the operator reads none of {sorted(read - envvars)}"


# --------------------------------------------------------------------------- admission, network


def _policy(objs: list[Obj]) -> tuple[Obj, Obj]:
    return one(objs, "ValidatingAdmissionPolicy"), one(objs, "ValidatingAdmissionPolicyBinding")


def test_admission_policy_enforces_the_job_policy_at_apply_time(render: Render) -> None:
    policy, binding = _policy(render())
    assert policy["metadata"]["name"] == f"{FULLNAME}-job-policy"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [{"apiGroups": [c.GROUP], "apiVersions": ["*"],
                      "operations": ["CREATE", "UPDATE"], "resources": [c.PLURAL]}]  # fmt: skip
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"],
                               "validationActions": ["Deny"]}  # fmt: skip
    image, source, account = (v["expression"] for v in policy["spec"]["validations"])
    assert '"ghcr.io/dbmigrator/dbmigration-operator:0.1.0"' in image, "the Jobs' default image"
    assert "[].exists(" in image and "[].exists(" in source, "nothing else by default"
    assert "variables.serviceAccount in []" in account
    messages = [v["messageExpression"] for v in policy["spec"]["validations"]]
    assert [m.split(":")[0].strip("'") for m in messages] == [
        "ImageNotAllowed",
        "ImageNotAllowed",
        "ServiceAccountNotAllowed",
    ]  # fmt: skip, the operator's reasons


def test_admission_policy_bakes_in_the_values(render: Render) -> None:
    policy, _ = _policy(render(NON_DEFAULT))
    image, source, account = (v["expression"] for v in policy["spec"]["validations"])
    assert '"registry.example.com/dbm/jobs:1.2.3"' in image, "jobDefaults.image is the default"
    assert '["registry.example.com/dbm/","quay.io/x/y:1.0"].exists(' in image
    assert '["registry.example.com/migrations/"].exists(' in source
    assert '== "migrator"' in account and 'in ["vault-migrator"]' in account
    assert (
        by_kind(render({"admissionPolicy": {"enabled": False}}), "ValidatingAdmissionPolicy") == []
    )


def test_network_policy_opens_only_the_metrics_port(render: Render) -> None:
    objs = render()
    netpol = one(objs, "NetworkPolicy")
    deployment = one(objs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert netpol["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert netpol["spec"]["policyTypes"] == ["Ingress"]
    assert netpol["spec"]["ingress"] == [
        {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [{"podSelector": {}}]}
    ], "metrics from the release namespace only; the health port from no pod"
    custom = one(render(NON_DEFAULT), "NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert custom == NON_DEFAULT["networkPolicy"]["metricsFrom"]
    closed = one(render({"networkPolicy": {"metricsFrom": []}}), "NetworkPolicy")
    assert closed["spec"]["ingress"] == [], "empty metricsFrom: nobody"
    assert by_kind(render({"networkPolicy": {"enabled": False}}), "NetworkPolicy") == []


def test_monitoring_objects_are_off_by_default_and_ship_the_tested_files(render: Render) -> None:
    kinds = {o["kind"] for o in render()}
    assert "PrometheusRule" not in kinds
    assert not [
        o for o in by_kind(render(), "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")
    ]
    objs = render(NON_DEFAULT)
    rule = one(objs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    # The very file that promtool checks and tests (tests/unit/test_monitoring.py), unaltered.
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    (dashboard,) = [
        o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")
    ]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Databases"}
    shipped = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    assert json.loads(dashboard["data"]["dbmigration-operator.json"]) == shipped
