"""Helpers for tests/e2e/test_chart_install.py: the Helm chart in the real local control plane.

Rendering (`helm template`, helm built by hack/build-helm.sh), applying what Helm would install,
a kubeconfig authenticated as the chart's ServiceAccount (a TokenRequest token, nothing else),
the operator as a local process started with the chart Deployment's own args and env, the RBAC
table of charts/dbmigration-operator/README.md, and the scan of the operator log for denials.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.controlplane import LocalCluster
from tests.e2e.conftest import CLI, REPO, kubectl, wait_for

CHART = REPO / "charts" / "dbmigration-operator"
CHART_CRDS = CHART / "crds"
CHART_README = CHART / "README.md"
RELEASE_NAMESPACE = "dbmigrator-system"
KUBE_VERSION = "1.36.3"
SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"

Rule = tuple[str, str, str]  # (API group, resource, verb)


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary hack/build-helm.sh builds (or finds in its cache); skip if it cannot."""
    proc = subprocess.run(
        [str(REPO / "hack" / "build-helm.sh")], capture_output=True, text=True, timeout=1200
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        pytest.skip(f"helm could not be built (hack/build-helm.sh exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-500:]}")  # fmt: skip
    return Path(lines[-1])


def render(helm: Path, release: str, values: Iterable[str] = ()) -> list[dict[str, Any]]:
    """`helm template` with the chart's defaults plus `--set` values: the rendered objects."""
    args = [str(helm), "template", release, str(CHART), "--namespace", RELEASE_NAMESPACE,
            "--kube-version", KUBE_VERSION]  # fmt: skip
    for value in values:
        args += ["--set", value]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"helm template failed: {proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def crd_exists(kubeconfig: Path, name: str) -> bool:
    out = kubectl(kubeconfig, "get", "crd", name, "-o", "name", "--ignore-not-found")
    return bool(out.strip())


def apply_chart_crds(kubeconfig: Path) -> None:
    """What `helm install` does first: the chart's crds/ (the DatabaseMigration CRD and kopf's)."""
    kubectl(kubeconfig, "apply", "-f", str(CHART_CRDS))
    names = [
        doc["metadata"]["name"]
        for path in sorted(CHART_CRDS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "CustomResourceDefinition"
    ]
    query = '{.status.conditions[?(@.type=="Established")].status}'

    def established() -> bool:
        # Polled rather than `kubectl wait`: this kubectl fails at once on a CRD created a moment
        # ago whose status has no conditions yet (".status.conditions accessor error: <nil>").
        for name in names:
            out = kubectl(kubeconfig, "get", "crd", name, "-o", f"jsonpath={query}", check=False)
            if out.strip() != "True":
                return False
        return True

    wait_for(f"CRDs {names} to be Established", established, timeout=60)


def manifest(objects: Iterable[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


def ident(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


@dataclass
class ChartInstall:
    """One rendered release applied to the cluster (what `helm install` would have created)."""

    cluster: LocalCluster
    release: str
    objects: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)

    @property
    def applied(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if ident(o) not in self.skipped]

    def one(self, kind: str) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, rendered: {[ident(o) for o in found]}"
        return found[0]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    @property
    def service_account(self) -> str:
        name: str = self.one("ServiceAccount")["metadata"]["name"]
        return name

    def install(self) -> str:
        kc = self.cluster.kubeconfig
        kubectl(kc, "apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RELEASE_NAMESPACE}}))  # fmt: skip
        apply_chart_crds(kc)
        if not crd_exists(kc, SERVICE_MONITOR_CRD):
            self.skipped += [ident(o) for o in self.kinds("ServiceMonitor")]
        # The Deployment goes in with no replica: here the operator runs as a local process
        # holding only the ServiceAccount's token, so a missing grant shows in its log;
        # test_incluster_operator.py runs the chart's pod itself.
        for obj in self.kinds("Deployment"):
            obj["spec"]["replicas"] = 0
        return kubectl(kc, "apply", "--server-side", "--field-manager=chart-e2e", "-f", "-",
                       stdin=manifest(self.applied))  # fmt: skip

    def live(self) -> list[dict[str, Any]]:
        out = kubectl(self.cluster.kubeconfig, "get", "-f", "-", "-o", "json",
                      stdin=manifest(self.applied))  # fmt: skip
        items: list[dict[str, Any]] = json.loads(out).get("items") or []
        return items

    def uninstall(self) -> None:
        kubectl(self.cluster.kubeconfig, "delete", "-f", "-", "--ignore-not-found", "--wait=false",
                stdin=manifest(self.applied), check=False)  # fmt: skip


# ---- the ServiceAccount's credentials --------------------------------------------------------
def service_account_kubeconfig(cluster: LocalCluster, service_account: str, path: Path) -> Path:
    """A kubeconfig with the cluster's server + CA and only a TokenRequest bearer token.

    No client certificate, no exec plugin, no other user: whatever uses it is the ServiceAccount.
    """
    token = kubectl(cluster.kubeconfig, "create", "token", service_account,
                    "-n", RELEASE_NAMESPACE, "--duration", "1h").strip()  # fmt: skip
    assert token.count(".") == 2, "TokenRequest did not return a JWT"
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = admin["current-context"]
    ctx = next(c["context"] for c in admin["contexts"] if c["name"] == context)
    cl = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cl],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": cl["name"], "user": service_account}}],
        "current-context": "sa",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


def whoami(kubeconfig: Path) -> str:
    review = json.loads(kubectl(kubeconfig, "auth", "whoami", "-o", "json"))
    user: str = review["status"]["userInfo"]["username"]
    return user


def can_i(kubeconfig: Path, verb: str, resource: str, namespace: str | None = None) -> bool:
    """`kubectl auth can-i` (exit 0 and "yes", or exit 1 and "no"); `res/sub` asks for a subresource."""
    name, _, sub = resource.partition("/")
    args = ["kubectl", "--kubeconfig", str(kubeconfig), "auth", "can-i", verb, name]
    args += [f"--subresource={sub}"] if sub else []
    args += ["-n", namespace] if namespace else []
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    answer = proc.stdout.strip()
    assert (proc.returncode, answer) in ((0, "yes"), (1, "no")), (
        f"kubectl auth can-i {verb} {resource}: exit {proc.returncode}: {answer} {proc.stderr}"
    )
    return answer == "yes"


SELF_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}


def granted_rules(kubeconfig: Path, namespace: str) -> set[Rule]:
    """Every (group, resource, verb) the caller holds in a namespace (cluster-wide grants too),
    from a SelfSubjectRulesReview, minus the self-review rules every authenticated user has."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": namespace}}  # fmt: skip
    out = json.loads(
        kubectl(kubeconfig, "create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    )
    status = out["status"]
    assert not status.get("incomplete"), status.get("evaluationError")
    rules: set[Rule] = set()
    for rule in status.get("resourceRules") or []:
        assert not rule.get("resourceNames"), f"unexpected resourceNames rule: {rule}"
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                if (group, resource) in SELF_REVIEWS:
                    continue
                rules.update((group, resource, verb) for verb in rule.get("verbs") or [])
    return rules


def readme_rules(*, clusterwide: bool, peering: bool = True, pod_logs: bool = False) -> set[Rule]:
    """The RBAC table of the chart README, for one mode (rows say when they apply in "Why")."""
    text = CHART_README.read_text().split("## RBAC", 1)[1].split("\n## ", 1)[0]
    rules: set[Rule] = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("API group", "") or set(cells[0]) <= {"-"}:
            continue
        group, resource, verbs, why = (c.replace("`", "") for c in cells)
        if why.startswith("All-namespaces mode") and not clusterwide:
            continue
        if why.startswith("Listed-namespaces mode") and clusterwide:
            continue
        if "peering.enabled" in why and not peering:
            continue
        if "rbac.podLogs" in why and not pod_logs:
            continue
        group = "" if group == "core" else group
        rules.update((group, resource, v.strip()) for v in verbs.split(","))
    assert rules, f"no RBAC table found in {CHART_README}"
    return rules


# ---- the operator as the ServiceAccount ------------------------------------------------------
def deployment_command(install: ChartInstall) -> tuple[list[str], dict[str, str]]:
    """The operator container's args and env from the rendered Deployment, run locally.

    `dbmigrator` is the image's entrypoint (the node agent maps it to .venv/bin/dbmigrator the
    same way); fieldRefs get a made-up pod identity; metrics and liveness servers are off.
    """
    deployment = install.one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "operator")
    fake_pod = {"metadata.name": f"{deployment['metadata']['name']}-e2e-local",
                "metadata.namespace": RELEASE_NAMESPACE}  # fmt: skip
    env: dict[str, str] = {}
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "fieldRef" in (var.get("valueFrom") or {}):
            env[var["name"]] = fake_pod[var["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            raise AssertionError(f"unsupported env source in the chart: {var}")
    args = [str(CLI), *container["args"], "--metrics-port", "0", "--liveness-port", "0"]
    assert container.get("command") is None, "the chart overrides the image entrypoint"
    return args, env


def clean_environment(home: Path) -> dict[str, str]:
    """This process's env without anything that could authenticate the operator otherwise."""
    drop = ("KUBE", "DATABASE_URL", "DBMIGRATOR_", "POD_", "AWS_", "GOOGLE_", "AZURE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = str(home)  # no ~/.kube/config to fall back to
    return env


@dataclass
class LocalOperator:
    """`dbmigrator operator` as a process, with the chart's args and env, as the ServiceAccount."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, start_new_session=True)  # fmt: skip

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# A denial in any shape: kopf's `APIForbiddenError(... is forbidden ...)` and "Not enough
# permissions" warnings, the reconciler's `HTTP 403 Forbidden`, a rejected token (401). A bare
# 403/401 counts only as a number of its own (not inside a timestamp, uid or resourceVersion).
DENIAL = re.compile(
    r"forbidden|not enough (rbac )?permissions|unauthorized|(?<![\w.:+-])40[13](?![\w.:])",
    re.IGNORECASE,
)


def denials(log_text: str) -> list[str]:
    """The log lines that show a denial, each as its message (JSON logs) or the line."""
    found = []
    for line in log_text.splitlines():
        if DENIAL.search(line):
            try:
                found.append(str(json.loads(line)["message"]))
            except (ValueError, KeyError, TypeError):
                found.append(line)
    return found


def summarize(lines: list[str], width: int = 400) -> str:
    """Distinct denials (retries of one request counted once), shortened."""
    counts: dict[str, int] = {}
    for line in lines:
        key = re.sub(r"attempt #\d+/\d+", "attempt #N", line)[:width]
        counts[key] = counts.get(key, 0) + 1
    return "\n".join(f"  {n}x {key}" for key, n in counts.items())


# ---- nobody else may act on the cluster with other credentials -------------------------------
def _proc_entries() -> Iterator[tuple[int, list[str], dict[str, str]]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            raw = (entry / "environ").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        env = dict(kv.split("=", 1) for kv in raw if "=" in kv)
        yield int(entry.name), argv, env


def other_operators(cluster: LocalCluster) -> list[str]:
    """`dbmigrator operator` processes talking to this cluster with its admin kubeconfig (the
    session's `operator` fixture of tests/e2e/conftest.py) or run by its node agent (the chart's
    Deployment pod): they would reconcile our resources and hide any missing permission."""
    admin = str(cluster.kubeconfig.resolve())
    found = []
    for pid, argv, env in _proc_entries():
        runs_operator = any(
            Path(a).name == "dbmigrator" and argv[i + 1 : i + 2] == ["operator"]
            for i, a in enumerate(argv)
        )
        if not runs_operator:
            continue
        kc = env.get("KUBECONFIG", "")
        mine = kc and Path(kc).resolve().as_posix() == admin
        if mine or env.get("LOCALCLUSTER_OWNER") == str(cluster.state_dir):
            found.append(f"pid {pid}: {' '.join(argv).strip()} (KUBECONFIG={kc})")
    return found
