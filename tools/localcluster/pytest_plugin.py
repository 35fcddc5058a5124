"""The `local_cluster` pytest fixture: one real local cluster per test session.

Use it from any conftest: `from localcluster.pytest_plugin import local_cluster`. The cluster
lives in a session temp dir (never the `.localcluster/` a person started with make), is started
once, and is stopped by pid at teardown, also when tests fail; teardown asserts that no process
of it is left. When several conftests import the fixture (tests/cluster and tests/e2e in one
run), pytest sees one session fixture per directory: they share a single cluster, reference
counted, stopped when the last one is torn down.

The machine has one node, so test sessions in several work trees take turns: the session holds
an exclusive lock on `~/.cache/dbmigrator/node/session.lock` while its cluster runs, and a
second session waits for it (saying so) instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import pytest

from localcluster import processes
from localcluster.controlplane import LocalCluster, start_cluster, stop_cluster
from localcluster.turns import take_turn

_shared: LocalCluster | None = None
_users = 0
_lock: IO[str] | None = None


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A running local cluster (`.kubeconfig`, `.api_client()`, `.read_log(ns, pod)`)."""
    global _shared, _users, _lock
    if _shared is None:
        _lock = _lock or take_turn()
        _shared = start_cluster(tmp_path_factory.mktemp("localcluster"))
    cluster = _shared
    _users += 1
    try:
        yield cluster
    finally:
        _users -= 1
        if _users == 0:
            _shared = None
            stop_cluster(cluster.state_dir)
            left = processes.marked_processes(cluster.state_dir)
            if _lock is not None:
                _lock.close()  # closing releases the flock
                _lock = None
            assert not left, f"processes of the local cluster survived teardown: {left}"
