"""Where a local cluster lives: the state directory, its layout, the node's network, the pid file.

The state directory (default `.localcluster/` at the repo root, env `LOCALCLUSTER_DIR`) holds the
PKI, the kubeconfig, etcd's data, the process logs, the kubelet's root and pod logs, the
provisioned volumes and `state.json` (pids and ports of the running processes). containerd's
content store (the imported images) lives in the cache instead, so a new cluster does not import
the same 400 MB again. Pure path logic plus small JSON read/write helpers.

The node runs in a network namespace of its own (`NODE_NETNS`), joined to the host by one veth
pair: the host end is `HOST_IP` (the apiserver and the tests' PostgreSQL listen there), the node
end `NODE_IP` (the kubelet's address); pods get addresses in `POD_CIDR` on a bridge inside the
node's namespace. Every address is on an interface this project creates, so no traffic ever
leaves the machine, and deleting the namespace removes the bridge, the pods' routes and every
iptables rule the kubelet made.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "local-node"
NODE_NETNS = "dbmigrator-node"
HOST_VETH = "dbmnode0"  # the host end of the veth pair (the node end is eth0 in the namespace)
HOST_IP = "10.213.77.1"
NODE_IP = "10.213.77.2"
NODE_NET_PREFIX = 30
POD_CIDR = "10.244.77.0/24"
POD_BRIDGE = "cni0"
# Who may connect to a PostgreSQL the pods use (LocalPostgres(host=HOST_IP, clients=...)).
POSTGRES_CLIENTS = (POD_CIDR, f"{HOST_IP}/32")
RUN_DIR = Path("/run/dbmigrator-node")  # containerd's sockets and state (tmpfs, root only)


def cache_dir() -> Path:
    """`$DBMIGRATOR_CACHE` or `~/.cache/dbmigrator` (binaries, images, containerd's store)."""
    env = os.environ.get("DBMIGRATOR_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "dbmigrator"


ENV_MARKER = "LOCALCLUSTER_OWNER"  # set in every process we start; `down` finds stragglers


def default_state_dir() -> Path:
    """The state directory: `$LOCALCLUSTER_DIR` or `<repo>/.localcluster`."""
    env = os.environ.get("LOCALCLUSTER_DIR")
    return Path(env).resolve() if env else REPO_ROOT / ".localcluster"


@dataclass(frozen=True)
class Layout:
    """Paths inside one state directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd-data"

    @property
    def logs(self) -> Path:
        """Process logs (etcd.log, kube-apiserver.log, …) and container logs."""
        return self.root / "logs"

    @property
    def pods(self) -> Path:
        """Per-pod directories: volumes, termination message files, HOME."""
        return self.root / "pods"

    @property
    def volumes(self) -> Path:
        """PersistentVolumeClaim directories, `<namespace>/<claim>`, shared across pods."""
        return self.root / "pvc"

    @property
    def node(self) -> Path:
        """The kubelet's root dir, its config, the CNI config and the pods' logs."""
        return self.root / "node"

    @property
    def kubelet_root(self) -> Path:
        return self.node / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.node / "pod-logs"

    @property
    def cni_conf(self) -> Path:
        return self.node / "cni" / "net.d"

    @property
    def containerd_config(self) -> Path:
        return self.node / "containerd.toml"

    def process_log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@dataclass
class ClusterState:
    """What `up` started: pids (each the leader of its own process group) and ports."""

    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    server: str = ""
    started_at: float = 0.0
    kernel: dict[str, str] = field(default_factory=dict)  # the kubelet's tunables before `up`
    had_device_plugins: bool = True  # /var/lib/kubelet/device-plugins existed before `up`


def write_state(layout: Layout, state: ClusterState) -> None:
    tmp = layout.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(layout.state_file)


def read_state(layout: Layout) -> ClusterState | None:
    try:
        raw = json.loads(layout.state_file.read_text())
    except FileNotFoundError:
        return None
    return ClusterState(
        pids={str(k): int(v) for k, v in raw.get("pids", {}).items()},
        ports={str(k): int(v) for k, v in raw.get("ports", {}).items()},
        server=str(raw.get("server", "")),
        started_at=float(raw.get("started_at", 0.0)),
        kernel={str(k): str(v) for k, v in raw.get("kernel", {}).items()},
        had_device_plugins=bool(raw.get("had_device_plugins", True)),
    )
