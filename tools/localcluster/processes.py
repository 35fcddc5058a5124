"""Start, find and stop the cluster's local processes, each the leader of its own process group.

Every process is started detached (`start_new_session`), with stdin closed and output in a log
file, so it outlives the `up` command. Stopping signals the whole process group (SIGTERM, then
SIGKILL after a grace period) and waits until it is gone. Processes carry the env marker
`LOCALCLUSTER_OWNER=<state dir>`, which lets `down` find stragglers (say, a container process
whose agent was SIGKILLed) of this state directory, and only of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from localcluster.state import ENV_MARKER


def spawn(
    argv: Sequence[str], log: Path, state_dir: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start `argv` detached in its own session; return its pid (= its process group id)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ if env is None else env)
    full_env[ENV_MARKER] = str(state_dir)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=full_env,
            cwd=state_dir,
        )
    return proc.pid


def is_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _reap(pid: int) -> None:
    """Reap `pid` if it is our child (when `up` ran in this process, e.g. under pytest)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(is_alive(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def stop_group(pgid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group `pgid`, SIGKILL it after `grace` seconds, wait until gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            _reap(pgid)
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pgid)
            if not _group_alive(pgid):
                return
            time.sleep(0.05)
    _reap(pgid)


def marked_processes(state_dir: Path) -> list[int]:
    """Pids of live processes whose environment carries this state directory's marker."""
    marker = f"{ENV_MARKER}={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_marked(state_dir: Path) -> list[int]:
    """SIGKILL every straggler of `state_dir` (see `marked_processes`); return their pids."""
    pids = marked_processes(state_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(is_alive(p) for p in pids):
        for pid in pids:
            _reap(pid)
        time.sleep(0.05)
    return pids


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
