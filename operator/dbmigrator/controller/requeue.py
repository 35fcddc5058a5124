"""The requeue loop: when to look at each resource again (one thread drains it, no kopf).

A reconcile asks for its next look (Job poll, retry backoff, a blocked input's recheck) with
`add`; `run` calls the reconcile function when the time comes. Kept apart from the kopf glue so
the loop is tested on its own (tests/unit/test_requeue.py).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Requeue:
    """When to look at each resource again: the earliest requested time wins, one thread drains.

    A reconcile asks for its next look (Job poll, retry backoff); asking again for an earlier
    time moves it forward, a later one is ignored, so chains of requeues never multiply.
    """

    reconcile: Callable[[str, str], None]
    _heap: list[tuple[float, str, str]] = field(default_factory=list)
    _due: dict[tuple[str, str], float] = field(default_factory=dict)
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _stop: bool = False

    def add(self, namespace: str, name: str, delay: float) -> None:
        due = time.monotonic() + max(0.0, delay)
        with self._cv:
            if self._due.get((namespace, name), float("inf")) <= due:
                return
            self._due[(namespace, name)] = due
            heapq.heappush(self._heap, (due, namespace, name))
            self._cv.notify()

    def run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(timeout)
                if self._stop:
                    return
                due, namespace, name = heapq.heappop(self._heap)
                if self._due.get((namespace, name)) != due:
                    continue  # superseded by an earlier request
                del self._due[(namespace, name)]
            self.reconcile(namespace, name)

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
