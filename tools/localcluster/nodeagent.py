"""The node agent: a kubelet stand-in that runs each pod container as a local process.

One Node (`local-node`, InternalIP 127.0.0.1) kept Ready with a heartbeat. Two list+watch
loops (field selectors `spec.nodeName=` and `spec.nodeName=local-node`) bind unscheduled pods
to the node (we run no scheduler) and hand bound pods to one `PodWorker` thread per pod uid,
started at most once per uid (also across watch restarts and relists). A worker materializes
volumes, runs init containers in order then the containers together (`podspec` builds argv,
env, cwd and path mapping), patches pods/status through the life cycle (`podstatus` builds
it), restarts failed containers in place for restartPolicy OnFailure/Always with a backoff,
honours activeDeadlineSeconds and deletion (SIGTERM the process group, SIGKILL after the
capped grace period, phase Failed, then delete with grace 0). Container output goes to
`logs/<namespace>_<pod>_<container>.log` (`read_pod_log`); there is no kubelet endpoint, so
`kubectl logs` does not work. Stopping the agent (SIGTERM) kills every container process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcluster import podspec, podstatus
from localcluster.kube import ConflictError, GoneError, KubeApi, KubeError, NotFoundError
from localcluster.podspec import CannotRunError, HostContext, MissingObjectError
from localcluster.podstatus import TERMINAL_PHASES, ContainerRecord
from localcluster.state import ENV_MARKER, NODE_NAME, REPO_ROOT, Layout
from localcluster.volumes import decode_objects, materialize_volumes

Json = dict[str, Any]
log = logging.getLogger("localcluster.nodeagent")

HEARTBEAT_SECONDS = 20.0
POLL_SECONDS = 0.2
RETRY_SECONDS = 2.0
MAX_GRACE_SECONDS = 10.0
SHUTDOWN_GRACE_SECONDS = 3.0
BACKOFF_START, BACKOFF_MAX = 1.0, 10.0
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def now_str() -> str:
    return podstatus.rfc3339(datetime.now(UTC))


def read_pod_log(state_dir: Path, namespace: str, pod: str, container: str | None = None) -> str:
    """A container's log (stdout+stderr, all restarts). Without `container`: the only
    container's log, or every container's log under a `==> name <==` header."""
    layout = Layout(Path(state_dir))
    if container is not None:
        path = layout.container_log(namespace, pod, container)
        if not path.exists():
            raise FileNotFoundError(f"no log for {namespace}/{pod} container {container}")
        return path.read_text(errors="replace")
    paths = sorted(layout.logs.glob(f"{namespace}_{pod}_*.log"))
    if not paths:
        raise FileNotFoundError(f"no log for pod {namespace}/{pod} in {layout.logs}")
    if len(paths) == 1:
        return paths[0].read_text(errors="replace")
    prefix = f"{namespace}_{pod}_"
    return "".join(
        f"==> {p.name[len(prefix) : -4]} <==\n{p.read_text(errors='replace')}" for p in paths
    )


def _meminfo_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 4 * 1024 * 1024


def build_node_status(heartbeat: str, transition: str) -> Json:
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_meminfo_kib()}Ki",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }

    def cond(kind: str, status: str, reason: str, message: str) -> Json:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition,
        }

    return {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": NODE_NAME},
        ],
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
            cond("Ready", "True", "KubeletReady", "localcluster node agent is ready"),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "localcluster host processes",
            "kernelVersion": os.uname().release,
            "kubeletVersion": "v1.36.3",
            "kubeProxyVersion": "",
            "containerRuntimeVersion": "local://0.1",
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
        },
    }


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the process group, SIGKILL after `grace`; return Popen's returncode."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group (a backgrounded child)
    return proc.wait()


class PodWorker:
    """Runs one pod (by uid) from its first sighting until a terminal status, in a thread."""

    def __init__(self, agent: NodeAgent, pod: Json) -> None:
        meta = pod["metadata"]
        self.agent = agent
        self.pod = pod
        self.uid: str = meta["uid"]
        self.namespace: str = meta["namespace"]
        self.pod_name: str = meta["name"]
        spec = pod["spec"]
        self.restart_policy: str = spec.get("restartPolicy", "Always")
        self.init_specs: list[Json] = list(spec.get("initContainers") or [])
        self.main_specs: list[Json] = list(spec.get("containers") or [])
        self.init = [ContainerRecord(c["name"], c.get("image", "")) for c in self.init_specs]
        self.main = [ContainerRecord(c["name"], c.get("image", "")) for c in self.main_specs]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.term_files: dict[str, str] = {}
        self.restart_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {}
        self.volume_dirs: dict[str, str] | None = None
        self.start_time = now_str()
        self.started_mono = time.monotonic()
        self.last_status: Json | None = None
        self.wake = threading.Event()
        self.deleting = threading.Event()
        self.shutdown = threading.Event()
        self.vanished = False
        self.pod_dir = agent.layout.pods / f"{self.namespace}_{self.pod_name}_{self.uid[:8]}"
        self.thread = threading.Thread(
            target=self.run, name=f"pod-{self.namespace}/{self.pod_name}", daemon=True
        )

    # ---- signals from the agent (watch threads)
    def update(self, pod: Json) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.deleting.set()
        self.wake.set()

    def vanish(self) -> None:
        self.vanished = True
        self.deleting.set()
        self.wake.set()

    def stop(self) -> None:
        self.shutdown.set()
        self.wake.set()

    # ---- main loop
    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: worker crashed", self.namespace, self.pod_name)
        finally:
            self._kill_all(SHUTDOWN_GRACE_SECONDS, None)
            self.agent.worker_done(self)

    def _run(self) -> None:
        log.info("pod %s/%s (%s): starting", self.namespace, self.pod_name, self.uid)
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        deadline = self.pod["spec"].get("activeDeadlineSeconds")
        while True:
            if self.shutdown.is_set():
                return
            if self.deleting.is_set():
                self._finish("Failed", None, None, self._grace())
                self._delete_pod()
                return
            if deadline is not None and time.monotonic() - self.started_mono > float(deadline):
                log.info("pod %s/%s: deadline exceeded", self.namespace, self.pod_name)
                grace = min(self._grace(), MAX_GRACE_SECONDS)
                self._finish("Failed", "DeadlineExceeded", DEADLINE_MESSAGE, grace)
                return
            self._step()
            phase = podstatus.plan_phase(self.init, self.main, self.restart_policy)
            self._publish(phase)
            if phase in TERMINAL_PHASES:
                log.info("pod %s/%s: %s", self.namespace, self.pod_name, phase)
                return
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def _grace(self) -> float:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return float(min(max(float(grace), 1.0), MAX_GRACE_SECONDS))

    def _step(self) -> None:
        """Advance: volumes, then init containers one by one, then all containers."""
        if self.volume_dirs is None:
            try:
                self.volume_dirs = self._volumes()
            except MissingObjectError as err:
                self._set_waiting_all("ContainerCreating", f"MountVolume: {err}")
                return
            except CannotRunError as err:
                self._fail_first(str(err))
                return
        for i, spec in enumerate(self.init_specs):
            rec = self.init[i]
            if rec.state == "terminated" and rec.exit_code == 0:
                continue
            self.init[i] = self._advance(spec, rec)
            return
        for i, spec in enumerate(self.main_specs):
            self.main[i] = self._advance(spec, self.main[i])

    def _advance(self, spec: Json, rec: ContainerRecord) -> ContainerRecord:
        """One container: poll its process, restart it when due, start it when not yet run."""
        proc = self.procs.get(rec.name)
        if rec.state == "running" and proc is not None:
            code = proc.poll()
            if code is None:
                return rec
            rec = self._finished(spec, rec, podstatus.exit_code_of(code))
            del self.procs[rec.name]
            if self._should_restart(rec):
                delay = self.backoff.get(rec.name, BACKOFF_START)
                self.backoff[rec.name] = min(delay * 2, BACKOFF_MAX)
                self.restart_at[rec.name] = time.monotonic() + delay
            return rec
        if rec.state == "terminated":
            due = self.restart_at.get(rec.name)
            if due is None or time.monotonic() < due:
                return rec
            del self.restart_at[rec.name]
        return self._start(spec, rec)

    def _should_restart(self, rec: ContainerRecord) -> bool:
        if self.restart_policy == "Always":
            return True
        return self.restart_policy == "OnFailure" and rec.exit_code != 0

    def _finished(self, spec: Json, rec: ContainerRecord, code: int) -> ContainerRecord:
        term = self.term_files.get(rec.name)
        content = Path(term).read_bytes() if term and Path(term).exists() else b""
        logfile = self.agent.layout.container_log(self.namespace, self.pod_name, rec.name)
        tail = logfile.read_bytes()[-65536:] if logfile.exists() else b""
        message = podstatus.build_termination_message(
            content, tail, spec.get("terminationMessagePolicy"), code
        )
        log.info("pod %s/%s container %s exited %d", self.namespace, self.pod_name, rec.name, code)
        return podstatus.finish_record(rec, code, message, now_str())

    def _start(self, spec: Json, rec: ContainerRecord) -> ContainerRecord:
        name = spec["name"]
        term = self.pod_dir / "termination" / name
        term.parent.mkdir(parents=True, exist_ok=True)
        term.write_bytes(b"")
        self.term_files[name] = str(term)
        assert self.volume_dirs is not None
        try:
            objects = self.agent.fetch_objects(self.pod)
            mounts = podspec.build_mounts(spec, self.volume_dirs, str(term))
            proc_spec = podspec.build_process(
                self.pod, spec, objects, mounts, self.agent.host_context(self.pod_dir)
            )
        except MissingObjectError as err:
            return replace(rec, reason="CreateContainerConfigError", message=str(err))
        except CannotRunError as err:
            return self._cannot_run(rec, str(err))
        logfile = self.agent.layout.container_log(self.namespace, self.pod_name, name)
        try:
            with logfile.open("ab") as out:
                proc = subprocess.Popen(
                    list(proc_spec.argv),
                    env=dict(proc_spec.env),
                    cwd=proc_spec.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as err:
            return self._cannot_run(rec, f"starting {proc_spec.argv[0]}: {err}")
        self.procs[name] = proc
        log.info(
            "pod %s/%s container %s started pid %d: %s",
            self.namespace,
            self.pod_name,
            name,
            proc.pid,
            " ".join(proc_spec.argv),
        )
        return podstatus.start_record(rec, proc.pid, now_str())

    def _cannot_run(self, rec: ContainerRecord, message: str) -> ContainerRecord:
        log.warning("pod %s/%s container %s: %s", self.namespace, self.pod_name, rec.name, message)
        started = replace(rec, started_at=now_str()) if rec.state != "terminated" else rec
        done = podstatus.finish_record(started, 128, message, now_str(), "ContainerCannotRun")
        if self._should_restart(done):
            delay = self.backoff.get(rec.name, BACKOFF_START)
            self.backoff[rec.name] = min(delay * 2, BACKOFF_MAX)
            self.restart_at[rec.name] = time.monotonic() + delay
        return done

    def _fail_first(self, message: str) -> None:
        """A pod-level permanent error (volumes): the first container cannot run."""
        if self.init:
            self.init[0] = self._cannot_run(self.init[0], message)
            self.restart_at.pop(self.init[0].name, None)
        elif self.main:
            self.main[0] = self._cannot_run(self.main[0], message)
            self.restart_at.pop(self.main[0].name, None)
        self.volume_dirs = {}
        self.restart_policy = "Never"  # nothing could ever run: fail the pod

    def _set_waiting_all(self, reason: str, message: str) -> None:
        self.init = [replace(r, reason=reason, message=message) for r in self.init]
        self.main = [replace(r, reason=reason, message=message) for r in self.main]

    def _volumes(self) -> dict[str, str]:
        objects = self.agent.fetch_objects(self.pod)
        return materialize_volumes(
            self.pod,
            self.pod_dir,
            self.agent.layout.volumes,
            objects,
            lambda claim: self.agent.claim_ready(self.namespace, claim),
        )

    # ---- ending
    def _kill_all(self, grace: float, records: bool | None) -> None:
        """Stop every running process (in parallel); update records unless `records` is None."""
        procs = list(self.procs.items())
        threads = []
        codes: dict[str, int] = {}

        def kill(name: str, proc: subprocess.Popen[bytes]) -> None:
            codes[name] = podstatus.exit_code_of(_kill_group(proc, grace))

        for name, proc in procs:
            thread = threading.Thread(target=kill, args=(name, proc), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        self.procs.clear()
        if records is None:
            return
        specs = {c["name"]: c for c in [*self.init_specs, *self.main_specs]}
        for recs in (self.init, self.main):
            for i, rec in enumerate(recs):
                if rec.name in codes and rec.state == "running":
                    recs[i] = self._finished(specs[rec.name], rec, codes[rec.name])

    def _finish(self, phase: str, reason: str | None, message: str | None, grace: float) -> None:
        """Kill what runs and write the terminal status (unless it already is terminal)."""
        self._kill_all(grace, records=True)
        self.restart_at.clear()
        current = (self.last_status or {}).get("phase")
        if current in TERMINAL_PHASES or self.vanished:
            return
        self._publish(phase, reason, message)

    def _publish(self, phase: str, reason: str | None = None, message: str | None = None) -> None:
        status = podstatus.build_pod_status(
            self.init, self.main, phase, self.start_time, reason, message
        )
        if status == self.last_status or self.vanished:
            return
        try:
            self.agent.api.patch_pod_status(self.namespace, self.pod_name, status)
            self.last_status = status
        except NotFoundError:
            log.info("pod %s/%s is gone", self.namespace, self.pod_name)
            self.vanish()
        except KubeError as err:
            log.warning("pod %s/%s: status patch failed: %s", self.namespace, self.pod_name, err)

    def _delete_pod(self) -> None:
        if not self.vanished:
            self.agent.delete_pod(self.namespace, self.pod_name, self.uid)


class NodeAgent:
    """Registers the node, watches pods, binds and runs them."""

    def __init__(self, layout: Layout, api: KubeApi) -> None:
        self.layout = layout
        self.api = api
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.workers: dict[str, PodWorker] = {}
        self.seen: set[str] = set()  # every uid ever handed to a worker
        self.deleted: set[str] = set()  # uids we deleted with grace 0
        self.dbmigrator = str(REPO_ROOT / ".venv" / "bin" / "dbmigrator")
        self.node_since = now_str()

    # ---- helpers for workers
    def host_context(self, pod_dir: Path) -> HostContext:
        home = pod_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        return HostContext(
            dbmigrator=self.dbmigrator,
            home=str(home),
            default_cwd=str(pod_dir),
            extra_path=str(REPO_ROOT / ".venv" / "bin"),
            extra_env={
                ENV_MARKER: str(self.layout.root),
                "KUBECONFIG": str(self.layout.kubeconfig),
            },
            which=lambda name, path: shutil.which(name, path=path),
            exists=os.path.exists,
        )

    def fetch_objects(self, pod: Json) -> podspec.PodObjects:
        namespace = pod["metadata"]["namespace"]
        secret_names, map_names = podspec.referenced_objects(pod)
        secrets = {n: self.api.read_secret(namespace, n) for n in secret_names}
        maps = {n: self.api.read_config_map(namespace, n) for n in map_names}
        return decode_objects(secrets, maps)

    def claim_ready(self, namespace: str, claim: str) -> bool:
        """True when the PVC exists; marks it Bound (there is no PV binder)."""
        pvc = self.api.read_pvc(namespace, claim)
        if pvc is None:
            return False
        if pvc.get("status", {}).get("phase") != "Bound":
            spec = pvc.get("spec", {})
            storage = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
            try:
                self.api.patch_pvc_status(
                    namespace,
                    claim,
                    {
                        "phase": "Bound",
                        "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                        "capacity": {"storage": storage},
                    },
                )
            except KubeError as err:
                log.warning("pvc %s/%s: could not mark Bound: %s", namespace, claim, err)
        return True

    def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        with self.lock:
            if uid in self.deleted:
                return
            self.deleted.add(uid)
        try:
            self.api.delete_pod_now(namespace, name, uid)
            log.info("pod %s/%s deleted (grace 0)", namespace, name)
        except NotFoundError:
            pass
        except KubeError as err:
            log.warning("pod %s/%s: delete failed: %s", namespace, name, err)
            with self.lock:
                self.deleted.discard(uid)

    def worker_done(self, worker: PodWorker) -> None:
        with self.lock:
            self.workers.pop(worker.uid, None)
            deleting = worker.deleting.is_set() and not worker.vanished
        if deleting and not self.stopping.is_set():
            self.delete_pod(worker.namespace, worker.pod_name, worker.uid)

    # ---- node
    def register_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "localcluster.dev/agent": "process",
                },
            },
            "spec": {},
        }
        with contextlib.suppress(ConflictError):
            self.api.create_node(node)
        self.heartbeat()

    def heartbeat(self) -> None:
        self.api.patch_node_status(NODE_NAME, build_node_status(now_str(), self.node_since))

    def _heartbeat_loop(self) -> None:
        while not self.stopping.wait(HEARTBEAT_SECONDS):
            try:
                self.heartbeat()
            except KubeError as err:
                log.warning("node heartbeat failed: %s", err)

    # ---- pods
    def _watch_loop(self, selector: str, handle: Callable[[str, Json], None]) -> None:
        version: str | None = None
        while not self.stopping.is_set():
            try:
                if version is None:
                    items, version = self.api.list_pods(selector)
                    self._resync(selector, items, handle)
                for kind, obj in self.api.watch_pods(selector, version):
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if kind != "BOOKMARK":
                        handle(kind, obj)
                    if self.stopping.is_set():
                        return
            except GoneError:
                log.info("watch %s: resourceVersion expired, relisting", selector)
                version = None
            except Exception as err:
                log.warning("watch %s failed (%s); relisting in 1s", selector, err)
                version = None
                self.stopping.wait(1.0)

    def _resync(
        self, selector: str, items: list[Json], handle: Callable[[str, Json], None]
    ) -> None:
        if selector.endswith(NODE_NAME):
            present = {p["metadata"]["uid"] for p in items}
            with self.lock:
                lost = [w for uid, w in self.workers.items() if uid not in present]
            for worker in lost:
                worker.vanish()
        for pod in items:
            handle("ADDED", pod)

    def handle_unbound(self, kind: str, pod: Json) -> None:
        meta, spec = pod["metadata"], pod.get("spec", {})
        if kind == "DELETED" or meta.get("deletionTimestamp") or spec.get("nodeName"):
            return
        if spec.get("schedulingGates") or pod.get("status", {}).get("phase") in TERMINAL_PHASES:
            return
        try:
            self.api.bind_pod(meta["namespace"], meta["name"], meta["uid"], NODE_NAME)
            log.info("pod %s/%s bound to %s", meta["namespace"], meta["name"], NODE_NAME)
        except (ConflictError, NotFoundError):
            pass
        except KubeError as err:
            log.warning("pod %s/%s: binding failed: %s", meta["namespace"], meta["name"], err)

    def handle_bound(self, kind: str, pod: Json) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        with self.lock:
            worker = self.workers.get(uid)
            first = uid not in self.seen
            if kind == "DELETED":
                self.seen.discard(uid)
                self.deleted.discard(uid)
            elif first:
                self.seen.add(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.vanish()
            return
        if worker is not None:
            worker.update(pod)
            return
        phase = pod.get("status", {}).get("phase")
        if not first or phase in TERMINAL_PHASES or meta.get("deletionTimestamp"):
            if meta.get("deletionTimestamp"):
                self._settle_deleted(pod, phase)
            return
        if pod.get("status", {}).get("startTime"):
            self._mark_orphan(pod)
            return
        if self.stopping.is_set():
            return
        worker = PodWorker(self, pod)
        with self.lock:
            self.workers[uid] = worker
        worker.thread.start()

    def _settle_deleted(self, pod: Json, phase: str | None) -> None:
        """A deleting pod with no process here: make it terminal, then delete it for good."""
        meta = pod["metadata"]
        if phase not in TERMINAL_PHASES:
            self._patch_failed(pod, None, None)
        self.delete_pod(meta["namespace"], meta["name"], meta["uid"])

    def _mark_orphan(self, pod: Json) -> None:
        """A pod started by an earlier agent whose processes are gone: it failed."""
        self._patch_failed(pod, "NodeAgentRestarted", "the local node agent restarted")

    def _patch_failed(self, pod: Json, reason: str | None, message: str | None) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        now = now_str()
        statuses = {s["name"]: s for s in pod.get("status", {}).get("containerStatuses") or []}
        records = []
        for c in spec.get("containers", []):
            rec = ContainerRecord(c["name"], c.get("image", ""))
            running = (statuses.get(c["name"], {}).get("state") or {}).get("running")
            if running is not None:
                began = running.get("startedAt") or now
                rec = podstatus.finish_record(
                    replace(rec, started_at=began), 137, "", now, "ContainerStatusUnknown"
                )
            records.append(rec)
        status = podstatus.build_pod_status([], records, "Failed", now, reason, message)
        try:
            self.api.patch_pod_status(meta["namespace"], meta["name"], status)
        except KubeError as err:
            log.warning(
                "pod %s/%s: could not mark Failed: %s", meta["namespace"], meta["name"], err
            )

    # ---- lifecycle
    def run(self) -> None:
        """Register, watch until `stopping`, then kill every container process."""
        self.register_node()
        log.info("node %s registered and Ready", NODE_NAME)
        threads = [
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            threading.Thread(
                target=self._watch_loop,
                args=("spec.nodeName=", self.handle_unbound),
                name="watch-unbound",
                daemon=True,
            ),
            threading.Thread(
                target=self._watch_loop,
                args=(f"spec.nodeName={NODE_NAME}", self.handle_bound),
                name="watch-bound",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        self.stopping.wait()
        log.info("stopping: killing container processes")
        with self.lock:
            workers = list(self.workers.values())
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.thread.join(timeout=SHUTDOWN_GRACE_SECONDS + 10)
        log.info("stopped")


def run_agent(state_dir: Path) -> None:
    """Entry point of `python -m localcluster agent`: run until SIGTERM/SIGINT."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s"
    )
    layout = Layout(state_dir.resolve())
    agent = NodeAgent(layout, KubeApi(layout.kubeconfig))

    def on_signal(signum: int, frame: object) -> None:
        agent.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.run()
