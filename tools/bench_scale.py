"""`make bench-scale`: the operator at a thousand resources, kwok standing in for the nodes.

On the real local control plane (etcd, kube-apiserver, controller-manager, scheduler) with the
operator as a local process, N DatabaseMigrations across M namespaces are created at once. Their
Jobs' pods are scheduled onto fake nodes that kwok (sigs.k8s.io/kwok, built from its Go module
by hack/build-kwok.sh) keeps Ready, and kwok's stages take each pod through Running to
Succeeded after a simulated engine time. The real node is cordoned for the run.

How the engine's result reaches the operator: the operator trusts only the engine container's
termination message (`status.containerStatuses[].state.terminated.message`) of a pod owned by
the Job. The benchmark runs the real `dbmigrator up` once against a real PostgreSQL with
`--termination-log`, and kwok's pod-complete stage writes that very document into every
completed pod's terminated state. Every resource targets the same version from the same files,
so one document is right for all of them (the operator validates it like any other).

Measured: time from the first create until every resource is Ready; the operator's peak RSS
(VmHWM); reconcile p50/p99 (`dbmigrator_reconcile_duration_seconds`, interpolated within its
buckets as Prometheus' histogram_quantile does); and API requests per resource, from the
apiserver's `apiserver_request_total` before and after, by resource and verb. The apiserver
counts every client, so the report splits the requests only the operator makes (its resources'
reads and status writes, Jobs created, pods and Jobs listed, Secrets and ConfigMaps read) from
those shared with the Job controller, the scheduler and kwok (Events, Job and pod status).

Writes the "## Operator at scale" section of docs/benchmarks.md with --write.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench_engine import write_section
from localcluster.controlplane import LocalCluster, start_cluster, stop_cluster
from localcluster.turns import take_turn
from localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"
GROUP, VERSION, PLURAL = "dbmigrator.io", "v1alpha1", "databasemigrations"
FAKE = "kwok.x-k8s.io/node"
TARGET = "001"

# Requests only the operator makes, by (resource, subresource, verb) as the apiserver labels
# them; the benchmark's own creates (one POST per resource) are subtracted.
OPERATOR_ONLY = {
    ("databasemigrations", "", "GET"), ("databasemigrations", "", "LIST"),
    ("databasemigrations", "", "WATCH"), ("databasemigrations", "", "PATCH"),
    ("databasemigrations", "status", "PATCH"), ("databasemigrations", "status", "UPDATE"),
    ("jobs", "", "POST"), ("jobs", "", "LIST"), ("jobs", "", "DELETE"),
    ("pods", "", "LIST"), ("secrets", "", "GET"), ("configmaps", "", "GET"),
}  # fmt: skip


# kwok Stages: a fake node becomes Ready (kwok then renews its Lease, which keeps it Ready for
# the node lifecycle controller); a pod on a fake node runs at once; a Job's pod succeeds after the simulated
# engine time with the canned result as its containers' termination message; a deleted pod
# goes. kwok renders `statusTemplate` as a Go template over the pod and patches the status.
STAGES = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: dbmigrator-node-ready
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - {key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ["True"]}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Ready, status: "True", reason: KubeletReady, message: kwok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      {{ range list "MemoryPressure" "DiskPressure" "PIDPressure" "NetworkUnavailable" }}
      - {type: {{ . }}, status: "False", reason: Fine, message: kwok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      {{ end }}
      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ NodeName | Quote }}}
      allocatable: {cpu: "64", memory: 256Gi, pods: "250"}
      capacity: {cpu: "64", memory: 256Gi, pods: "250"}
      nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: kwok, containerRuntimeVersion: kwok, kernelVersion: kwok, kubeProxyVersion: kwok, osImage: kwok, bootID: "", machineID: "", systemUUID: ""}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: dbmigrator-pod-running
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.podIP, operator: DoesNotExist}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName false .metadata.uid .metadata.name .metadata.namespace | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: dbmigrator-engine-done
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Running]}
    - {key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}
  delay:
    durationMilliseconds: __ENGINE_MS__
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
            message: __RESULT__
      {{ end }}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: dbmigrator-pod-delete
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: Exists}
  next:
    finalizers: {empty: true}
    delete: true
"""


def kwok_stages(result: str, engine_ms: int) -> str:
    """The Stages with the canned result (a JSON string is a valid YAML double-quoted scalar;
    Go template delimiters inside it would be read as actions, so they are refused)."""
    if "{{" in result or "}}" in result:
        raise ValueError("the canned result contains Go template delimiters")
    return STAGES.replace("__ENGINE_MS__", str(engine_ms)).replace("__RESULT__", json.dumps(result))


