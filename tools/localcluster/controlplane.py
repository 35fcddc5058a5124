"""Start and stop the local control plane: etcd, kube-apiserver, kube-controller-manager, agent.

`start_cluster` makes (or reuses) the PKI, picks free loopback ports, starts each process
detached with its log in `<state>/logs/`, waits for etcd `/health`, the apiserver `/readyz` and
the node agent's Ready Node, and writes `state.json` and the kubeconfig. `stop_cluster` stops the
process groups in reverse order and kills any straggler carrying this state dir's marker.
On a failed start, the failing process's log tail is in the raised error and everything already
started is stopped.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import processes
from localcluster.binaries import Binaries, ensure_binaries
from localcluster.pki import Pki, ensure_pki
from localcluster.state import (
    NODE_NAME,
    REPO_ROOT,
    ClusterState,
    Layout,
    read_state,
    write_state,
)

SERVICE_CIDR = "10.0.0.0/24"
CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "namespace-controller",
    "serviceaccount-controller",
)
# Stop order: the agent first (it kills its container processes), etcd last.
START_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "node-agent")


class ClusterError(RuntimeError):
    """The cluster could not be started (the message carries the failing process's log)."""


class AlreadyRunningError(ClusterError):
    """`up` while this state directory's cluster is already running."""


@dataclass(frozen=True)
class LocalCluster:
    """A running local cluster: its state directory, kubeconfig and API server URL."""

    state_dir: Path
    server: str

    @property
    def layout(self) -> Layout:
        return Layout(self.state_dir)

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` for the admin user (close it when done)."""
        from kubernetes import config

        loader: Any = config
        return loader.new_client_from_config(config_file=str(self.kubeconfig))

    def read_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """A pod's container log as written by the node agent (see `nodeagent.read_pod_log`)."""
        from localcluster.nodeagent import read_pod_log

        return read_pod_log(self.state_dir, namespace, pod, container)

    def stop(self) -> None:
        stop_cluster(self.state_dir)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(taken: Collection[int] = ()) -> int:
    """A loopback port that is free now and outside the kernel's ephemeral range, so that no
    outgoing connection (etcd client, our readiness probes) grabs it before the server binds."""
    low, high = _ephemeral_range()
    candidates = [p for p in (*range(20000, low), *range(high + 1, 65536)) if p not in taken]
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(ports)
        if port not in ports:
            ports.append(port)
    return ports


def render_kubeconfig(server: str, pki: Pki) -> dict[str, Any]:
    """A kubeconfig with the CA and the admin client certificate embedded."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "localcluster",
                "cluster": {"server": server, "certificate-authority-data": b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "localcluster-admin",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": "localcluster",
                "context": {
                    "cluster": "localcluster",
                    "user": "localcluster-admin",
                    "namespace": "default",
                },
            }
        ],
        "current-context": "localcluster",
    }


def etcd_args(bins: Binaries, layout: Layout, client_port: int, peer_port: int) -> list[str]:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(bins.etcd),
        "--name=localcluster",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=localcluster={peer}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(bins: Binaries, pki: Pki, etcd_port: int, port: int) -> list[str]:
    return [
        str(bins.apiserver),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-issuer=https://127.0.0.1:{port}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        # The endpoint reconciler would publish 127.0.0.1 in the `kubernetes` Endpoints, which
        # validation rejects (loopback); nothing in-cluster needs that Service.
        "--endpoint-reconciler-type=none",
        "--v=1",
    ]


def controller_manager_args(bins: Binaries, layout: Layout, pki: Pki) -> list[str]:
    return [
        str(bins.controller_manager),
        f"--kubeconfig={layout.kubeconfig}",
        "--leader-elect=false",
        "--secure-port=0",
        f"--controllers={','.join(CONTROLLERS)}",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        "--v=1",
    ]


def agent_args(layout: Layout) -> list[str]:
    return [sys.executable, "-m", "localcluster", "--dir", str(layout.root), "agent"]


def _agent_env() -> dict[str, str]:
    env = dict(os.environ)
    tools = str(REPO_ROOT / "tools")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tools, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _tls_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return ctx


def api_get(server: str, path: str, pki: Pki, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `path` from the API server as admin; (status, body); status 0 on connection errors."""
    try:
        with urllib.request.urlopen(  # noqa: S310 - https URL we built
            server + path, context=_tls_context(pki), timeout=timeout
        ) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def _wait(
    what: str,
    check: Callable[[], bool],
    layout: Layout,
    state: ClusterState,
    watch: tuple[str, ...],
    timeout: float,
) -> None:
    """Poll `check` until true; fail early (with the log tail) if a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        for name in watch:
            if not processes.is_alive(state.pids[name]):
                log = layout.process_log(name)
                raise ClusterError(
                    f"{name} exited while waiting for {what}; last lines of {log}:\n"
                    + processes.log_tail(log)
                )
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- {layout.process_log(n)}:\n{processes.log_tail(layout.process_log(n), 15)}"
                for n in watch
            )
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(0.1)


def _etcd_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _node_ready(server: str, pki: Pki) -> bool:
    status, body = api_get(server, f"/api/v1/nodes/{NODE_NAME}", pki)
    if status != 200:
        return False
    conditions = json.loads(body).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def running_cluster(state_dir: Path) -> LocalCluster | None:
    """The cluster of `state_dir` if its state file names live processes."""
    layout = Layout(state_dir)
    state = read_state(layout)
    if state is None or not any(processes.is_alive(pid) for pid in state.pids.values()):
        return None
    return LocalCluster(state_dir=state_dir, server=state.server)


def _fresh_dirs(layout: Layout) -> None:
    """A new cluster starts empty: etcd data, pods, PVC dirs and logs of the last run go."""
    for path in (layout.etcd_data, layout.pods, layout.volumes, layout.logs):
        shutil.rmtree(path, ignore_errors=True)
    for path in (layout.root, layout.logs, layout.pods, layout.volumes):
        path.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.mkdir(mode=0o700)


def start_cluster(state_dir: Path, bins: Binaries | None = None) -> LocalCluster:
    """Start everything and wait until /readyz is ok and the node is Ready (one retry with
    other ports if a port was taken between choosing and binding it)."""
    state_dir = state_dir.resolve()
    if running_cluster(state_dir) is not None:
        raise AlreadyRunningError(f"a local cluster is already running in {state_dir}")
    bins = bins or ensure_binaries()
    for attempt in (1, 2, 3):
        try:
            return _start_once(state_dir, bins)
        except ClusterError as err:
            if "address already in use" not in str(err) or attempt == 3:
                raise
    raise AssertionError("unreachable")


def _start_once(state_dir: Path, bins: Binaries) -> LocalCluster:
    layout = Layout(state_dir)
    _fresh_dirs(layout)
    pki = ensure_pki(layout.pki)
    etcd_port, peer_port, api_port = _free_ports(3)
    server = f"https://127.0.0.1:{api_port}"
    state = ClusterState(
        ports={"etcd": etcd_port, "etcd-peer": peer_port, "kube-apiserver": api_port},
        server=server,
        started_at=time.time(),
    )
    layout.kubeconfig.write_text(yaml.safe_dump(render_kubeconfig(server, pki), sort_keys=False))
    layout.kubeconfig.chmod(0o600)
    try:
        state.pids["etcd"] = processes.spawn(
            etcd_args(bins, layout, etcd_port, peer_port), layout.process_log("etcd"), state_dir
        )
        write_state(layout, state)
        state.pids["kube-apiserver"] = processes.spawn(
            apiserver_args(bins, pki, etcd_port, api_port),
            layout.process_log("kube-apiserver"),
            state_dir,
        )
        write_state(layout, state)
        _wait("etcd /health", lambda: _etcd_healthy(etcd_port), layout, state, ("etcd",), 30)
        _wait(
            "kube-apiserver /readyz",
            lambda: api_get(server, "/readyz", pki)[0] == 200,
            layout,
            state,
            ("etcd", "kube-apiserver"),
            90,
        )
        state.pids["kube-controller-manager"] = processes.spawn(
            controller_manager_args(bins, layout, pki),
            layout.process_log("kube-controller-manager"),
            state_dir,
        )
        state.pids["node-agent"] = processes.spawn(
            agent_args(layout), layout.agent_log, state_dir, env=_agent_env()
        )
        write_state(layout, state)
        _wait(
            f"node {NODE_NAME} Ready",
            lambda: _node_ready(server, pki),
            layout,
            state,
            START_ORDER,
            60,
        )
    except BaseException:
        stop_cluster(state_dir)
        raise
    return LocalCluster(state_dir=state_dir, server=server)


def stop_cluster(state_dir: Path) -> list[str]:
    """Stop every process of `state_dir`'s cluster; return what was stopped. Idempotent."""
    state_dir = state_dir.resolve()
    layout = Layout(state_dir)
    state = read_state(layout)
    stopped: list[str] = []
    if state is not None:
        for name in reversed(START_ORDER):
            pid = state.pids.get(name)
            if pid is not None and processes.is_alive(pid):
                processes.stop_group(pid, grace=15.0 if name == "node-agent" else 10.0)
                stopped.append(name)
    stragglers = processes.kill_marked(state_dir)
    stopped.extend(f"straggler pid {pid}" for pid in stragglers)
    layout.state_file.unlink(missing_ok=True)
    return stopped
