"""Start and stop the local cluster: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, and a real node (containerd + kubelet in a network namespace) with a volume
provisioner.

`start_cluster` makes (or reuses) the PKI, sets up the node's network, picks free ports, starts
each process detached with its log in `<state>/logs/`, imports the images into containerd while
the control plane comes up, waits for etcd `/health`, the apiserver `/readyz` and a Ready node,
and writes `state.json` and the kubeconfig. `stop_cluster` stops the kubelet and every container
first, then the rest in reverse order, kills any straggler carrying this state dir's marker, and
removes what the node leaves on the host. On a failed start, the failing process's log tail is
in the raised error and everything already started is stopped.

Only one cluster with a node can run on a machine (one network namespace, one containerd): a
second `up` while another state directory's cluster runs is refused with its path.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import node, processes
from localcluster.binaries import Binaries, ensure_binaries
from localcluster.pki import Pki, ensure_pki
from localcluster.state import (
    HOST_IP,
    NODE_NAME,
    REPO_ROOT,
    RUN_DIR,
    ClusterState,
    Layout,
    cache_dir,
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
    "root-ca-certificate-publisher-controller",  # kube-root-ca.crt for projected SA tokens
    "deployment-controller",  # the chart's operator Deployment
    "replicaset-controller",
    "node-lifecycle-controller",  # lifts the not-ready taint once the kubelet is Ready
    "persistentvolume-binder-controller",
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "pod-garbage-collector-controller",
    "endpointslice-controller",
    "clusterrole-aggregation-controller",  # fills admin/edit/view from labelled ClusterRoles
)
# Stop order is the reverse: the kubelet first (containers next), etcd last.
START_ORDER = (
    "etcd",
    "kube-apiserver",
    "containerd",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "provisioner",
)
NODE_LOCK = cache_dir() / "node" / "owner"  # which state directory's cluster has the node


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
        """A pod's container log, from the kubelet through the apiserver (`kubectl logs`)."""
        argv = ["kubectl", f"--kubeconfig={self.kubeconfig}", "-n", namespace, "logs", pod]
        proc = subprocess.run(
            [*argv, *(["-c", container] if container else [])],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise FileNotFoundError(f"no log of {namespace}/{pod}: {proc.stderr.strip()}")
        return proc.stdout

    def load_image(self, ref: str) -> None:
        """Import `ref` from podman's storage into the node (a registry pull's stand-in)."""
        node.load_podman_image(ref)

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
        # The host's end of the node's veth pair: reachable from the host, the kubelet and the
        # pods (through the `kubernetes` Service), from nowhere else.
        f"--bind-address={HOST_IP}",
        f"--advertise-address={HOST_IP}",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={pki.kubelet_client_cert}",
        f"--kubelet-client-key={pki.kubelet_client_key}",
        "--kubelet-preferred-address-types=InternalIP",
        "--allow-privileged=true",
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


def scheduler_args(bins: Binaries, layout: Layout) -> list[str]:
    return [
        str(bins.scheduler),
        f"--kubeconfig={layout.kubeconfig}",
        f"--authentication-kubeconfig={layout.kubeconfig}",
        f"--authorization-kubeconfig={layout.kubeconfig}",
        "--leader-elect=false",
        "--secure-port=0",
        "--v=1",
    ]


def provisioner_args(layout: Layout) -> list[str]:
    return [sys.executable, "-m", "localcluster", "--dir", str(layout.root), "provisioner"]


def _python_env() -> dict[str, str]:
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


def node_owner() -> Path | None:
    """The state directory whose running cluster holds the node, if any."""
    try:
        owner = Path(NODE_LOCK.read_text().strip())
    except OSError:
        return None
    return owner if running_cluster(owner) is not None else None


def _fresh_dirs(layout: Layout) -> None:
    """A new cluster starts empty: etcd data, the node's dirs, PVC dirs and logs of the last run."""
    node.unmount_under([layout.node])
    for path in (layout.etcd_data, layout.node, layout.volumes, layout.logs):
        shutil.rmtree(path, ignore_errors=True)
    for path in (layout.root, layout.logs, layout.volumes):
        path.mkdir(parents=True, exist_ok=True)
    layout.etcd_data.mkdir(mode=0o700)


def start_cluster(state_dir: Path, bins: Binaries | None = None) -> LocalCluster:
    """Start everything and wait until /readyz is ok and the node is Ready (one retry with
    other ports if a port was taken between choosing and binding it)."""
    state_dir = state_dir.resolve()
    if running_cluster(state_dir) is not None:
        raise AlreadyRunningError(f"a local cluster is already running in {state_dir}")
    owner = node_owner()
    if owner is not None and owner != state_dir:
        raise ClusterError(
            f"the local node belongs to the cluster in {owner}: stop it first "
            f"(python -m localcluster --dir {owner} down)"
        )
    try:
        node.preflight()
    except node.NodeError as err:
        raise ClusterError(str(err)) from err
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
    server = f"https://{HOST_IP}:{api_port}"
    state = ClusterState(
        ports={"etcd": etcd_port, "etcd-peer": peer_port, "kube-apiserver": api_port},
        server=server,
        started_at=time.time(),
        kernel=node.snapshot_kernel_tunables(),
        had_device_plugins=node.DEVICE_PLUGINS.exists(),
    )
    layout.kubeconfig.write_text(yaml.safe_dump(render_kubeconfig(server, pki), sort_keys=False))
    layout.kubeconfig.chmod(0o600)
    NODE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    NODE_LOCK.write_text(f"{state_dir}\n")
    write_state(layout, state)
    try:
        node.start_node_network(api_port)
        node.write_node_configs(layout, pki, server)
        state.pids["etcd"] = processes.spawn(
            etcd_args(bins, layout, etcd_port, peer_port), layout.process_log("etcd"), state_dir
        )
        write_state(layout, state)
        state.pids["containerd"] = processes.spawn(
            node.containerd_args(layout), layout.process_log("containerd"), state_dir
        )
        write_state(layout, state)
        state.pids["kube-apiserver"] = processes.spawn(
            apiserver_args(bins, pki, etcd_port, api_port),
            layout.process_log("kube-apiserver"),
            state_dir,
        )
        write_state(layout, state)
        _wait("containerd", node.containerd_ready, layout, state, ("containerd",), 30)
        imported = node.import_images(
            [node.images_dir() / "pause.oci.tar", node.images_dir() / "dbmigrator.oci.tar"]
        )
        if imported:
            print(f"imported into containerd: {', '.join(imported)}", file=sys.stderr)
        _wait("etcd /health", lambda: _etcd_healthy(etcd_port), layout, state, ("etcd",), 30)
        _wait(
            "kube-apiserver /readyz",
            lambda: api_get(server, "/readyz", pki)[0] == 200,
            layout,
            state,
            ("etcd", "kube-apiserver"),
            90,
        )
        for name, argv, env in (
            ("kube-controller-manager", controller_manager_args(bins, layout, pki), None),
            ("kube-scheduler", scheduler_args(bins, layout), None),
            ("kubelet", node.kubelet_args(bins.kubelet, layout), None),
            ("provisioner", provisioner_args(layout), _python_env()),
        ):
            state.pids[name] = processes.spawn(argv, layout.process_log(name), state_dir, env=env)
            write_state(layout, state)
        _wait(
            f"node {NODE_NAME} Ready",
            lambda: _node_ready(server, pki),
            layout,
            state,
            START_ORDER,
            90,
        )
    except BaseException:
        stop_cluster(state_dir)
        raise
    return LocalCluster(state_dir=state_dir, server=server)


def stop_cluster(state_dir: Path) -> list[str]:
    """Stop every process of `state_dir`'s cluster and clean the node's traces; return what was
    stopped. Idempotent."""
    state_dir = state_dir.resolve()
    layout = Layout(state_dir)
    state = read_state(layout)
    stopped: list[str] = []
    if state is not None:
        for name in reversed(START_ORDER):
            pid = state.pids.get(name)
            if name == "containerd":
                node.stop_containers()  # the kubelet is gone: nothing restarts them
            if pid is not None and processes.is_alive(pid):
                processes.stop_group(pid, grace=10.0)
                stopped.append(name)
    stragglers = processes.kill_marked(state_dir)
    stopped.extend(f"straggler pid {pid}" for pid in stragglers)
    if state is not None or node_owner() in (None, state_dir):
        node.unmount_under([layout.node, RUN_DIR, node.containerd_root()])
        node.stop_node_network()
        node.clean_host_leftovers(layout, state.had_device_plugins if state else True)
        if state is not None:
            node.restore_kernel_tunables(state.kernel)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        NODE_LOCK.unlink(missing_ok=True)
    layout.state_file.unlink(missing_ok=True)
    return stopped
