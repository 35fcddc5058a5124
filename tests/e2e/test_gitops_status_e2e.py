"""What the API server serves before the operator's first status write, read by Flux's own CEL.

The CRD defaults `status` to {} so that a DatabaseMigration is never served without `status`:
Flux's healthCheckExprs (examples/flux/shop.yaml) cannot test a missing top-level field (the
evaluation errors, Flux reports Unknown), they can test has(status.observedGeneration). The
create response is read, so no operator can have written a status yet (none runs here anyway).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from localcluster.controlplane import LocalCluster
from tests.e2e.conftest import kubectl, shop_resource
from tests.unit.test_gitops_health import FLUX_EXAMPLE, healthcheck_tool, run_engines


def test_a_new_resource_is_served_with_an_empty_status_that_flux_reads_in_progress(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    namespace = f"gitops-{secrets.token_hex(3)}"
    kubectl(cluster.kubeconfig, "create", "namespace", namespace)
    try:
        manifest = shop_resource(namespace)
        served = json.loads(
            kubectl(cluster.kubeconfig, "create", "-f", "-", "-o", "json",
                    stdin=json.dumps(manifest))
        )  # fmt: skip
        assert served.get("status") == {}, served.get("status")
        again = json.loads(
            kubectl(cluster.kubeconfig, "get", "dbm", "shop-db", "-n", namespace, "-o", "json")
        )
        assert "status" in again, again
        path = tmp_path / "served.json"
        path.write_text(json.dumps(served))
        verdict = run_engines(healthcheck_tool(), FLUX_EXAMPLE, [path])[str(path)]
        assert verdict["flux"] == "InProgress", verdict
        assert verdict["argocd"] == "Progressing", verdict
    finally:
        kubectl(cluster.kubeconfig, "delete", "namespace", namespace, "--wait=false")
