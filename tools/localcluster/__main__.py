"""CLI: `python -m localcluster up|down|status|env|provisioner` (run with PYTHONPATH=tools).

`up` builds the binaries the first time, starts the cluster detached, prints the kubeconfig
path and returns; `down` stops everything by pid and cleans the node's traces; `status` says
what runs; `env` prints `export KUBECONFIG=…`; `provisioner` is the volume provisioner's own
entry point (started by `up`). Logs: `kubectl logs` (a real kubelet serves them).
The state directory is `--dir`, else `$LOCALCLUSTER_DIR`, else `<repo>/.localcluster`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from localcluster import processes
from localcluster.controlplane import AlreadyRunningError, ClusterError, start_cluster, stop_cluster
from localcluster.provisioner import run_provisioner
from localcluster.state import Layout, default_state_dir, read_state


def _up(state_dir: Path) -> int:
    began = time.monotonic()
    try:
        cluster = start_cluster(state_dir)
    except AlreadyRunningError as err:
        print(f"{err}; kubeconfig: {Layout(state_dir).kubeconfig}")
        return 0
    except ClusterError as err:
        print(f"localcluster: {err}", file=sys.stderr)
        return 1
    took = time.monotonic() - began
    print(f"local cluster up in {took:.1f}s: {cluster.server}")
    print(f"  kubectl --kubeconfig {cluster.kubeconfig} get nodes")
    print(f"  logs: {cluster.layout.logs}")
    print(cluster.kubeconfig)
    return 0


def _status(state_dir: Path) -> int:
    state = read_state(Layout(state_dir))
    if state is None:
        print(f"no local cluster in {state_dir}")
        return 1
    print(f"server {state.server} (state {state_dir})")
    alive = True
    for name, pid in state.pids.items():
        up = processes.is_alive(pid)
        alive &= up
        print(f"  {name:<25} pid {pid:<8} {'running' if up else 'NOT RUNNING'}")
    return 0 if alive else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="state directory")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start (build binaries the first time)")
    sub.add_parser("down", help="stop every process")
    sub.add_parser("status", help="show the processes")
    sub.add_parser("env", help="print `export KUBECONFIG=...`")
    sub.add_parser("provisioner", help="run the volume provisioner (started by `up`)")
    args = parser.parse_args(argv)
    state_dir: Path = (args.dir or default_state_dir()).resolve()
    if args.command == "up":
        return _up(state_dir)
    if args.command == "down":
        stopped = stop_cluster(state_dir)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    if args.command == "status":
        return _status(state_dir)
    if args.command == "env":
        print(f"export KUBECONFIG={Layout(state_dir).kubeconfig}")
        return 0
    run_provisioner(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
