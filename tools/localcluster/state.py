"""Where a local cluster lives on disk: the state directory, its layout and the pid/port file.

The state directory (default `.localcluster/` at the repo root, env `LOCALCLUSTER_DIR`) holds the
PKI, the kubeconfig, etcd's data, the process logs, the node agent's pod directories and
`state.json` (pids, process groups and ports of the running processes). Pure path logic plus
small JSON read/write helpers.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "local-node"
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
    def agent_log(self) -> Path:
        return self.logs / "node-agent.log"

    def process_log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def container_log(self, namespace: str, pod: str, container: str) -> Path:
        return self.logs / f"{namespace}_{pod}_{container}.log"


@dataclass
class ClusterState:
    """What `up` started: pids (each the leader of its own process group) and ports."""

    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    server: str = ""
    started_at: float = 0.0


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
    )
