"""The requeue loop (controller/requeue.py) with real threads and a real clock, no kopf.

The earliest requested time wins, a later request for the same resource is ignored, a superseded
entry never fires, and `stop` ends the loop.
"""

from __future__ import annotations

import threading
import time

from dbmigrator.controller.requeue import Requeue


class Calls:
    """What the loop reconciled, in order, with when."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, float]] = []
        self.cv = threading.Condition()

    def __call__(self, namespace: str, name: str) -> None:
        with self.cv:
            self.seen.append((namespace, name, time.monotonic()))
            self.cv.notify_all()

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[str, str, float]]:
        with self.cv:
            assert self.cv.wait_for(lambda: len(self.seen) >= count, timeout), self.seen
            return list(self.seen)


def start(calls: Calls) -> tuple[Requeue, threading.Thread]:
    loop = Requeue(reconcile=calls)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    return loop, thread


def test_due_requests_run_in_time_order() -> None:
    calls = Calls()
    loop, thread = start(calls)
    began = time.monotonic()
    loop.add("ns", "late", 0.3)
    loop.add("ns", "soon", 0.05)
    seen = calls.wait(2)
    loop.stop()
    thread.join(2)
    assert [name for _, name, _ in seen] == ["soon", "late"]
    assert seen[1][2] - began >= 0.3
    assert not thread.is_alive()


def test_an_earlier_request_moves_the_look_forward_and_a_later_one_is_ignored() -> None:
    calls = Calls()
    loop, thread = start(calls)
    began = time.monotonic()
    loop.add("ns", "db", 1.0)
    loop.add("ns", "db", 0.05)  # earlier: wins
    loop.add("ns", "db", 0.6)  # later than the pending one: ignored
    seen = calls.wait(1)
    assert seen[0][2] - began < 0.6
    time.sleep(max(0.0, began + 1.3 - time.monotonic()))  # past both: the 1s entry was superseded
    loop.stop()
    thread.join(2)
    assert len(calls.seen) == 1, calls.seen


def test_a_resource_asked_for_again_after_its_look_is_looked_at_again() -> None:
    calls = Calls()
    loop, thread = start(calls)
    loop.add("ns", "db", 0.0)
    calls.wait(1)
    loop.add("ns", "db", 0.0)
    calls.wait(2)
    loop.stop()
    thread.join(2)
    assert [name for _, name, _ in calls.seen] == ["db", "db"]


def test_stop_ends_the_loop_with_work_pending() -> None:
    calls = Calls()
    loop, thread = start(calls)
    loop.add("ns", "db", 60.0)
    loop.stop()
    thread.join(2)
    assert not thread.is_alive() and calls.seen == []
