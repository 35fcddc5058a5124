"""The real node: its own network namespace, containerd + runc + bridge CNI, and a kubelet.

`start_node_network` makes the namespace and the veth pair (see `state` for the addresses),
`start_containerd` starts containerd inside it and imports the images `hack/build-image.sh`
exported, `start_kubelet` registers the kubelet as `NODE_NAME`. `stop_node` undoes all of it and
removes what kubelet, containerd and the CNI plugins leave on the host outside our directories
(measured in the feasibility run, docs/local-cluster.md lists them): mounts under our dirs, the
pods' network namespaces, go-cni's result cache, /var/log/containers links, the kubelet's
device-plugins directory, and the kernel settings the kubelet changes at start.

containerd and the kubelet enter only the node's network namespace (`nsenter --net`), not a
mount namespace of their own: the kubelet's volume mounts must be visible to containerd's runc.
Rendering the configs is pure (`render_*`, unit-tested); the rest runs commands as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from localcluster.pki import Pki
from localcluster.state import (
    HOST_IP,
    HOST_VETH,
    NODE_IP,
    NODE_NAME,
    NODE_NET_PREFIX,
    NODE_NETNS,
    POD_BRIDGE,
    POD_CIDR,
    REPO_ROOT,
    RUN_DIR,
    Layout,
    cache_dir,
)

NETNS_PATH = Path("/run/netns") / NODE_NETNS
CONTAINERD_SOCKET = RUN_DIR / "containerd.sock"
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service: first address of the service range
KUBELET_PORT = 10250
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
# The kernel settings kubelet sets at start unless protectKernelDefaults (which instead refuses
# to start when they differ): kept before, put back after.
KERNEL_TUNABLES = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# Paths the kubelet and containerd 1.6 hard-code on the host.
DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")
CNI_CACHE = Path("/var/lib/cni")
CONTAINER_LOG_LINKS = Path("/var/log/containers")
SHIM_SOCKETS = Path("/run/containerd/s")


class NodeError(RuntimeError):
    """The node could not be set up (the message says which command failed and why)."""


def containerd_root() -> Path:
    """containerd's content store and snapshots: in the cache, so imports outlive a cluster."""
    return cache_dir() / "node" / "containerd"


def images_dir() -> Path:
    return cache_dir() / "images"


# --------------------------------------------------------------------------- rendering (pure)


def render_containerd_config(layout: Layout, root: Path) -> str:
    """containerd 1.6's config: our own socket, root and state; runc; the bridge CNI."""
    return f"""\
# Written by localcluster (tools/localcluster/node.py) for this cluster; do not edit.
version = 2
root = "{root}"
state = "{RUN_DIR}/state"

[grpc]
  address = "{CONTAINERD_SOCKET}"

[ttrpc]
  address = "{CONTAINERD_SOCKET}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj fails in runc's nsexec.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{shutil.which("runc") or "/usr/sbin/runc"}"
        SystemdCgroup = false
        Root = "{RUN_DIR}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{layout.cni_conf}"
"""


def render_cni_config(layout: Layout) -> dict[str, Any]:
    """A bridge inside the node's namespace; pods route everything through it."""
    return {
        "cniVersion": "1.0.0",
        "name": "dbmigrator-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": POD_BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.node / "cni" / "ipam"),
                },
            }
        ],
    }