def fake_node(name: str) -> dict[str, Any]:
    """A Node that kwok manages (by annotation): big enough for a hundred pods."""
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "250"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "annotations": {FAKE: "fake"},
                     "labels": {"type": "kwok", "kubernetes.io/hostname": name}},
        "spec": {"taints": []},
        "status": {"capacity": capacity, "allocatable": capacity},
    }  # fmt: skip


def resource(namespace: str, name: str) -> dict[str, Any]:
    """One migration run: a single Job (no plan step, no backup, no rehearsal, no validation;
    the kwok stages complete every pod with one canned `up` result)."""
    spec = {
        "database": {"secretRef": {"name": "db", "key": "uri"}},
        "source": {"configMap": {"name": "migrations"}},
        "targetVersion": TARGET,
        "backup": {"enabled": False},
        "rehearsal": {"enabled": False},
        "validation": {"enabled": False},
        "safety": {"review": "Never", "drift": "Ignore"},
    }
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DatabaseMigration",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def request_counts(metrics_text: str) -> dict[tuple[str, str, str], float]:
    """`apiserver_request_total` summed by (resource, subresource, verb)."""
    out: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            key = (labels.get("resource", ""), labels.get("subresource", ""), labels["verb"])
            out[key] = out.get(key, 0.0) + sample.value
    return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) buckets."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower_bound
            width = count - lower_count
            fraction = (rank - lower_count) / width if width else 1.0
            return lower_bound + (upper - lower_bound) * fraction
        lower_bound, lower_count = upper, count
    return lower_bound


def reconcile_quantiles(metrics_text: str) -> tuple[float, float, int]:
    """p50, p99 and count of the operator's reconcile durations."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "dbmigrator_reconcile_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), sample.value))
    if not buckets:
        raise RuntimeError("the operator exported no dbmigrator_reconcile_duration_seconds")
    count = int(max(c for _, c in buckets))
    return histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets), count


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def canned_result(work: Path) -> str:
    """The termination-log document of a real `dbmigrator up` to TARGET of the shop's files."""
    files = work / "migrations"
    files.mkdir()
    for path in sorted((REPO / "migrations").glob(f"{TARGET}_*.sql")):
        (files / path.name).write_text(path.read_text())
    log = work / "termination-log"
    with LocalPostgres() as pg:
        env = {**os.environ, "DATABASE_URL": pg.dsn()}
        subprocess.run([str(CLI), "bootstrap"], env=env, check=True, capture_output=True)
        subprocess.run([str(CLI), "up", "--dir", str(files), "--target", TARGET, "--no-validate",
                        "--termination-log", str(log)], env=env, check=True,
                       capture_output=True)  # fmt: skip
    return log.read_text()


