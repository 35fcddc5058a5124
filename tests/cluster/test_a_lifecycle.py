"""`python -m localcluster up` / `down` as a person runs them: nothing of the node stays behind.

This module's name sorts first in tests/cluster so that it runs before the session cluster
starts: only one cluster can hold the machine's node (one network namespace, one containerd).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcluster import node, processes
from localcluster.controlplane import node_owner
from localcluster.state import HOST_VETH, NODE_NETNS, REPO_ROOT, RUN_DIR, Layout

pytestmark = pytest.mark.e2e


def _mounts_mentioning(*paths: Path) -> list[str]:
    text = Path("/proc/self/mounts").read_text()
    return [line for line in text.splitlines() if any(str(p) in line for p in paths)]


def _iptables_kube_rules() -> list[str]:
    out = []
    for table in ("filter", "nat", "mangle"):
        proc = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True,
                              check=False)  # fmt: skip
        out += [r for r in proc.stdout.splitlines() if "KUBE-" in r]
    return out


def test_up_down_leaves_nothing_behind(tmp_path: Path) -> None:
    owner = node_owner()
    assert owner is None, f"a cluster in {owner} holds the node; this test needs the machine"
    kernel_before = node.snapshot_kernel_tunables()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "tools"))
    cli = [sys.executable, "-m", "localcluster", "--dir", str(tmp_path)]
    began = time.monotonic()
    subprocess.run([*cli, "up"], env=env, check=True, capture_output=True, timeout=300)
    took = time.monotonic() - began
    print(f"cached cluster start: {took:.1f}s")
    assert took < 60, f"cluster start took {took:.1f}s"
    again = subprocess.run([*cli, "up"], env=env, check=True, capture_output=True, text=True)
    assert "already running" in again.stdout
    state = json.loads(Layout(tmp_path).state_file.read_text())
    kubectl = ["kubectl", "--kubeconfig", str(Layout(tmp_path).kubeconfig)]
    subprocess.run(
        [*kubectl, "run", "sleeper", "--image=ghcr.io/dbmigrator/dbmigration-operator:0.1.0",
         "--image-pull-policy=Never", "--restart=Never", "--command", "--", "sleep", "300"],
        check=True, capture_output=True,
    )  # fmt: skip

    def sleeper_running() -> bool:
        out = subprocess.run(
            [*kubectl, "get", "pod", "sleeper", "-o",
             "jsonpath={.status.containerStatuses[0].state.running.startedAt}"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        return bool(out.strip())

    deadline = time.monotonic() + 60
    while not sleeper_running():
        assert time.monotonic() < deadline, "sleeper never ran"
        time.sleep(0.3)
    subprocess.run([*cli, "down"], env=env, check=True, capture_output=True, timeout=120)
    for name, leader in state["pids"].items():
        assert not processes.is_alive(leader), f"{name} (pid {leader}) survived down"
    assert processes.marked_processes(tmp_path.resolve()) == []
    shims = subprocess.run(["pgrep", "-f", str(RUN_DIR)], capture_output=True, text=True)
    assert shims.stdout.strip() == "", "a containerd shim survived down"
    sleepers = subprocess.run(["pgrep", "-x", "sleep", "-a"], capture_output=True, text=True)
    assert "sleep 300" not in sleepers.stdout, "the container's process survived down"
    assert not (Path("/run/netns") / NODE_NETNS).exists()
    link = subprocess.run(["ip", "link", "show", HOST_VETH], capture_output=True, text=True)
    assert link.returncode != 0, "the veth pair survived down"
    assert _mounts_mentioning(tmp_path, RUN_DIR, node.containerd_root()) == []
    assert not RUN_DIR.exists()
    assert _iptables_kube_rules() == []
    assert not list(Path("/run/netns").glob("cni-*")) if Path("/run/netns").exists() else True
    assert node.snapshot_kernel_tunables() == kernel_before
    assert node_owner() is None
