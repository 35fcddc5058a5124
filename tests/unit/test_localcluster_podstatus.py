"""The node agent's pure status building: phases, container statuses, termination messages."""

from __future__ import annotations

import pytest

from localcluster.podstatus import (
    ContainerRecord,
    build_container_status,
    build_pod_status,
    build_termination_message,
    exit_code_of,
    finish_record,
    log_tail,
    plan_phase,
    start_record,
)

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "2026-01-01T00:00:09Z"


def rec(name: str = "main", state: str = "waiting", code: int | None = None) -> ContainerRecord:
    base = ContainerRecord(name, "img:1")
    if state == "waiting":
        return base
    running = start_record(base, 42, T0)
    return running if state == "running" else finish_record(running, code or 0, "", T1)


@pytest.mark.parametrize(
    ("init", "main", "policy", "phase"),
    [
        ([], [rec()], "Never", "Pending"),
        ([], [rec(state="running")], "Never", "Running"),
        ([], [rec(state="terminated", code=0)], "Never", "Succeeded"),
        ([], [rec(state="terminated", code=2)], "Never", "Failed"),
        ([], [rec("a", "terminated", 0), rec("b", "running")], "Never", "Running"),
        ([], [rec("a", "terminated", 0), rec("b", "terminated", 1)], "Never", "Failed"),
        ([rec("i", "running")], [rec()], "Never", "Pending"),
        ([rec("i", "terminated", 1)], [rec()], "Never", "Failed"),
        ([rec("i", "terminated", 1)], [rec()], "OnFailure", "Pending"),
        ([rec("i", "terminated", 0)], [rec()], "Never", "Pending"),
        ([rec("i", "terminated", 0)], [rec(state="running")], "Never", "Running"),
        ([], [rec(state="terminated", code=1)], "OnFailure", "Running"),
        ([], [rec(state="terminated", code=0)], "OnFailure", "Succeeded"),
    ],
)
def test_plan_phase(
    init: list[ContainerRecord], main: list[ContainerRecord], policy: str, phase: str
) -> None:
    assert plan_phase(init, main, policy) == phase


def test_start_and_restart_records() -> None:
    first = start_record(ContainerRecord("main", "img"), 10, T0)
    assert (first.state, first.pid, first.restart_count, first.last_terminated) == (
        "running",
        10,
        0,
        None,
    )
    failed = finish_record(first, 3, "boom", T1)
    assert (failed.reason, failed.exit_code, failed.message) == ("Error", 3, "boom")
    again = start_record(failed, 11, T2)
    assert again.restart_count == 1
    assert again.last_terminated == {
        "exitCode": 3,
        "reason": "Error",
        "message": "boom",
        "startedAt": T0,
        "finishedAt": T1,
        "containerID": "local://10",
    }


def test_container_status_shapes() -> None:
    running = build_container_status(rec(state="running"), ready=True)
    assert running["state"] == {"running": {"startedAt": T0}}
    assert (running["started"], running["ready"], running["containerID"]) == (
        True,
        True,
        "local://42",
    )
    assert running["imageID"] == "local://img:1"
    done = build_container_status(rec(state="terminated", code=0), ready=False)
    assert done["state"]["terminated"]["reason"] == "Completed"
    assert done["started"] is False
    waiting = build_container_status(
        ContainerRecord("m", "i", reason="CreateContainerConfigError", message='secret "x"'), False
    )
    assert waiting["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x"'}
    }


def conditions(status: dict[str, object]) -> dict[str, str]:
    conds = status["conditions"]
    assert isinstance(conds, list)
    return {c["type"]: c["status"] for c in conds}


def test_pod_status_running_and_done() -> None:
    running = build_pod_status([], [rec(state="running")], "Running", T0)
    assert running["phase"] == "Running"
    assert running["startTime"] == T0
    assert running["podIP"] == "127.0.0.1"
    assert conditions(running) == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert running["containerStatuses"][0]["ready"] is True
    done = build_pod_status([], [rec(state="terminated")], "Succeeded", T0)
    assert conditions(done)["Ready"] == "False"
    assert "initContainerStatuses" not in done
    failed = build_pod_status([], [rec()], "Failed", T0, "DeadlineExceeded", "too long")
    assert (failed["reason"], failed["message"]) == ("DeadlineExceeded", "too long")


def test_pod_status_with_init_containers() -> None:
    status = build_pod_status([rec("init", "running")], [rec()], "Pending", T0)
    assert conditions(status)["Initialized"] == "False"
    assert status["initContainerStatuses"][0]["name"] == "init"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"


def test_status_is_deterministic() -> None:
    args = ([rec("i", "terminated", 0)], [rec(state="running")], "Running", T0)
    assert build_pod_status(*args) == build_pod_status(*args)


def test_termination_message_rules() -> None:
    assert build_termination_message(b'{"ok": true}', b"log", None, 0) == '{"ok": true}'
    assert len(build_termination_message(b"x" * 5000, b"", None, 0)) == 4096
    assert build_termination_message(b"", b"log\n", None, 1) == ""
    assert build_termination_message(b"", b"log\n", "FallbackToLogsOnError", 0) == ""
    assert build_termination_message(b"", b"a\nb\n", "FallbackToLogsOnError", 1) == "a\nb\n"
    assert build_termination_message(b"msg", b"a\n", "FallbackToLogsOnError", 1) == "msg"


def test_log_tail_limits() -> None:
    log = b"".join(f"line {i}\n".encode() for i in range(200))
    tail = log_tail(log)
    assert tail.splitlines()[0] == "line 120"
    assert len(tail.splitlines()) == 80
    assert len(log_tail(b"y" * 5000).encode()) == 2048


def test_exit_code_of_signals() -> None:
    assert exit_code_of(0) == 0
    assert exit_code_of(3) == 3
    assert exit_code_of(-9) == 137
    assert exit_code_of(-15) == 143
