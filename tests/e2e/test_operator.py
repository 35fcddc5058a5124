"""The operator against the real local control plane and a real PostgreSQL, as a user sees it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Operator, Shop, kubectl, shop_resource, wait_for
from tests.unit.test_argocd_health import run_health
from tests.unit.test_gitops_health import flux_health

pytestmark = pytest.mark.e2e


def test_shop_succeeds_in_three_phases_then_rolls_back_and_forward(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace))
    r = shop.wait_settled()
    st = r["status"]
    assert st["phase"] == "Succeeded", st.get("message")
    assert st["currentVersion"] == "008"
    assert [p["state"] for p in st["phases"]] == ["Succeeded", "Succeeded", "Succeeded"]
    assert [a["version"] for a in st["applied"]] == [f"00{i}" for i in range(1, 9)]
    assert st["validation"]["passed"] is True and st["validation"]["failed"] == 0
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Ready": "True", "Reconciling": "False", "Stalled": "False", "BackupReady": "True", "Validated": "True",
    }  # fmt: skip
    jobs = shop.jobs()
    assert [j for j in jobs if "-migrate-" in j] == [
        "shop-db-g1-migrate-1",
        "shop-db-g1-migrate-2",
        "shop-db-g1-migrate-3",
    ]
    assert "shop-db-g1-backup" in jobs and "shop-db-g1-rehearse" in jobs
    backup = st["backup"]["file"]
    on_pvc = shop.cluster.state_dir / "pvc" / shop.namespace / "db-backups" / backup
    assert on_pvc.is_file() and on_pvc.stat().st_size == st["backup"]["sizeBytes"]
    assert st["performance"][0]["name"] == "parts-search"

    table = shop.kubectl("get", "dbmigrations")
    header = table.splitlines()[0].split()
    assert header == ["NAME", "TARGET", "CURRENT", "PHASE", "VALIDATED", "AGE"]
    assert table.splitlines()[1].split()[:5] == ["shop-db", "008", "008", "Succeeded", "True"]
    wide = shop.kubectl("get", "dbm", "-o", "wide").splitlines()[0].split()
    assert wide[-2:] == ["BACKUP", "MESSAGE"]

    # Lowering the target rolls back with the down files.
    shop.kubectl(
        "patch", "dbm", "shop-db", "--type", "merge", "-p", '{"spec": {"targetVersion": "005"}}'
    )
    st = shop.wait_settled()["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "005", st.get("message")
    assert st["history"][-1]["operation"] == "rollback"
    assert not {"admin_roles"} & shop.tables()
    assert shop.query("select max(version) from supabase_migrations.schema_migrations") == [
        ("005",)
    ]

    # And forward again.
    shop.kubectl(
        "patch", "dbm", "shop-db", "--type", "merge", "-p", '{"spec": {"targetVersion": "008"}}'
    )
    st = shop.wait_settled()["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "008", st.get("message")
    assert "admin_roles" in shop.tables()
    events = shop.kubectl(
        "get", "events", "--field-selector", "involvedObject.kind=DatabaseMigration"
    )
    assert "Succeeded" in events


BROKEN = (
    "create table public.loyalty (id int primary key);\n"
    "\n"
    "insert into public.loyalty\n"
    "  select points from public.nope;\n"
)


def test_broken_migration_fails_with_file_and_line_and_leaves_database_unchanged(
    shop: Shop,
) -> None:
    shop.set_migrations(REPO / "migrations", {"009_add_loyalty.sql": BROKEN})
    shop.apply(shop_resource(shop.namespace, "009", phases=[], rehearsal={"enabled": False}))
    st = shop.wait_settled()["status"]
    assert st["phase"] == "Failed"
    assert "009_add_loyalty.sql:4" in st["message"] and "42P01" in st["message"]
    assert shop.condition("Stalled")["status"] == "True"
    assert shop.condition("Ready")["status"] == "False"
    assert st["currentVersion"] == "008"
    assert "loyalty" not in shop.tables()
    warnings = shop.kubectl("get", "events", "--field-selector", "type=Warning")
    assert "009_add_loyalty.sql:4" in warnings


def test_broken_migration_with_on_failure_down_ends_rolled_back(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace, "005", rehearsal={"enabled": False}))
    assert shop.wait_settled()["status"]["currentVersion"] == "005"
    shop.set_migrations(REPO / "migrations", {
        "009_add_loyalty.sql": BROKEN,
        "009_add_loyalty.down.sql": "drop table if exists public.loyalty;\n",
    })  # fmt: skip
    shop.apply(shop_resource(shop.namespace, "009", phases=[], rehearsal={"enabled": False},
                             rollback={"onFailure": "Down"}))  # fmt: skip
    st = shop.wait_settled(timeout=240)["status"]
    assert st["currentVersion"] == "005", st.get("message")
    assert "admin_roles" not in shop.tables() and "loyalty" not in shop.tables()
    assert shop.condition("Stalled")["status"] == "True"  # a human still has to fix 009
    assert "009_add_loyalty.sql:4" in st["message"]
    assert [j for j in shop.jobs() if j.endswith("-down")], shop.jobs()


def test_operator_killed_mid_migration_adopts_the_job(shop: Shop, operator: Operator) -> None:
    slow = "select pg_sleep(6);\ncreate table if not exists public.slow_marker (id int);\n"
    shop.set_migrations(REPO / "migrations", {"009_slow.sql": slow})
    shop.apply(shop_resource(shop.namespace, "009", phases=[], backup={"enabled": False},
                             rehearsal={"enabled": False}))  # fmt: skip
    wait_for("the migrate Job", lambda: any("-migrate-" in j for j in shop.jobs()), timeout=60)
    time.sleep(1.0)
    operator.kill()
    time.sleep(2.0)
    operator.start()
    st = shop.wait_settled(timeout=180)["status"]
    assert st["phase"] == "Succeeded" and st["currentVersion"] == "009", st.get("message")
    assert [j for j in shop.jobs() if "-migrate-" in j] == ["shop-db-g1-migrate-1"]
    runs = shop.query("select version, count(*) from supabase_migrations.dbmigrator_history "
                      "where operation = 'up' and success group by 1 having count(*) > 1")  # fmt: skip
    assert runs == []


def test_a_late_secret_is_waited_for_then_the_run_goes_on(shop: Shop, operator: Operator) -> None:
    """GitOps applies the Secret moments later (External Secrets, Sealed Secrets, a later wave):
    Progressing meanwhile, for Argo CD and Flux's CEL checks too, never Degraded; then Ready.
    The operator's /metrics says the same (the series the chart's alerts and dashboard read)."""
    series = {"namespace": shop.namespace, "name": "shop-db"}
    shop.kubectl("delete", "secret", "shop-db-credentials")
    shop.apply(shop_resource(shop.namespace, "003", phases=[], backup={"enabled": False},
                             rehearsal={"enabled": False}))  # fmt: skip
    wait_for("WaitingForSecret",
             lambda: shop.condition("Reconciling").get("reason") == "WaitingForSecret", timeout=60)  # fmt: skip
    assert shop.condition("Stalled")["status"] == "False"
    assert "shop-db-credentials" in shop.condition("Reconciling")["message"]
    assert run_health(shop.resource())[0] == "Progressing"
    assert flux_health(shop.resource()) == "InProgress"
    assert operator.sample("dbmigrator_condition", **series, condition="Reconciling") == 1
    assert operator.sample("dbmigrator_condition", **series, condition="Stalled") == 0
    assert shop.jobs() == []
    shop.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db-credentials"},
                "stringData": {"uri": shop.dsn}})  # fmt: skip
    st = shop.wait_settled(timeout=120)["status"]
    assert st["phase"] == "Succeeded", st.get("message")
    assert run_health(shop.resource())[0] == "Healthy"
    assert flux_health(shop.resource()) == "Current"
    assert st.get("waitingSince") is None
    assert operator.sample("dbmigrator_phase", **series, phase="Succeeded") == 1
    assert operator.sample("dbmigrator_current_version", **series) == 3
    assert operator.sample("dbmigrator_run_deadline_timestamp_seconds", **series) is None
    shop.kubectl("delete", "dbm", "shop-db", "--wait=true", "--timeout=60s")
    wait_for("the deleted resource's series to go",
             lambda: operator.sample("dbmigrator_phase", **series) is None, timeout=30)  # fmt: skip


def test_a_secret_that_never_comes_stalls_then_recovers(shop: Shop) -> None:
    shop.kubectl("delete", "secret", "shop-db-credentials")
    shop.apply(shop_resource(shop.namespace, "003", phases=[], backup={"enabled": False},
                             rehearsal={"enabled": False}, dependencyTimeoutSeconds=3))  # fmt: skip
    wait_for(
        "SecretNotFound",
        lambda: shop.condition("Ready").get("reason") == "SecretNotFound",
        timeout=60,
    )
    assert shop.condition("Stalled")["status"] == "True"
    assert run_health(shop.resource())[0] == "Degraded"
    assert "shop-db-credentials" in shop.condition("Ready")["message"]
    assert shop.jobs() == []
    shop.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db-credentials"},
                "stringData": {"uri": shop.dsn}})  # fmt: skip
    st = wait_for("success after the secret appears",
                  lambda: (shop.resource().get("status") or {}).get("phase") == "Succeeded", timeout=120)  # fmt: skip
    assert st


def test_target_version_not_in_source_is_a_clear_condition(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace, "042", phases=[]))
    st = shop.wait_settled(timeout=60)["status"]
    ready = shop.condition("Ready")
    assert ready["reason"] == "TargetVersionNotFound"
    assert "042" in ready["message"]
    assert st["phase"] == "Failed" and shop.jobs() == []


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"targetVersion": "v8"}, "spec.targetVersion"),
        ({"rollback": {"onFailure": "Restore"}}, "allowDataLoss"),
        ({"phases": [{"name": "Bad_Name", "through": "003"}]}, "spec.phases[0].name"),
        ({"database": {}}, "secretRef"),
        ({"backup": {"enabled": True}}, "volumeClaimName"),
    ],
)
def test_invalid_resources_are_rejected_by_the_api_server(
    shop: Shop, patch: dict, message: str
) -> None:  # type: ignore[type-arg]
    manifest = shop_resource(shop.namespace)
    manifest["spec"].update(patch)
    out = shop.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert "is invalid" in out or "Invalid value" in out or "Required value" in out, out
    assert message in out, out


def test_deleting_the_resource_never_touches_the_database(shop: Shop) -> None:
    shop.apply(shop_resource(shop.namespace, "003", phases=[], rehearsal={"enabled": False}))
    assert shop.wait_settled()["status"]["currentVersion"] == "003"
    before = shop.tables()
    shop.kubectl("delete", "dbm", "shop-db", "--wait=true", "--timeout=60s")
    wait_for("Jobs garbage-collected", lambda: shop.jobs() == [], timeout=60)
    assert shop.tables() == before
    assert shop.query("select max(version) from supabase_migrations.schema_migrations") == [
        ("003",)
    ]


def test_kubectl_explain_documents_fields(cluster) -> None:  # type: ignore[no-untyped-def]
    out = kubectl(Path(cluster.kubeconfig), "explain", "databasemigration.spec.rollback")
    assert "onFailure" in out and "allowDataLoss" in out