@dataclass
class Report:
    resources: int
    namespaces: int
    nodes: int
    engine_ms: int
    ready: int = 0
    all_ready_s: float = float("nan")
    created_s: float = float("nan")
    rss_mib: float = 0.0
    rss_idle_mib: float = 0.0
    reconcile_p50: float = float("nan")
    reconcile_p99: float = float("nan")
    reconciles: int = 0
    requests: dict[tuple[str, str, str], float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def operator_requests(self) -> dict[tuple[str, str, str], float]:
        return {k: v for k, v in self.requests.items() if k in OPERATOR_ONLY and v}

    def per_resource(self) -> float:
        return sum(self.operator_requests().values()) / self.resources


class Kubectl:
    def __init__(self, cluster: LocalCluster) -> None:
        self.argv = ["kubectl", f"--kubeconfig={cluster.kubeconfig}"]

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run([*self.argv, *args], input=stdin, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout


@contextmanager
def running(argv: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def measure(cluster: LocalCluster, kwok: Path, work: Path, *, resources: int, namespaces: int,
            nodes: int = 10, engine_ms: int = 1000, timeout: float = 1800) -> Report:  # fmt: skip
    """Run the scale scenario on `cluster` and leave it as it was (namespaces and nodes gone,
    the real node uncordoned)."""
    from kubernetes import client

    report = Report(resources, namespaces, nodes, engine_ms)
    kubectl = Kubectl(cluster)
    api = cluster.api_client()
    custom: Any = client.CustomObjectsApi(api)
    core: Any = client.CoreV1Api(api)
    real_nodes = [n for n in kubectl("get", "nodes", "-o", "name").split() if n]
    stages = work / "stages.yaml"
    stages.write_text(kwok_stages(canned_result(work), engine_ms))
    kubectl(
        "apply", "--server-side", "-f", str(REPO / "crds" / "dbmigrator.io_databasemigrations.yaml")
    )
    kubectl("wait", "--for=condition=Established", "crd/databasemigrations.dbmigrator.io")
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    env.pop("DATABASE_URL", None)
    kwok_argv = [str(kwok), f"--kubeconfig={cluster.kubeconfig}", "--manage-all-nodes=false",
                 f"--manage-nodes-with-annotation-selector={FAKE}=fake", f"--config={stages}",
                 "--server-address=", "--node-lease-duration-seconds=40",
                 "--cidr=10.245.0.0/16", "--node-ip=10.246.0.1"]  # fmt: skip
    metrics_port = free_port()
    operator_argv = [str(CLI), "operator", "--all-namespaces", "--standalone",
                     "--metrics-port", str(metrics_port), "--liveness-port", "0"]  # fmt: skip
    fake_names = [f"kwok-node-{i}" for i in range(nodes)]
    ns_names = [f"scale-{i:03d}" for i in range(namespaces)]
    try:
        for node in real_nodes:
            kubectl("cordon", node)
        with running(kwok_argv, work / "kwok.log", env), \
             running(operator_argv, work / "operator.log", env) as operator:  # fmt: skip
            for name in fake_names:
                core.create_node(fake_node(name))
            wait_until("the fake nodes Ready", lambda: all(
                any(c.type == "Ready" and c.status == "True"
                    for c in core.read_node(n).status.conditions or [])
                for n in fake_names), timeout=120)  # fmt: skip
            files = {p.name: p.read_text() for p in sorted((REPO / "migrations").glob("*.sql"))}
            for ns in ns_names:
                core.create_namespace({"metadata": {"name": ns}})
                core.create_namespaced_secret(ns, {"metadata": {"name": "db"}, "stringData": {
                    "uri": "postgresql://migrator@db.invalid:5432/app"}})  # fmt: skip
                core.create_namespaced_config_map(
                    ns, {"metadata": {"name": "migrations"}, "data": files}
                )
            wait_until("default ServiceAccounts", lambda: all(
                core.list_namespaced_service_account(ns).items for ns in ns_names), timeout=120)  # fmt: skip
            time.sleep(2)  # the operator's watches are up
            report.rss_idle_mib = peak_rss_mib(operator.pid)
            before = request_counts(kubectl("get", "--raw", "/metrics"))
            items = [
                (ns_names[i % namespaces], f"db-{i // namespaces:03d}") for i in range(resources)
            ]
            ready: dict[tuple[str, str], float] = {}
            stop = threading.Event()
            watcher = threading.Thread(
                target=_watch_ready, args=(cluster, ready, stop), daemon=True
            )
            watcher.start()
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda it: custom.create_namespaced_custom_object(
                    GROUP, VERSION, it[0], PLURAL, resource(*it)), items))  # fmt: skip
            report.created_s = time.monotonic() - t0
            wanted = set(items)
            with suppress(TimeoutError):  # the report says which are not Ready
                wait_until(f"{resources} resources Ready", lambda: wanted <= set(ready),
                           timeout=timeout, interval=1.0)  # fmt: skip
            stop.set()
            report.ready = len(wanted & set(ready))
            if report.ready == resources:
                report.all_ready_s = max(ready.values()) - t0
            else:
                report.failures = _not_ready(custom, sorted(wanted - set(ready)))
            time.sleep(3)  # the last status writes are counted
            after = request_counts(kubectl("get", "--raw", "/metrics"))
            report.requests = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
            creates = ("databasemigrations", "", "POST")
            report.requests[creates] = report.requests.get(creates, 0.0) - resources
            report.rss_mib = peak_rss_mib(operator.pid)
            with urllib.request.urlopen(
                f"http://127.0.0.1:{metrics_port}/metrics", timeout=10
            ) as r:
                text = r.read().decode()
            report.reconcile_p50, report.reconcile_p99, report.reconciles = reconcile_quantiles(
                text
            )
            for ns in ns_names:
                core.delete_namespace(ns)
            with suppress(TimeoutError):  # kwok still runs, so the pods go and so do they
                wait_until("the namespaces gone", lambda: not any(
                    n.metadata.name in ns_names for n in core.list_namespace().items),
                    timeout=120, interval=1.0)  # fmt: skip
            for name in fake_names:
                core.delete_node(name)
    finally:
        for node in real_nodes:
            kubectl("uncordon", node)
        api.close()
    return report


def _watch_ready(
    cluster: LocalCluster, ready: dict[tuple[str, str], float], stop: threading.Event
) -> None:
    """Note when each resource is first Ready at its current generation (a cluster-wide watch)."""
    from kubernetes import client, watch

    api = cluster.api_client()
    custom: Any = client.CustomObjectsApi(api)
    new_watch: Any = watch.Watch  # an untyped library
    while not stop.is_set():
        try:
            for ev in new_watch().stream(custom.list_cluster_custom_object, GROUP, VERSION,
                                           PLURAL, timeout_seconds=20):  # fmt: skip
                obj = ev["object"]
                st = obj.get("status") or {}
                conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
                meta = obj["metadata"]
                if (
                    conds.get("Ready") == "True"
                    and st.get("observedGeneration") == meta["generation"]
                ):
                    ready.setdefault((meta["namespace"], meta["name"]), time.monotonic())
                if stop.is_set():
                    break
        except Exception:  # a dropped watch is restarted; the next list replays the state
            time.sleep(0.2)
    api.close()


def _not_ready(custom: Any, items: list[tuple[str, str]]) -> list[str]:
    out = []
    for ns, name in items[:5]:
        st = (
            custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name).get("status")
            or {}
        )
        out.append(f"{ns}/{name}: phase {st.get('phase')}: {st.get('message')}")
    return out


