"""Signals during a run: the first one cancels the watched statements and lets the engine stop
at a safe point; with nothing to cancel, or a second time, it stops at once."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from dbmigrator.engine import interrupt
from dbmigrator.engine.errors import RunInterrupted


class FakeConnection:
    """Stands in for a psycopg connection: only cancel_safe is used."""

    def __init__(self) -> None:
        self.cancelled = 0

    def cancel_safe(self, *, timeout: float = 30.0) -> None:
        self.cancelled += 1


@pytest.fixture(autouse=True)
def handlers() -> Iterator[None]:
    interrupt.handle_signals()
    yield
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _send(signum: signal.Signals) -> None:
    os.kill(os.getpid(), signum)
    signal.sigtimedwait([], 0.01)  # let the handler run here, not somewhere later


def test_first_signal_cancels_watched_statements_and_check_stops_the_run() -> None:
    conn: Any = FakeConnection()
    with interrupt.watching(conn):
        interrupt.check("before anything")  # no signal yet: nothing happens
        _send(signal.SIGTERM)
        assert conn.cancelled == 1
        assert interrupt.received() is signal.SIGTERM
        with pytest.raises(RunInterrupted) as info:
            interrupt.check("at 002_x.sql:3")
        assert info.value.exit_code == 143 and info.value.kind == "interrupted"
        assert info.value.message == "interrupted by SIGTERM at 002_x.sql:3"
        with pytest.raises(interrupt.Interrupt):  # a second signal does not wait
            _send(signal.SIGTERM)


def test_signal_with_nothing_to_cancel_stops_at_once() -> None:
    with pytest.raises(interrupt.Interrupt) as info:
        _send(signal.SIGINT)
    assert info.value.signum is signal.SIGINT
    assert interrupt.interrupted_error("during plan").exit_code == 130
