"""The pure parts of tools/bench_scale.py: kwok stages, request counting, quantiles."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from bench_scale import (
    OPERATOR_ONLY,
    Report,
    histogram_quantile,
    kwok_stages,
    reconcile_quantiles,
    request_counts,
    resource,
)
from dbmigrator.api.spec import parse_spec

RESULT = '{"command":"up","ok":true,"exitCode":0,"currentVersion":"001","note":"a \\"quoted\\" \\\\ path"}'


def test_the_stages_carry_the_engine_result_verbatim_as_termination_message() -> None:
    docs = list(yaml.safe_load_all(kwok_stages(RESULT, 750)))
    assert [d["metadata"]["name"] for d in docs] == [
        "dbmigrator-node-ready", "dbmigrator-pod-running", "dbmigrator-engine-done",
        "dbmigrator-pod-delete"]  # fmt: skip
    done = docs[2]["spec"]
    assert done["delay"]["durationMilliseconds"] == 750
    # The status template is itself YAML once kwok has rendered its actions; the message line
    # holds no action, so parsing it alone must give back the document byte for byte.
    line = next(x for x in done["next"]["statusTemplate"].splitlines() if "message:" in x)
    assert yaml.safe_load(line.strip())["message"] == RESULT
    assert json.loads(yaml.safe_load(line.strip())["message"])["currentVersion"] == "001"


def test_a_result_with_template_delimiters_is_refused() -> None:
    with pytest.raises(ValueError, match="Go template"):
        kwok_stages('{"message":"{{ evil }}"}', 1)


METRICS = """\
# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="201",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="",verb="POST",version="v1"} 3
apiserver_request_total{code="409",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="status",verb="PATCH",version="v1"} 5
# HELP dbmigrator_reconcile_duration_seconds Time of one reconcile.
# TYPE dbmigrator_reconcile_duration_seconds histogram
dbmigrator_reconcile_duration_seconds_bucket{le="0.01"} 0
dbmigrator_reconcile_duration_seconds_bucket{le="0.1"} 50
dbmigrator_reconcile_duration_seconds_bucket{le="1.0"} 99
dbmigrator_reconcile_duration_seconds_bucket{le="+Inf"} 100
dbmigrator_reconcile_duration_seconds_count 100
dbmigrator_reconcile_duration_seconds_sum 12
"""


def test_requests_are_summed_over_codes_by_resource_subresource_and_verb() -> None:
    counts = request_counts(METRICS)
    assert counts == {("jobs", "", "LIST"): 7, ("jobs", "", "POST"): 4,
                      ("pods", "status", "PATCH"): 5}  # fmt: skip
    report = Report(resources=2, namespaces=1, nodes=1, engine_ms=0, requests=counts)
    assert ("pods", "status", "PATCH") not in OPERATOR_ONLY, "kwok writes pod status"
    assert report.per_resource() == (7 + 4) / 2


def test_quantiles_interpolate_within_buckets_like_prometheus() -> None:
    p50, p99, count = reconcile_quantiles(METRICS)
    assert count == 100
    assert p50 == pytest.approx(0.1)  # rank 50 is the top of the (0.01, 0.1] bucket
    assert p99 == pytest.approx(1.0)
    assert histogram_quantile(0.75, [(1.0, 50), (2.0, 100)]) == pytest.approx(1.5)
    assert histogram_quantile(0.99, [(1.0, 50), (math.inf, 100)]) == 1.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0), (math.inf, 0)]))


def test_each_resource_is_one_job_without_a_plan_step() -> None:
    """The kwok stages answer every pod with one canned `up` result: a plan step's pod would get
    it too and be rejected, so the benchmark's resources switch the safety gate off."""
    spec = resource("ns", "db")["spec"]
    assert spec["safety"] == {"review": "Never", "drift": "Ignore"}
    parsed = parse_spec(spec)
    assert parsed.safety.review == "Never" and parsed.safety.drift == "Ignore"
