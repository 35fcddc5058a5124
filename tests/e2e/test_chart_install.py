"""The Helm chart installed into the real local control plane, RBAC checked by running as it.

For each mode (all namespaces: one ClusterRole; a list of watched namespaces: a Role per
namespace plus the CRD ClusterRole) the chart is rendered with `helm template` and everything
Helm would install (crds/ and the templates) is applied to the local cluster; the API server must
accept every object. The operator then runs as a local process with the rendered Deployment's
args and env, authenticated only by a TokenRequest token of the chart's ServiceAccount, through a
full migrate (008: backup, rehearsal, three phases) and rollback (005) of the shop; its log must
show no denial (403/Forbidden). The ServiceAccount's grants must be exactly the chart README's
RBAC table, and must not reach beyond it (no Secret deletion, no nodes, no pods of its own).

The Deployment itself is only checked for acceptance, applied with no replica: a pod of it would
compete with the local operator. tests/e2e/test_incluster_operator.py runs the chart's pod for
real (`helm install`, restricted namespace, probes, metrics).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localcluster.controlplane import LocalCluster
from localpg import LocalPostgres
from tests.e2e.chart_support import (
    RELEASE_NAMESPACE,
    SERVICE_MONITOR_CRD,
    ChartInstall,
    LocalOperator,
    can_i,
    clean_environment,
    crd_exists,
    denials,
    deployment_command,
    granted_rules,
    helm,
    ident,
    other_operators,
    readme_rules,
    render,
    service_account_kubeconfig,
    summarize,
    whoami,
)
from tests.e2e.conftest import Shop, create_shop, drop_shop, kubectl, shop_resource

__all__ = ["helm"]  # the fixture, re-exported for pytest

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Mode:
    name: str
    release: str
    clusterwide: bool


MODES = [
    Mode("all-namespaces", "rel", clusterwide=True),
    Mode("watch-namespaces", "rel-ns", clusterwide=False),
]


@dataclass
class Setup:
    mode: Mode
    chart: ChartInstall
    apply_output: str
    shop: Shop
    other_namespace: str
    sa_kubeconfig: Path
    operator: LocalOperator


@pytest.fixture(scope="module", params=MODES, ids=[m.name for m in MODES])
def setup(
    request: pytest.FixtureRequest,
    cluster: LocalCluster,
    postgres: LocalPostgres,
    helm: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    mode: Mode = request.param
    suffix = secrets.token_hex(3)
    shop_ns, other_ns = f"chart-shop-{suffix}", f"chart-other-{suffix}"
    tmp = tmp_path_factory.mktemp(f"chart-{mode.name}")
    values: list[str] = []  # the chart's defaults, Job requests and limits included
    if mode.clusterwide:
        values += ["allNamespaces=true"]  # the explicit opt-in
    else:
        # Plus a ServiceMonitor, which is applied only where its CRD exists.
        values += [
            f"watchNamespaces={{{shop_ns},{other_ns}}}",
            "metrics.serviceMonitor.enabled=true",
        ]
    chart = ChartInstall(cluster, mode.release, render(helm, mode.release, values))
    operator: LocalOperator | None = None
    try:
        shop = create_shop(cluster, postgres, shop_ns)
        kubectl(cluster.kubeconfig, "create", "namespace", other_ns)
        applied = chart.install()
        sa_kubeconfig = service_account_kubeconfig(
            cluster, chart.service_account, tmp / "sa.kubeconfig"
        )
        args, env = deployment_command(chart)
        home = tmp / "home"
        home.mkdir()
        operator = LocalOperator(
            args, {**clean_environment(home), **env, "KUBECONFIG": str(sa_kubeconfig)},
            tmp / "operator.log",
        )  # fmt: skip
        yield Setup(mode, chart, applied, shop, other_ns, sa_kubeconfig, operator)
    finally:
        if operator is not None:
            operator.stop()
        chart.uninstall()
        kubectl(cluster.kubeconfig, "delete", "namespace", other_ns, "--wait=false", check=False)
        drop_shop(cluster, postgres, shop_ns)


def test_the_api_server_accepts_every_rendered_object(setup: Setup) -> None:
    chart, kc = setup.chart, setup.chart.cluster.kubeconfig
    kinds = {o["kind"] for o in chart.objects}
    expected = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"}
    expected |= (
        {"ClusterKopfPeering"} if setup.mode.clusterwide else {"Role", "RoleBinding", "KopfPeering"}
    )
    assert expected <= kinds, f"rendered: {sorted(kinds)}"
    # The ServiceMonitor (enabled in the listed-namespaces mode) is applied only if its CRD exists.
    monitors = [ident(o) for o in chart.kinds("ServiceMonitor")]
    assert len(monitors) == (0 if setup.mode.clusterwide else 1), monitors
    has_monitor_crd = crd_exists(kc, SERVICE_MONITOR_CRD)
    assert all((m in chart.skipped) != has_monitor_crd for m in monitors), chart.skipped
    for obj in chart.applied:
        assert f"{obj['metadata']['name']} serverside-applied" in setup.apply_output, (
            ident(obj),
            setup.apply_output,
        )
    live = {ident(o): o for o in setup.chart.live()}
    assert sorted(live) == sorted(ident(o) for o in chart.applied)
    if not setup.mode.clusterwide:
        roles = {o["metadata"]["namespace"] for o in chart.kinds("Role")}
        assert roles == {setup.shop.namespace, setup.other_namespace}
        assert {o["metadata"]["name"] for o in chart.kinds("ClusterRole")} == {
            f"{chart.service_account}-crds"
        }

    # The Deployment: accepted with the chart's ServiceAccount, with no replica (see above).
    deployment = next(o for o in live.values() if o["kind"] == "Deployment")
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == chart.service_account
    assert pod["containers"][0]["image"].split(":")[0].endswith("dbmigration-operator")
    kubectl(kc, "-n", RELEASE_NAMESPACE, "scale", f"deployment/{name}", "--replicas=0")
    replicas = kubectl(
        kc, "-n", RELEASE_NAMESPACE, "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"
    )
    assert replicas == "0"
    selector = ",".join(
        f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items()
    )
    pods = kubectl(kc, "-n", RELEASE_NAMESPACE, "get", "pods", "-l", selector, "-o", "name")
    assert pods.strip() == "", (
        f"the Deployment's pod must not run beside the test's operator: {pods}"
    )


def test_service_account_holds_exactly_the_readme_rules(setup: Setup) -> None:
    sa, kc = setup.sa_kubeconfig, setup.chart.cluster.kubeconfig
    assert whoami(sa) == f"system:serviceaccount:{RELEASE_NAMESPACE}:{setup.chart.service_account}"
    assert whoami(kc) != whoami(sa)
    expected = readme_rules(clusterwide=setup.mode.clusterwide)
    granted = granted_rules(sa, setup.shop.namespace)
    assert not any("*" in part for rule in granted for part in rule), granted
    assert granted == expected, (
        f"granted but not in the README: {sorted(granted - expected)}; "
        f"in the README but not granted: {sorted(expected - granted)}"
    )
    if not setup.mode.clusterwide:
        # Outside the watched namespaces only cluster-scoped grants (the CRD rule) are left.
        outside = granted_rules(sa, "default")
        cluster_scoped = set(
            kubectl(kc, "api-resources", "--namespaced=false", "-o", "name").split()
        )
        namespaced = {
            (g, r)
            for g, r, _ in outside
            if ".".join(filter(None, (r.split("/")[0], g))) not in cluster_scoped
        }
        assert not namespaced, f"granted outside the watched namespaces: {sorted(namespaced)}"
        assert ("apiextensions.k8s.io", "customresourcedefinitions", "list") in outside


def test_service_account_has_least_privilege(setup: Setup) -> None:
    sa, ns = setup.sa_kubeconfig, setup.shop.namespace
    assert can_i(sa, "create", "jobs.batch", ns)
    assert can_i(sa, "delete", "jobs.batch", ns)
    assert can_i(sa, "get", "secrets", ns)
    assert can_i(sa, "patch", "databasemigrations.dbmigrator.io/status", ns)
    assert not can_i(sa, "patch", "databasemigrations.dbmigrator.io", ns), "status only"
    assert not can_i(sa, "delete", "secrets", ns)
    assert not can_i(sa, "list", "secrets", ns)
    assert not can_i(sa, "get", "nodes")
    assert not can_i(sa, "create", "pods", ns)
    assert not can_i(sa, "update", "jobs.batch", ns)
    assert not can_i(sa, "create", "databasemigrations.dbmigrator.io", ns)
    assert not can_i(sa, "delete", "databasemigrations.dbmigrator.io", ns)
    assert not can_i(sa, "create", "configmaps", ns)
    assert not can_i(sa, "create", "persistentvolumeclaims", ns)
    assert not can_i(sa, "create", "rolebindings.rbac.authorization.k8s.io", ns)
    assert not can_i(sa, "create", "serviceaccounts/token", ns)
    if not setup.mode.clusterwide:
        assert not can_i(sa, "create", "jobs.batch", "default")
        assert not can_i(sa, "get", "secrets", "default")
        assert not can_i(sa, "get", "secrets", RELEASE_NAMESPACE)


def test_operator_as_the_service_account_migrates_and_rolls_back_without_denials(
    setup: Setup,
) -> None:
    shop, operator = setup.shop, setup.operator
    others = other_operators(shop.cluster)
    assert not others, f"another operator acts on this cluster with admin credentials: {others}"
    assert "--standalone" not in operator.args  # the chart's peering is on by default
    operator.start()
    try:
        shop.apply(shop_resource(shop.namespace))
        st = shop.wait_settled(timeout=240)["status"]
        assert st["phase"] == "Succeeded" and st["currentVersion"] == "008", st.get("message")
        assert shop.condition("Ready")["status"] == "True"
        assert [p["state"] for p in st["phases"]] == ["Succeeded"] * 3
        assert {"shop-db-g1-backup", "shop-db-g1-rehearse"} <= set(shop.jobs())

        shop.kubectl(
            "patch",
            "dbm",
            "shop-db",
            "--type",
            "merge",
            "-p",
            json.dumps({"spec": {"targetVersion": "005"}}),
        )
        st = shop.wait_settled(timeout=180)["status"]
        assert st["phase"] == "Succeeded" and st["currentVersion"] == "005", st.get("message")
        assert shop.condition("Ready")["status"] == "True"
        assert st["history"][-1]["operation"] == "rollback"
        assert shop.query("select max(version) from supabase_migrations.schema_migrations") == [
            ("005",)
        ]
        events = shop.kubectl(
            "get", "events", "--field-selector", "involvedObject.kind=DatabaseMigration"
        )
        assert "shop-db" in events  # the operator could post its Events
        assert operator.running(), operator.text()[-2000:]
        assert not other_operators(shop.cluster)
    finally:
        operator.stop()
    log = operator.text()
    assert "login" in log, log[-2000:]
    denied = denials(log)
    assert not denied, (
        f"{len(denied)} denied request(s) in the operator log ({setup.mode.name}, "
        f"ServiceAccount {setup.chart.service_account}):\n" + summarize(denied)
    )
