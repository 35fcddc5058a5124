"""The operator half of `make demo`: the same story on a real local control plane.

Starts the local cluster (building its binaries the first time), installs the CRD, runs the
operator as a process, applies the shop's DatabaseMigration and shows what an on-call engineer
sees: `kubectl get dbmigrations` while the phases run, validation in status, a lowered target
rolled back, a dangerous migration stopped for approval and approved by a commit-style
annotation of its plan's hash, and a broken migration that stops with file and line. Everything
it starts stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from localcluster.controlplane import start_cluster, stop_cluster
from localcluster.state import HOST_IP, POSTGRES_CLIENTS
from localcluster.turns import take_turn
from localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"
NS = "shop"
DANGEROUS = (
    "-- 009: faster order lists, longer totals\n"
    "CREATE INDEX orders_status_idx ON public.orders (status);\n"
    "\n"
    "ALTER TABLE public.orders\n"
    "  ALTER COLUMN total TYPE numeric(14, 2);\n"
)


def step(title: str) -> None:
    print(f"\n\033[1;36m━━ {title}\033[0m", flush=True)


class Demo:
    def __init__(self, kubeconfig: Path, pg: LocalPostgres) -> None:
        self.kubeconfig = kubeconfig
        self.pg = pg

    def kubectl(self, *args: str, stdin: str | None = None, show: bool = False) -> str:
        if show:
            print(f"\033[2m$ kubectl {' '.join(args)}\033[0m", flush=True)
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"demo: kubectl {' '.join(args)} failed: {proc.stderr}")
        if show:
            print(proc.stdout, end="", flush=True)
        return proc.stdout

    def wait_established(self, crd: str, timeout: float = 60) -> None:
        """Polled: `kubectl wait` on a CRD created a moment ago can fail before it has conditions,
        and so does a jsonpath filter over them (kubectl exits 1 when there is no list yet), so
        the conditions are read from the JSON."""
        deadline = time.monotonic() + timeout
        while not self._established(crd):
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: CRD {crd} was not established in {timeout:.0f}s")
            time.sleep(0.2)

    def _established(self, crd: str) -> bool:
        status = json.loads(self.kubectl("get", "crd", crd, "-o", "json")).get("status") or {}
        return any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(
            self.kubectl("-n", NS, "get", "dbm", "shop-db", "-o", "json")
        )
        return out

    def watch_until_settled(self, timeout: float = 240, phase: str = "") -> dict[str, Any]:
        """Print `kubectl get dbmigrations` rows as they change, until Ready or Stalled (or the
        current generation reaches `phase`)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            r = self.status()
            table = self.kubectl("-n", NS, "get", "dbmigrations")
            header, row = table.splitlines()[0], table.splitlines()[-1]
            if row.rsplit(None, 1)[0] != last:  # changed, AGE aside
                print(row if last else f"{header}\n{row}", flush=True)
                last = row.rsplit(None, 1)[0]
            st = r.get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            if st.get("observedGeneration") == r["metadata"]["generation"] and (
                conds.get("Ready") == "True"
                or conds.get("Stalled") == "True"
                or (phase and st.get("phase") == phase)
            ):
                final = self.kubectl("-n", NS, "get", "dbmigrations").splitlines()[-1]
                if final.rsplit(None, 1)[0] != last:
                    print(final, flush=True)
                return r
            time.sleep(0.5)
        raise SystemExit("demo: the migration did not settle in time")

    def migrations(self, extra: dict[str, str] | None = None) -> None:
        data = {p.name: p.read_text() for p in sorted((REPO / "migrations").glob("*.sql"))}
        data.update(extra or {})
        self.apply({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "shop-migrations", "namespace": NS}, "data": data})  # fmt: skip


