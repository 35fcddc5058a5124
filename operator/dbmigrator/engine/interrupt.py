"""Stopping cleanly on SIGTERM/SIGINT (Job deadline, suspend, pod deletion, Ctrl-C).

Killed outright, a runner would leave its backend running the statement until
`statement_timeout`, holding the advisory lock and its table locks, and write no result. So the
CLI installs `handle_signals()`: the first signal cancels the statement running on every
connection registered with `watching()` (the server rolls it back) and sets a flag that the
engine checks at safe points (`check()`), where it stops, records the failure and returns its
result like any other failure. With no connection registered (a command that is not running
SQL, e.g. pg_dump), or on a second signal, `Interrupt` is raised at once instead.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import psycopg

from dbmigrator.engine.errors import RunInterrupted

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_watched: list[psycopg.Connection[Any]] = []
_received: signal.Signals | None = None


class Interrupt(KeyboardInterrupt):
    """Raised where the program is when a signal cannot wait for a safe point."""

    def __init__(self, signum: signal.Signals) -> None:
        super().__init__(signum.name)
        self.signum = signum


def handle_signals() -> None:
    """Install the handler (main thread only; the CLI calls this once per command)."""
    global _received
    _received = None
    for signum in _SIGNALS:
        signal.signal(signum, _on_signal)


def received() -> signal.Signals | None:
    """The signal that asked us to stop, if any."""
    return _received


def check(where: str) -> None:
    """Raise RunInterrupted at a safe point if a signal asked us to stop."""
    if _received is not None:
        raise interrupted_error(where)


def interrupted_error(where: str) -> RunInterrupted:
    signum = _received or signal.SIGTERM
    return RunInterrupted(
        f"interrupted by {signum.name} {where}",
        hint="the runner was asked to stop (Job deadline, suspension, pod deletion or Ctrl-C); "
        "run it again to continue",
        exit_code=128 + int(signum),
    )


@contextmanager
def watching(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Register `conn` so that a signal cancels the statement running on it."""
    _watched.append(conn)
    try:
        yield
    finally:
        _watched.remove(conn)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _received
    first = _received is None
    _received = signal.Signals(signum)
    if not first or not _watched:
        raise Interrupt(_received)
    for conn in list(_watched):
        _cancel(conn)


def _cancel(conn: psycopg.Connection[Any]) -> None:
    # The connection may be gone already; the server then ends the statement itself.
    with contextlib.suppress(psycopg.Error, OSError):
        conn.cancel_safe(timeout=5.0)