def render(report: Report, command: str) -> str:
    own = report.operator_requests()
    rows = "\n".join(
        f"| {res}{'/' + sub if sub else ''} | {verb} | {count:.0f} | {count / report.resources:.2f} |"
        for (res, sub, verb), count in sorted(own.items(), key=lambda kv: -kv[1])
    )
    shared = {k: v for k, v in report.requests.items() if k not in OPERATOR_ONLY and v > 0}
    shared_rows = ", ".join(
        f"{res}{'/' + sub if sub else ''} {verb} {count:.0f}"
        for (res, sub, verb), count in sorted(shared.items(), key=lambda kv: -kv[1])[:8]
    )
    kcm = sum(report.requests.get(k, 0.0) for k in (
        ("jobs", "status", "PUT"), ("pods", "", "POST"), ("pods", "", "PATCH")))  # fmt: skip
    ready = (
        f"all {report.resources} Ready after **{report.all_ready_s:.0f} s**"
        if report.ready == report.resources
        else f"only {report.ready}/{report.resources} Ready: " + "; ".join(report.failures)
    )
    return f"""## Operator at scale

Measured by `make bench-scale` (`{command}`) on {os.cpu_count()} cores: the real local control
plane, the operator as a local process (`--all-namespaces`), {report.resources} DatabaseMigrations
across {report.namespaces} namespaces created at once (8 client threads, {report.created_s:.0f} s to
create them all), each one Job (`spec.safety` review Never, drift Ignore: no plan step); the pods run on {report.nodes} kwok nodes, and kwok's stage
completes each after {report.engine_ms} ms with the termination message of a real `dbmigrator up`
(see the module docstring of tools/bench_scale.py for why that is a faithful result).

| measure | value | goal |
|---|---|---|
| resources Ready | {ready} | every one |
| operator peak RSS (VmHWM) | **{report.rss_mib:.0f} MiB** (idle before the burst: {report.rss_idle_mib:.0f} MiB) | < 300 MiB |
| reconcile p50 / p99 ({report.reconciles} reconciles) | {report.reconcile_p50 * 1000:.0f} ms / {report.reconcile_p99 * 1000:.0f} ms | |
| API requests by the operator per resource | **{report.per_resource():.1f}** | bounded |

Requests only the operator makes (from `apiserver_request_total`, the benchmark's own creates
subtracted):

| resource | verb | requests | per resource |
|---|---|---|---|
{rows}

Shared with the Job controller, the scheduler and kwok (not attributable by the apiserver's
metric, the largest): {shared_rows or "none"}.

Where the time goes: the Job controller alone must create every pod, remove every pod's
tracking finalizer and update every Job's status ({kcm:.0f} requests, before its Events), through
kube-controller-manager's client, which the upstream default limits to 20 requests per second
(`--kube-api-qps`): at least **{kcm / 20:.0f} s** for {report.resources} Jobs, whatever the
operator does. The operator's own cost per resource is bounded: 5 reads per look (the resource,
its Jobs, their pods, and, only when a Job could be created, the Secret and the ConfigMap), 3
looks driven by events (created, Job seen, Job finished) plus one poll per 60 s of waiting for a
Job, 2 status writes and 1 Job per step. The polls grow with the wait, which here is the Job
controller's queue.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--engine-ms", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    kwok = Path(subprocess.run(["bash", str(REPO / "hack" / "build-kwok.sh")], check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1])  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="dbmigrator-bench-scale-"))
    turn = take_turn()  # noqa: F841 - the node is ours while this handle lives
    cluster = start_cluster(work / "cluster")
    try:
        report = measure(cluster, kwok, work, resources=args.resources,
                         namespaces=args.namespaces, nodes=args.nodes,
                         engine_ms=args.engine_ms, timeout=args.timeout)  # fmt: skip
    finally:
        stop_cluster(cluster.state_dir)
    command = (f"tools/bench_scale.py --resources {args.resources} --namespaces {args.namespaces} "
               f"--nodes {args.nodes} --engine-ms {args.engine_ms}")  # fmt: skip
    text = render(report, command)
    print(text)
    if args.write:
        write_section(args.write, "## Operator at scale", text)
    return 0 if report.ready == report.resources else 1


if __name__ == "__main__":
    sys.exit(main())
