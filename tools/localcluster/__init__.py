"""A real local Kubernetes control plane for tests and the demo, without Docker.

etcd, kube-apiserver and kube-controller-manager (built from source by `hack/build-k8s.sh`) run
as local processes on free loopback ports; a small node agent plays kubelet by running each pod
container as a host process. `python -m localcluster up|down|status|env|logs`; in pytest,
`from localcluster.pytest_plugin import local_cluster`. See docs/local-cluster.md.

Public API: `start_cluster(state_dir)` -> `LocalCluster` (`.kubeconfig`, `.server`,
`.api_client()`, `.read_log()`, `.stop()`), `stop_cluster(state_dir)`, `running_cluster`,
`read_pod_log`, `default_state_dir`.
"""

from localcluster.controlplane import (
    AlreadyRunningError,
    ClusterError,
    LocalCluster,
    running_cluster,
    start_cluster,
    stop_cluster,
)
from localcluster.nodeagent import read_pod_log
from localcluster.state import NODE_NAME, default_state_dir

__all__ = [
    "NODE_NAME",
    "AlreadyRunningError",
    "ClusterError",
    "LocalCluster",
    "default_state_dir",
    "read_pod_log",
    "running_cluster",
    "start_cluster",
    "stop_cluster",
]