def render_kubelet_config(layout: Layout, pki: Pki) -> dict[str, Any]:
    """KubeletConfiguration for this cgroup v1 (hybrid) machine, serving on the node's address."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        # Only the apiserver (its kubelet client certificate, signed by the cluster CA) talks
        # to this kubelet; it is reachable only from the host through the veth pair.
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(pki.ca_cert)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # 1.35+ refuses cgroup v1 otherwise (kubelet exits 1)
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "podLogsDir": str(layout.pod_logs),
        "volumePluginDir": str(layout.node / "volume-plugins"),
        "resolvConf": "/etc/resolv.conf",
        "clusterDomain": "cluster.local",
        "registerNode": True,
        "serializeImagePulls": False,
        # Images are imported, never pulled: never garbage-collect them, never evict on disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "shutdownGracePeriod": "0s",
    }


def kubelet_args(kubelet: Path, layout: Layout) -> list[str]:
    return [
        *_in_node(),
        str(kubelet),
        f"--config={layout.node / 'kubelet-config.yaml'}",
        f"--kubeconfig={layout.node / 'kubeconfig'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        f"--root-dir={layout.kubelet_root}",
        f"--cert-dir={layout.node / 'pki'}",
        "--v=1",
    ]


def containerd_args(layout: Layout) -> list[str]:
    return [*_in_node(), shutil.which("containerd") or "containerd", "--config",
            str(layout.containerd_config)]  # fmt: skip


def _in_node() -> list[str]:
    return ["nsenter", f"--net={NETNS_PATH}", "--"]


# --------------------------------------------------------------------------- commands


def _run(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise NodeError(f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _ctr(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return _run("ctr", "--address", str(CONTAINERD_SOCKET), "-n", "k8s.io", *args,
                check=check, timeout=timeout)  # fmt: skip


def preflight() -> None:
    """Say at once what is missing (root, the Debian packages), before anything starts."""
    if os.geteuid() != 0:
        raise NodeError("the local node needs root (network namespaces, containerd, kubelet)")
    missing = [t for t in ("containerd", "ctr", "runc", "nsenter", "ip", "iptables") if not
               shutil.which(t)]  # fmt: skip
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("/usr/lib/cni/bridge (containernetworking-plugins)")
    if missing:
        raise NodeError(f"missing {', '.join(missing)}: run `make deps` (Debian packages)")
    for name in ("pause", "dbmigrator"):
        if not (images_dir() / f"{name}.oci.tar").exists():
            raise NodeError(
                f"no {images_dir() / (name + '.oci.tar')}: run `make image` (hack/build-image.sh)"
            )


def start_node_network(api_port: int) -> None:
    """The node's namespace, the veth pair, the pods' route, and the `kubernetes` Service."""
    stop_node_network()
    ns = NODE_NETNS
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", "eth0", "netns", ns)
    _run("ip", "addr", "add", f"{HOST_IP}/{NODE_NET_PREFIX}", "dev", HOST_VETH)
    _run("ip", "link", "set", HOST_VETH, "up")
    _run("ip", "-n", ns, "link", "set", "lo", "up")
    _run("ip", "-n", ns, "addr", "add", f"{NODE_IP}/{NODE_NET_PREFIX}", "dev", "eth0")
    _run("ip", "-n", ns, "link", "set", "eth0", "up")
    _run("ip", "-n", ns, "route", "add", "default", "via", HOST_IP)
    _run("ip", "route", "add", POD_CIDR, "via", NODE_IP, "dev", HOST_VETH)
    _run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    # No kube-proxy here: the one Service pods use is the apiserver's. DNAT its ClusterIP to the
    # apiserver (what kube-proxy would program); the rule lives and dies with the namespace.
    _run("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "PREROUTING",
         "-d", f"{SERVICE_IP}/32", "-p", "tcp", "--dport", "443",
         "-j", "DNAT", "--to-destination", f"{HOST_IP}:{api_port}")  # fmt: skip


def stop_node_network() -> None:
    """Delete the namespace (its bridge, routes and iptables rules go with it) and the veth."""
    _run("ip", "link", "del", HOST_VETH, check=False)
    if NETNS_PATH.exists():
        _run("ip", "netns", "del", NODE_NETNS, check=False)


def write_node_configs(layout: Layout, pki: Pki, server: str) -> None:
    for path in (layout.node, layout.kubelet_root, layout.pod_logs, layout.cni_conf, RUN_DIR):
        path.mkdir(parents=True, exist_ok=True)
    containerd_root().mkdir(parents=True, exist_ok=True)
    layout.containerd_config.write_text(render_containerd_config(layout, containerd_root()))
    (layout.cni_conf / "10-dbmigrator-node.conflist").write_text(
        json.dumps(render_cni_config(layout), indent=2) + "\n"
    )
    (layout.node / "kubelet-config.yaml").write_text(
        yaml.safe_dump(render_kubelet_config(layout, pki), sort_keys=False)
    )
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {
            "server": server, "certificate-authority": str(pki.ca_cert)}}],
        "users": [{"name": NODE_NAME, "user": {
            "client-certificate": str(pki.node_cert), "client-key": str(pki.node_key)}}],
        "contexts": [{"name": "node", "context": {"cluster": "local", "user": NODE_NAME}}],
        "current-context": "node",
    }  # fmt: skip
    (layout.node / "kubeconfig").write_text(yaml.safe_dump(kubeconfig, sort_keys=False))


def containerd_ready() -> bool:
    return _ctr("version", check=False, timeout=10).returncode == 0


def import_images(archives: list[Path]) -> list[str]:
    """Import each OCI archive unless the same archive (named by image id) was imported before;
    return the references imported now."""
    done_file = containerd_root() / "imported.json"
    try:
        done: dict[str, str] = json.loads(done_file.read_text())
    except (FileNotFoundError, ValueError):
        done = {}
    present = set(_ctr("images", "ls", "-q").stdout.split())
    imported = []
    for archive in archives:
        real = archive.resolve()
        ref = read_archive_ref(real)
        if done.get(ref) == real.name and ref in present:
            continue
        import_archive(real, ref)
        done[ref] = real.name
        imported.append(ref)
    done_file.write_text(json.dumps(done, indent=2) + "\n")
    return imported


def read_archive_ref(archive: Path) -> str:
    """The image reference an OCI archive from `podman save` carries in its index."""
    proc = _run("tar", "-xOf", str(archive), "index.json")
    index = json.loads(proc.stdout)
    for manifest in index.get("manifests", []):
        ref = manifest.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if ref:
            return str(ref)
    raise NodeError(f"{archive} names no image (no org.opencontainers.image.ref.name)")


def import_archive(archive: Path, ref: str) -> None:
    """`ctr images import`: the image is named by the archive's ref.name annotation, which
    `podman save` writes in full. (`--index-name` breaks a re-import of a changed image on
    containerd 1.6: "content digest ... not found".)"""
    _ctr("images", "import", str(archive), timeout=600)
    if ref not in _ctr("images", "ls", "-q").stdout.split():
        raise NodeError(f"importing {archive} did not create the image {ref}")


def load_podman_image(ref: str) -> None:
    """Copy an image from podman's storage into the node's containerd (a registry's stand-in)."""
    env = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "hack" / "containers.conf")}
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        archive = Path(tmp) / "image.oci.tar"
        proc = subprocess.run(
            ["podman", "save", "--quiet", "--format", "oci-archive", "-o", str(archive), ref],
            capture_output=True, text=True, env=env, timeout=600, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise NodeError(f"podman save {ref} failed: {proc.stderr.strip()}")
        import_archive(archive, ref)


def snapshot_kernel_tunables() -> dict[str, str]:
    values = {}
    for key in KERNEL_TUNABLES:
        with contextlib.suppress(OSError):
            values[key] = (Path("/proc/sys") / key).read_text().strip()
    return values


def restore_kernel_tunables(values: dict[str, str]) -> None:
    for key, value in values.items():
        path = Path("/proc/sys") / key
        with contextlib.suppress(OSError):
            if path.read_text().strip() != value:
                path.write_text(value + "\n")


def stop_containers() -> None:
    """Kill every task containerd runs for the node, then remove the containers."""
    if not CONTAINERD_SOCKET.exists() or not containerd_ready():
        return
    tasks = _ctr("tasks", "ls", "-q", check=False).stdout.split()
    for task in tasks:
        _ctr("tasks", "kill", "-a", "-s", "SIGKILL", task, check=False)
    deadline = time.monotonic() + 10
    for task in tasks:
        while time.monotonic() < deadline:
            if _ctr("tasks", "rm", "-f", task, check=False).returncode == 0:
                break
            time.sleep(0.2)
    for container in _ctr("containers", "ls", "-q", check=False).stdout.split():
        _ctr("containers", "rm", container, check=False)


def _mounts_under(prefixes: list[Path]) -> list[str]:
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        target = fields[1].replace("\\040", " ")
        if any(target == str(p) or target.startswith(f"{p}/") for p in prefixes):
            found.append(target)
    return found


def unmount_under(prefixes: list[Path]) -> None:
    """Lazily unmount everything mounted below `prefixes`, deepest first."""
    for target in sorted(set(_mounts_under(prefixes)), key=len, reverse=True):
        _run("umount", "-l", target, check=False)


def clean_host_leftovers(layout: Layout, had_device_plugins: bool) -> None:
    """What the kubelet, containerd and the CNI plugins leave outside our directories."""
    # Pods' network namespaces (containerd's cni-<uuid> bind mounts).
    netns_dir = Path("/run/netns")
    if netns_dir.is_dir():
        for entry in netns_dir.glob("cni-*"):
            _run("umount", "-l", str(entry), check=False)
            with contextlib.suppress(OSError):
                entry.unlink()
    shutil.rmtree(CNI_CACHE / "results", ignore_errors=True)
    with contextlib.suppress(OSError):
        CNI_CACHE.rmdir()
    if CONTAINER_LOG_LINKS.is_dir():
        for link in CONTAINER_LOG_LINKS.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(str(layout.pod_logs)):
                    link.unlink()
        with contextlib.suppress(OSError):
            CONTAINER_LOG_LINKS.rmdir()
    if not had_device_plugins:
        shutil.rmtree(DEVICE_PLUGINS, ignore_errors=True)
        with contextlib.suppress(OSError):
            DEVICE_PLUGINS.parent.rmdir()
    # Shim sockets: a shim that exits cleanly removes its own; only empty directories go here.
    for path in (SHIM_SOCKETS, SHIM_SOCKETS.parent / "runc" / "k8s.io",
                 SHIM_SOCKETS.parent / "runc", SHIM_SOCKETS.parent):  # fmt: skip
        with contextlib.suppress(OSError):
            path.rmdir()
    if netns_dir.is_dir() and not any(netns_dir.iterdir()):
        _run("umount", str(netns_dir), check=False)
        with contextlib.suppress(OSError):
            netns_dir.rmdir()
