"""Taking turns on the machine's one node: test sessions and benchmarks in several work trees.

`take_turn()` holds an exclusive flock on `~/.cache/dbmigrator/node/session.lock` until the
returned handle is closed (or the process exits); a second caller waits, saying who holds it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from typing import IO

from localcluster.controlplane import NODE_LOCK

SESSION_LOCK = NODE_LOCK.parent / "session.lock"


def take_turn() -> IO[str]:
    """Block until no other session on this machine holds the node, then hold it."""
    SESSION_LOCK.parent.mkdir(parents=True, exist_ok=True)
    handle = open(SESSION_LOCK, "a+")  # noqa: SIM115 - held until the caller closes it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another session"
        print(f"[localcluster] waiting for the node, held by {holder}", file=sys.stderr)
        started = time.monotonic()
        fcntl.flock(handle, fcntl.LOCK_EX)
        waited = time.monotonic() - started
        print(f"[localcluster] got the node after {waited:.0f}s", file=sys.stderr)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} in {os.getcwd()}\n")
    handle.flush()
    return handle
