"""End-to-end fixtures: the real local control plane, a real PostgreSQL, the operator as a process.

Tests talk to the cluster the way a user does (kubectl with the cluster's kubeconfig) and assert
on conditions. Each test gets its own namespace and its own database; the operator runs once per
session (tests that kill it get a fresh one through `operator.restart()`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from localcluster.controlplane import LocalCluster
from localcluster.pytest_plugin import local_cluster
from localcluster.state import HOST_IP, POSTGRES_CLIENTS
from localpg import LocalPostgres

__all__ = ["local_cluster"]

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "dbmigrator"
CRD = REPO / "crds" / "dbmigrator.io_databasemigrations.yaml"


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout if proc.returncode == 0 else proc.stderr


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


@dataclass
class Operator:
    kubeconfig: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0  # 0: no /metrics

    def sample(self, metric: str, /, **labels: str) -> float | None:
        """The value of one series on the operator's real /metrics, or None if it has none."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == metric and labels.items() <= sample.labels.items():
                    return float(sample.value)
        return None

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        env.pop("DATABASE_URL", None)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(CLI), "operator", "--all-namespaces", "--standalone",
                 "--metrics-port", str(self.metrics_port),
                 "--liveness-port", "0", "--allowed-source-images", "localhost/"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture(scope="session")
def cluster(local_cluster: LocalCluster) -> LocalCluster:
    kubectl(local_cluster.kubeconfig, "apply", "-f", str(CRD))

    def established() -> bool:
        # Polled: `kubectl wait` on a CRD created a moment ago can fail before it has conditions.
        out = kubectl(local_cluster.kubeconfig, "get", "crd", "databasemigrations.dbmigrator.io", "-o",
                      'jsonpath={.status.conditions[?(@.type=="Established")].status}', check=False)  # fmt: skip
        return out.strip() == "True"

    wait_for("the DatabaseMigration CRD to be established", established, timeout=60)
    return local_cluster


@pytest.fixture(scope="session")
def postgres(cluster: LocalCluster) -> Iterator[LocalPostgres]:
    """Reachable from the pods: it listens on the host's address on the node network too."""
    server = LocalPostgres(host=HOST_IP, clients=POSTGRES_CLIENTS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    with socket.socket() as free:  # a free port for /metrics (the tests read series there)
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    op = Operator(cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log",
                  metrics_port=port)  # fmt: skip
    op.start()
    try:
        yield op
    finally:
        op.stop()


@dataclass
class Shop:
    """One namespace with its own database, credentials Secret, migrations ConfigMap and PVC."""

    cluster: LocalCluster
    namespace: str
    dsn: str

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return kubectl(
            self.cluster.kubeconfig, "-n", self.namespace, *args, stdin=stdin, check=check
        )

    def apply(self, manifest: dict[str, Any] | str) -> str:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.kubectl("apply", "-f", "-", stdin=text)

    def set_migrations(self, directory: Path, extra: dict[str, str] | None = None) -> None:
        data = {p.name: p.read_text() for p in sorted(directory.glob("*.sql"))}
        data.update(extra or {})
        self.apply({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "shop-migrations", "namespace": self.namespace}, "data": data})  # fmt: skip

    def resource(self, name: str = "shop-db") -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.kubectl("get", "dbm", name, "-o", "json"))
        return out

    def condition(self, type_: str, name: str = "shop-db") -> dict[str, Any]:
        for cond in (self.resource(name).get("status") or {}).get("conditions") or []:
            if cond["type"] == type_:
                return dict(cond)
        return {}

    def wait_settled(self, name: str = "shop-db", timeout: float = 180) -> dict[str, Any]:
        """Until the current generation is decided: Ready=True or Stalled=True."""

        def settled() -> dict[str, Any] | None:
            r = self.resource(name)
            st = r.get("status") or {}
            if st.get("observedGeneration") != r["metadata"]["generation"]:
                return None
            conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
            return r if conds.get("Ready") == "True" or conds.get("Stalled") == "True" else None

        result: dict[str, Any] = wait_for(f"{name} to settle", settled, timeout)
        return result

    def jobs(self) -> list[str]:
        out = self.kubectl("get", "jobs", "-o", "jsonpath={.items[*].metadata.name}")
        return sorted(out.split())

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql.encode())
            return list(cur.fetchall()) if cur.description else []

    def tables(self) -> set[str]:
        return {
            str(r[0])
            for r in self.query("select tablename from pg_tables where schemaname = 'public'")
        }


def create_shop(cluster: LocalCluster, postgres: LocalPostgres, name: str) -> Shop:
    """A namespace `name` with a fresh bootstrapped database, its Secret, the PVC, the migrations."""
    dbname = name.replace("-", "_")
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"'.encode())
    dsn = postgres.dsn(dbname)
    subprocess.run([str(CLI), "bootstrap"], env={**os.environ, "DATABASE_URL": dsn}, check=True,
                   capture_output=True)  # fmt: skip
    s = Shop(cluster, name, dsn)
    kubectl(cluster.kubeconfig, "create", "namespace", name)
    # The apiserver's own PodSecurity admission judges every pod the operator makes here.
    kubectl(cluster.kubeconfig, "label", "namespace", name,
            "pod-security.kubernetes.io/enforce=restricted")  # fmt: skip
    s.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db-credentials", "namespace": name},
             "stringData": {"uri": dsn}})  # fmt: skip
    s.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "db-backups", "namespace": name},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip
    s.set_migrations(REPO / "migrations")
    return s


def drop_shop(cluster: LocalCluster, postgres: LocalPostgres, name: str) -> None:
    kubectl(cluster.kubeconfig, "delete", "namespace", name, "--wait=false", check=False)
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name.replace("-", "_")}" WITH (FORCE)'.encode())


@pytest.fixture
def shop(cluster: LocalCluster, postgres: LocalPostgres, operator: Operator) -> Iterator[Shop]:
    name = f"shop-{secrets.token_hex(3)}"
    s = create_shop(cluster, postgres, name)
    try:
        yield s
    finally:
        drop_shop(cluster, postgres, name)


def shop_resource(namespace: str, target: str = "008", **overrides: Any) -> dict[str, Any]:
    """The DESIGN.md example: the guide's three phases, backup, rehearsal, checks."""
    spec: dict[str, Any] = {
        "database": {"secretRef": {"name": "shop-db-credentials", "key": "uri"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        "targetVersion": target,
        "phases": [
            {"name": "core-infrastructure", "through": "003"},
            {"name": "payment-and-audit", "through": "005"},
            {"name": "advanced-features", "through": "008"},
        ],
        "backup": {"enabled": True, "volumeClaimName": "db-backups", "keep": 5},
        "rehearsal": {"enabled": True},
        "validation": {
            "roleProbes": [
                {"role": "anon", "sql": "select * from public.categories limit 1", "expect": "allowed"},
                {"role": "anon", "sql": "select * from public.orders limit 1", "expect": "empty"},
                {"role": "authenticated", "claims": {"sub": "00000000-0000-0000-0000-000000000001"},
                 "sql": "select * from public.user_profiles", "expect": "allowed"},
            ],
            "queries": [{"name": "parts-search", "sql": "select * from public.spare_parts where name ilike '%engine%'",
                         "maxDegradationPercent": 50}],
        },
    }  # fmt: skip
    spec.update(overrides)
    return {"apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration",
            "metadata": {"name": "shop-db", "namespace": namespace}, "spec": spec}  # fmt: skip
