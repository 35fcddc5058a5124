"""Locate the control plane's binaries: run `hack/build-k8s.sh` (which reuses its cache).

The script prints build progress on stderr (streamed to ours, so a first 10-25 minute build is
visibly alive) and the bin directory as the last line of stdout.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from localcluster.state import REPO_ROOT

BUILD_SCRIPT = REPO_ROOT / "hack" / "build-k8s.sh"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the cluster's executables."""

    bin_dir: Path

    @property
    def etcd(self) -> Path:
        return self.bin_dir / "etcd"

    @property
    def apiserver(self) -> Path:
        return self.bin_dir / "kube-apiserver"

    @property
    def controller_manager(self) -> Path:
        return self.bin_dir / "kube-controller-manager"

    @property
    def scheduler(self) -> Path:
        return self.bin_dir / "kube-scheduler"

    @property
    def kubelet(self) -> Path:
        return self.bin_dir / "kubelet"

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    def all(self) -> tuple[Path, ...]:
        return (self.etcd, self.apiserver, self.controller_manager, self.scheduler,
                self.kubelet, self.kubectl)  # fmt: skip


def ensure_binaries() -> Binaries:
    """Build (first time) or find the cached binaries; raise with the script's exit code."""
    proc = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=REPO_ROOT,
    )
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{BUILD_SCRIPT} printed no bin directory")
    bins = Binaries(Path(lines[-1]))
    for exe in bins.all():
        if not exe.is_file():
            raise RuntimeError(f"{exe} is missing after {BUILD_SCRIPT}")
    return bins
