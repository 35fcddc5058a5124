"""`make bench-operator`: how fast the operator reacts, and what 50 resources at once cost it.

On the real local control plane with a real PostgreSQL and the operator as a local process:

1. latency from a DatabaseMigration applied to its first Job created (a Job watch sees it);
2. latency from a Job's Complete condition to the resource's status recording that Job
   (both seen by watches in this process, so one clock measures both ends);
3. 50 resources against 50 databases applied at once: time until all are Ready, and the
   operator's peak RSS (VmHWM from /proc).

Writes the "## Operator" section of docs/benchmarks.md with --write.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from kubernetes import client, config, watch

from bench_engine import write_section
from localcluster.controlplane import start_cluster, stop_cluster
from localcluster.state import HOST_IP, POSTGRES_CLIENTS
from localcluster.turns import take_turn
from localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"
NS = "bench"


class Recorder:
    """Watches Jobs and DatabaseMigrations and notes when each thing was first seen."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.job_created: dict[str, float] = {}
        self.job_complete: dict[str, float] = {}
        self.status_has_job: dict[str, float] = {}
        self.first_status: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._jobs, daemon=True).start()
        threading.Thread(target=self._resources, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _jobs(self) -> None:
        batch: Any = client.BatchV1Api(self.api)
        while not self._stop.is_set():
            w = _new_watch()
            try:
                for ev in w.stream(batch.list_namespaced_job, NS, timeout_seconds=30):
                    now = time.monotonic()
                    job: Any = ev["object"]
                    name = job.metadata.name
                    self.job_created.setdefault(name, now)
                    for cond in job.status.conditions or []:
                        if cond.type == "Complete" and cond.status == "True":
                            self.job_complete.setdefault(name, now)
            except Exception:
                time.sleep(0.1)

    def _resources(self) -> None:
        custom: Any = client.CustomObjectsApi(self.api)
        while not self._stop.is_set():
            w = _new_watch()
            try:
                for ev in w.stream(custom.list_namespaced_custom_object, "dbmigrator.io", "v1alpha1",
                                   NS, "databasemigrations", timeout_seconds=30):  # fmt: skip
                    now = time.monotonic()
                    obj = ev["object"]
                    st = obj.get("status") or {}
                    if st.get("conditions"):
                        self.first_status.setdefault(obj["metadata"]["name"], now)
                    for rec in (st.get("run") or {}).get("completed") or []:
                        if rec.get("job"):
                            self.status_has_job.setdefault(rec["job"], now)
                    conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
                    if (
                        conds.get("Ready") == "True"
                        and st.get("observedGeneration") == obj["metadata"]["generation"]
                    ):
                        self.ready.setdefault(obj["metadata"]["name"], now)
            except Exception:
                time.sleep(0.1)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_databases(pg: LocalPostgres, count: int, prefix: str) -> list[str]:
    names = [f"{prefix}_{i}" for i in range(count)]
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
    for name in names:
        subprocess.run([str(CLI), "bootstrap"], env={**os.environ, "DATABASE_URL": pg.dsn(name)},
                       check=True, capture_output=True)  # fmt: skip
    return names


def resource(name: str, secret: str, target: str, phases: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "database": {"secretRef": {"name": secret, "key": "uri"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        "targetVersion": target,
        "backup": {"enabled": False},
        "rehearsal": {"enabled": False},
    }
    if phases:
        spec["phases"] = [{"name": "core", "through": "003"}, {"name": "pay", "through": "005"},
                          {"name": "features", "through": "008"}]  # fmt: skip
    return {"apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="dbmigrator-bench-cluster-"))
    turn = take_turn()  # noqa: F841 - the node is ours while this handle lives
    cluster = start_cluster(state)
    operator: subprocess.Popen[bytes] | None = None
    try:
        with LocalPostgres(host=HOST_IP, clients=POSTGRES_CLIENTS) as pg:
            loader: Any = config
            loader.load_kube_config(config_file=str(cluster.kubeconfig))
            api = client.ApiClient()
            core: Any = client.CoreV1Api(api)
            custom: Any = client.CustomObjectsApi(api)
            subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f",
                            str(REPO / "crds" / "dbmigrator.io_databasemigrations.yaml")], check=True,
                           capture_output=True)  # fmt: skip
            query = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
            while subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "crd",
                                  "databasemigrations.dbmigrator.io", "-o", query],
                                 capture_output=True, text=True).stdout.strip() != "True":  # fmt: skip
                time.sleep(0.2)
            core.create_namespace({"metadata": {"name": NS}})
            data = {p.name: p.read_text() for p in sorted((REPO / "migrations").glob("*.sql"))}
            core.create_namespaced_config_map(
                NS, {"metadata": {"name": "shop-migrations"}, "data": data}
            )
            env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
            env.pop("DATABASE_URL", None)
            log = (state / "operator.log").open("wb")
            operator = subprocess.Popen(
                [str(CLI), "operator", "--all-namespaces", "--standalone", "--metrics-port", "0",
                 "--liveness-port", "0"], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
            recorder = Recorder(api)
            recorder.start()
            time.sleep(3)  # the operator's watches are up

            # 1 + 2: sequential samples, one database each, target 001 (one quick Job).
            dbs = make_databases(pg, args.samples, "lat")
            first_job: list[float] = []
            first_write: list[float] = []
            to_status: list[float] = []
            for i, db in enumerate(dbs):
                name = f"lat-{i}"
                core.create_namespaced_secret(
                    NS, {"metadata": {"name": name}, "stringData": {"uri": pg.dsn(db)}}
                )
                t0 = time.monotonic()
                custom.create_namespaced_custom_object("dbmigrator.io", "v1alpha1", NS, "databasemigrations",
                                                       resource(name, name, "001", phases=False))  # fmt: skip
                deadline = time.monotonic() + 60
                job = f"{name}-g1-migrate-1"
                while time.monotonic() < deadline and job not in recorder.status_has_job:
                    time.sleep(0.01)
                if (
                    job not in recorder.job_created
                    or job not in recorder.job_complete
                    or job not in recorder.status_has_job
                ):
                    raise SystemExit(f"sample {name} did not finish: see {state / 'operator.log'}")
                first_job.append(recorder.job_created[job] - t0)
                first_write.append(recorder.first_status[name] - t0)
                to_status.append(recorder.status_has_job[job] - recorder.job_complete[job])

            # 3: N resources against N databases at once (three phases each: 3 Jobs per resource).
            n = args.concurrent
            dbs = make_databases(pg, n, "conc")
            for i, db in enumerate(dbs):
                core.create_namespaced_secret(
                    NS, {"metadata": {"name": f"conc-{i}"}, "stringData": {"uri": pg.dsn(db)}}
                )
            rss_before = peak_rss_mib(operator.pid)
            t0 = time.monotonic()
            for i in range(n):
                custom.create_namespaced_custom_object("dbmigrator.io", "v1alpha1", NS, "databasemigrations",
                                                       resource(f"conc-{i}", f"conc-{i}", "008", phases=True))  # fmt: skip
            names = {f"conc-{i}" for i in range(n)}
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline and not names <= set(recorder.ready):
                time.sleep(0.2)
            done = names & set(recorder.ready)
            total = max(recorder.ready[x] for x in done) - t0 if done else float("nan")
            rss = peak_rss_mib(operator.pid)
            recorder.stop()
    finally:
        if operator is not None and operator.poll() is None:
            os.killpg(operator.pid, signal.SIGTERM)
            operator.wait(timeout=20)
        stop_cluster(state)

    lines = [
        "## Operator",
        "",
        f"Measured by `make bench-operator` (`tools/bench_operator.py --samples {args.samples} "
        f"--concurrent {args.concurrent}`) on {os.cpu_count()} cores: the real local control "
        "plane with its real node (kubelet + containerd), a real PostgreSQL, the operator as a "
        "local process; every Job runs in a container of the project's image on the same 2 "
        "cores. Latencies are taken by watches in the benchmark process (one clock for both "
        "ends).",
        "",
        "| measure | p50 | p90 | p99 | max | target |",
        "|---|---|---|---|---|---|",
        f"| resource applied → first status write, Reconciling=True ({len(first_write)} samples) "
        f"| {statistics.median(first_write) * 1000:.0f} ms | {pct(first_write, 0.9) * 1000:.0f} ms "
        f"| {pct(first_write, 0.99) * 1000:.0f} ms | {max(first_write) * 1000:.0f} ms | p99 < 1 s |",
        f"| resource applied → first Job created ({len(first_job)} samples) | {statistics.median(first_job) * 1000:.0f} ms "
        f"| {pct(first_job, 0.9) * 1000:.0f} ms | {pct(first_job, 0.99) * 1000:.0f} ms "
        f"| {max(first_job) * 1000:.0f} ms | p50 < 1 s |",
        f"| Job Complete → status records it ({len(to_status)} samples) | {statistics.median(to_status) * 1000:.0f} ms "
        f"| {pct(to_status, 0.9) * 1000:.0f} ms | {pct(to_status, 0.99) * 1000:.0f} ms "
        f"| {max(to_status) * 1000:.0f} ms | p50 < 1 s |",
        "",
        f"{n} resources against {n} databases applied at once (the shop to 008 in three phases, "
        f"{3 * n} Jobs): {len(done)}/{n} Ready after **{total:.0f} s**; the operator's peak RSS "
        f"**{rss:.0f} MiB** (before the burst: {rss_before:.0f} MiB; target < 200 MiB).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, "## Operator", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _new_watch() -> Any:
    """A kubernetes watch (an untyped library: kept Any here)."""
    factory: Any = watch.Watch
    return factory()
