"""Faults that only a real kubelet brings: a missing image, the kernel's OOM killer, a pod
deleted while it migrates. Each ends decided and named in status, never Progressing forever,
and the database stays consistent.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.conftest import Shop, shop_resource, wait_for

pytestmark = pytest.mark.e2e

ONE_SHOT = {"backup": {"enabled": False}, "rehearsal": {"enabled": False}, "phases": []}


def conditions(resource: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in resource["status"]["conditions"]}


def test_an_image_that_is_not_on_the_node_stalls_with_the_kubelets_reason(shop: Shop) -> None:
    ref = "localhost/never-loaded-migrations:1"
    began = time.monotonic()
    shop.apply(shop_resource(shop.namespace, target="001", validation={"enabled": False},
                             source={"image": {"reference": ref, "pullPolicy": "Never"}},
                             **ONE_SHOT))  # fmt: skip
    resource = shop.wait_settled(timeout=120)
    took = time.monotonic() - began
    st = resource["status"]
    assert conditions(resource)["Stalled"] == ("True", "ErrImageNeverPull"), st
    assert conditions(resource)["Ready"][0] == "False"
    assert st["phase"] == "Failed"
    assert ref in st["message"] and "could not start" in st["message"], st["message"]
    assert took < 90, f"stalled only after {took:.0f}s"
    wait_for("the stuck Job deleted", lambda: shop.jobs() == [], timeout=60)
    assert shop.tables().isdisjoint({"categories"}), "nothing ran"


def test_an_engine_killed_for_its_memory_limit_is_reported_as_oomkilled(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace, target="001", validation={"enabled": False},
                             job={"resources": {"limits": {"memory": "20Mi"}}}, **ONE_SHOT))  # fmt: skip
    resource = shop.wait_settled(timeout=180)
    st = resource["status"]
    assert conditions(resource)["Stalled"] == ("True", "OOMKilled"), st
    assert "limits.memory" in st["message"], st["message"]
    pods = json.loads(shop.kubectl("get", "pods", "-o", "json"))["items"]
    reasons = {cs["state"].get("terminated", {}).get("reason")
               for p in pods for cs in p["status"].get("containerStatuses", [])}  # fmt: skip
    assert "OOMKilled" in reasons, reasons


def test_a_pod_deleted_mid_migration_is_never_lost(shop: Shop) -> None:
    slow = "select pg_sleep(20);\ncreate table if not exists public.slow_thing (id int);\n"
    shop.set_migrations(shop_migrations_dir(), {"001_slow.sql": slow})
    shop.apply(shop_resource(shop.namespace, target="001", validation={"enabled": False},
                             **ONE_SHOT))  # fmt: skip

    def running_pod() -> str | None:
        # The migrate step's pod (the run's plan step runs first, in a pod of its own).
        pods = json.loads(shop.kubectl("get", "pods", "-l", "dbmigrator.io/step=migrate-1",
                                       "-o", "json"))["items"]  # fmt: skip
        for pod in pods:
            for cs in pod["status"].get("containerStatuses") or []:
                if "running" in (cs.get("state") or {}):
                    return str(pod["metadata"]["name"])
        return None

    pod = wait_for("the migrate pod running", running_pod, timeout=90)
    # The file runs as one message, which names itself first (engine/batch.py).
    running = ("select count(*) from pg_stat_activity where pid <> pg_backend_pid() "
               "and query like '/* dbmigrator up 001_slow.sql:1, %select pg_sleep(20)%'")  # fmt: skip
    wait_for("the migration's statement running", lambda: shop.query(running)[0][0], timeout=30)
    shop.kubectl("delete", "pod", pod, "--wait=false")
    resource = shop.wait_settled(timeout=240)
    st = resource["status"]
    tracked = shop.query(
        "select count(*) from supabase_migrations.schema_migrations where version = '001'"
    )[0][0]
    assert ("slow_thing" in shop.tables()) == (tracked == 1), "table and tracking row disagree"
    # The engine rolled the file back and said `interrupted`; the operator ran the step again.
    assert conditions(resource)["Ready"] == ("True", "Succeeded"), st
    assert st["currentVersion"] == "001" and tracked == 1
    events = shop.kubectl(
        "get", "events", "--field-selector", "involvedObject.kind=DatabaseMigration"
    )
    assert "Interrupted" in events, events
    leftover = shop.query(running)[0][0]
    assert leftover == 0, "the interrupted migration's backend is still running"


def shop_migrations_dir() -> Any:
    """An empty directory: the ConfigMap holds only the file the test adds."""
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="faults-"))