def resource(target: str, **spec: Any) -> dict[str, Any]:
    checks = json.loads(subprocess.run(
        [sys.executable, "-c", "import json,yaml,sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
         str(REPO / "migrations" / "checks.yaml")], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    body: dict[str, Any] = {
        "database": {"secretRef": {"name": "shop-db-credentials", "key": "uri"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        "targetVersion": target,
        "phases": [{"name": "core-infrastructure", "through": "003"},
                   {"name": "payment-and-audit", "through": "005"},
                   {"name": "advanced-features", "through": "008"}],
        "backup": {"enabled": True, "volumeClaimName": "db-backups", "keep": 5},
        "rehearsal": {"enabled": True},
        "validation": {"roleProbes": checks.get("roleProbes", []), "queries": checks.get("queries", [])},
    }  # fmt: skip
    body.update(spec)
    return {"apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration",
            "metadata": {"name": "shop-db", "namespace": NS}, "spec": body}  # fmt: skip


def run_operator_story() -> None:
    state = Path(tempfile.mkdtemp(prefix="dbmigrator-demo-cluster-"))
    step(
        "Start a local Kubernetes cluster: etcd, kube-apiserver, controller-manager, scheduler, "
        "and a real node (kubelet + containerd) with the project's image"
    )
    print("(make demo built the binaries and the image first: ~15 minutes once, then cached)")
    turn = take_turn()  # noqa: F841 - the node is ours while this handle lives
    cluster = start_cluster(state)
    operator: subprocess.Popen[bytes] | None = None
    pg: LocalPostgres | None = None
    try:
        demo_nodes = [
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "get",
            "nodes",
            "-o",
            "wide",
        ]
        subprocess.run(demo_nodes, check=False)
        step("A PostgreSQL the pods can reach (on the host's end of the node's network)")
        pg = LocalPostgres(host=HOST_IP, clients=POSTGRES_CLIENTS).start()
        print(f"PostgreSQL {pg.major} on {HOST_IP}:{pg.port}")
        demo = Demo(cluster.kubeconfig, pg)
        print(f"cluster ready: {cluster.server}")
        demo.kubectl(
            "apply", "-f", str(REPO / "crds" / "dbmigrator.io_databasemigrations.yaml"), show=True
        )
        demo.wait_established("databasemigrations.dbmigrator.io")

        step("Run the operator (the same `dbmigrator` entry point the container image uses)")
        log = state / "operator.log"
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        env.pop("DATABASE_URL", None)
        with log.open("wb") as out:
            operator = subprocess.Popen(
                [str(CLI), "operator", "--all-namespaces", "--standalone", "--metrics-port", "0",
                 "--liveness-port", "0"], stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        print(f"operator pid {operator.pid}, log {log}")

        step(
            "Apply the shop: Secret (the URI, never inline), migrations ConfigMap, backup PVC, DatabaseMigration"
        )
        with_db(pg, "shop_k8s")
        demo.kubectl("create", "namespace", NS)
        demo.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db-credentials", "namespace": NS},
                    "stringData": {"uri": pg.dsn("shop_k8s")}})  # fmt: skip
        demo.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "db-backups", "namespace": NS},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip
        demo.migrations()
        demo.apply(resource("008"))

        step("kubectl get dbmigrations, while backup, rehearsal and the three phases run")
        demo.watch_until_settled()
        demo.kubectl("-n", NS, "get", "jobs", show=True)
        demo.kubectl("-n", NS, "get", "dbm", "-o", "wide", show=True)
        st = demo.status()["status"]
        print(f"validation: {st['validation']['total'] - st['validation']['failed']}/{st['validation']['total']} "
              f"checks passed; backup {st['backup']['file']} ({st['backup']['sizeBytes']} bytes)")  # fmt: skip

        step("Lower spec.targetVersion to 005: the operator rolls back with the down files")
        demo.kubectl("-n", NS, "patch", "dbm", "shop-db", "--type", "merge", "-p",
                     '{"spec":{"targetVersion":"005"}}', show=True)  # fmt: skip
        demo.watch_until_settled()

        step(
            "A dangerous 009 (a plain CREATE INDEX on a table that exists, a column type change): "
            "the plan step lints it and the run waits for approval; no backup, no Job"
        )
        demo.migrations({"009_orders_status_index.sql": DANGEROUS})
        demo.apply(resource("009", phases=[]))
        r = demo.watch_until_settled(phase="AwaitingApproval")
        plan = r["status"]["plan"]
        for finding in plan["lint"]:
            print(f"  {finding['file']}:{finding['line']} {finding['level']} {finding['rule']}")
        print(f"message: {r['status']['message']}")
        demo.kubectl("-n", NS, "get", "jobs", show=True)

        step("Approve exactly that plan the GitOps way: a commit of the annotation with its hash")
        # `kubectl apply` left its last-applied annotation, so the map exists: the same JSON
        # patch a kustomization carries.
        patch = [{"op": "add", "path": "/metadata/annotations/dbmigrator.io~1approve-plan",
                  "value": plan["hash"]}]  # fmt: skip
        print("# examples/shop/kustomization.yaml, in the approving commit:\npatches:\n"
              "  - target: {kind: DatabaseMigration, name: shop-db}\n    patch: |\n"
              "      - op: add\n        path: /metadata/annotations/dbmigrator.io~1approve-plan\n"
              f"        value: {plan['hash']}")  # fmt: skip
        demo.kubectl("-n", NS, "patch", "dbm", "shop-db", "--type", "json", "-p",
                     json.dumps(patch), show=True)  # fmt: skip
        demo.watch_until_settled()
        demo.kubectl("-n", NS, "get", "events", "--field-selector",
                     "involvedObject.kind=DatabaseMigration", "-o",
                     "custom-columns=REASON:.reason,MESSAGE:.message", show=True)  # fmt: skip

        step(
            "A broken migration 010: it stops with file, line and SQLSTATE, Stalled=True (Argo CD: Degraded)"
        )
        demo.migrations({"009_orders_status_index.sql": DANGEROUS,
                         "010_add_loyalty_points.sql": "alter table public.user_profiles add column "
                         "if not exists loyalty_points int;\n\nupdate public.user_profiles\n"
                         "   set loyalty_points = points_from_orders;\n"})  # fmt: skip
        demo.apply(resource("010", phases=[]))
        demo.watch_until_settled()
        conds = demo.kubectl("-n", NS, "get", "dbm", "shop-db", "-o",
                             "jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}){'\\n'}{end}")  # fmt: skip
        print(conds, end="")
        demo.kubectl(
            "-n",
            NS,
            "get",
            "events",
            "--field-selector",
            "type=Warning,reason!=MissingClusterDNS",
            show=True,
        )  # no DNS service here
        step("Every Job ran in a real container (containerd), as uid 10001 with a read-only root")
        demo.kubectl("-n", NS, "get", "pods", "-o", "custom-columns=POD:.metadata.name,"
                     "STATUS:.status.phase,UID:.spec.securityContext.runAsUser,"
                     "CONTAINER:.status.containerStatuses[0].containerID", show=True)  # fmt: skip
    finally:
        if operator is not None and operator.poll() is None:
            os.killpg(operator.pid, signal.SIGTERM)
            try:
                operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(operator.pid, signal.SIGKILL)
        if pg is not None:
            pg.stop()
        stop_cluster(state)


def with_db(pg: LocalPostgres, name: str) -> None:
    """A fresh database with the Supabase bootstrap (passwords stay out of command lines)."""
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    env = {**os.environ, "DATABASE_URL": pg.dsn(name)}
    subprocess.run([str(CLI), "bootstrap"], env=env, check=True, capture_output=True)
