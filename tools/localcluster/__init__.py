"""A real local Kubernetes cluster for tests and the demo, without Docker.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from the Go module proxy
by `hack/build-k8s.sh`) run as local processes; one real node runs containerd, runc and the
kubelet in a network namespace of its own, with the project's image (`make image`) imported.
`python -m localcluster up|down|status|env`; in pytest, `from localcluster.pytest_plugin import
local_cluster`. See docs/local-cluster.md.

Public API: `start_cluster(state_dir)` -> `LocalCluster` (`.kubeconfig`, `.server`,
`.api_client()`, `.read_log()`, `.load_image()`, `.stop()`), `stop_cluster(state_dir)`,
`running_cluster`, `default_state_dir`.
"""

from localcluster.controlplane import (
    AlreadyRunningError,
    ClusterError,
    LocalCluster,
    running_cluster,
    start_cluster,
    stop_cluster,
)
from localcluster.state import HOST_IP, NODE_NAME, default_state_dir

__all__ = [
    "HOST_IP",
    "NODE_NAME",
    "AlreadyRunningError",
    "ClusterError",
    "LocalCluster",
    "default_state_dir",
    "running_cluster",
    "start_cluster",
    "stop_cluster",
]
