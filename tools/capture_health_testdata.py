"""Capture real DatabaseMigration objects as Argo CD health-check testdata.

Starts the local control plane and a PostgreSQL, installs the CRD, runs the operator as a local
process and drives scenarios, each in its own namespace and database:

    shop       the shop to 008: backup, rehearsal, three phases
    rollback   the same resource lowered to 005 (down files)
    broken     a 009 that fails at line 4, rehearsal disabled
    secret     the credentials Secret missing, then created
    target     spec.targetVersion not in the migrations ConfigMap
    suspend    spec.suspend set while a slow 009 runs, then cleared
    transient  the Secret's URI points at a closed port (retried, then out of retries)
    approval   a dangerous 009 waits for its plan's approval, another plan's hash, then its own

A watch on each resource records every version the API server stores (not a sampled poll, so no
short-lived state is missed); every distinct shape (phase, each condition's type/status/reason
and whether it speaks for the current generation, whether status.observedGeneration is current,
spec.suspend) is written as `testdata/e2e_<scenario>_<n>_<phase>.yaml`, and the captured cases in
`health_test.yaml` (below the marker line) are regenerated from every `testdata/e2e_*.yaml`. The
expected health comes from the rules in docs/gitops.md (implemented here independently of the
Lua), the expected message from health.lua; a disagreement is reported and makes the exit code 1.
The script also checks that no status and no Event carries a database URI with a password.

    .venv/bin/python tools/capture_health_testdata.py                 # every scenario
    .venv/bin/python tools/capture_health_testdata.py --only suspend  # one, others' files kept

Run by people (and not by CI): a few minutes on 2 cores. Everything it starts stops.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from argocd_health import (
    CAPTURED_SCENARIOS,
    CRD,
    HEALTH_TESTS,
    TESTDATA,
    URI_WITH_PASSWORD,
    load_yaml,
    run_health,
)
from localcluster.controlplane import LocalCluster, start_cluster, stop_cluster
from localcluster.state import HOST_IP, POSTGRES_CLIENTS
from localpg import LocalPostgres

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "dbmigrator"
MARKER = "  # === captured from real end-to-end runs by tools/capture_health_testdata.py ==="
NAME = "shop-db"
SCENARIOS = CAPTURED_SCENARIOS
TRANSIENT_PASSWORD = "capture-s3cret-pw"  # noqa: S105 - a fake password that must never show
BROKEN = (
    "create table public.loyalty (id int primary key);\n"
    "\n"
    "insert into public.loyalty\n"
    "  select points from public.nope;\n"
)
SLOW = "select pg_sleep(10);\ncreate table if not exists public.slow_marker (id int);\n"
DANGEROUS = (
    "CREATE INDEX orders_status_idx ON public.orders (status);\n"
    "ALTER TABLE public.orders ALTER COLUMN total TYPE numeric(14, 2);\n"
)


def log(text: str) -> None:
    print(f"[capture {time.strftime('%H:%M:%S')}] {text}", flush=True)


# --------------------------------------------------------------------------- health rules


def expected_health(obj: dict[str, Any]) -> str:
    """The Argo CD health the rules of docs/gitops.md give (independent of health.lua)."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}

    def is_true(kind: str) -> bool:
        return (conditions.get(kind) or {}).get("status") == "True"

    if metadata.get("deletionTimestamp"):
        return "Progressing"
    if spec.get("suspend") is True or status.get("phase") == "Suspended":
        return "Suspended"
    if status.get("observedGeneration") != metadata.get("generation"):
        return "Progressing"  # not observed yet (or an old generation's outcome)
    if status.get("phase") == "AwaitingApproval":
        return "Suspended"  # a human owes a decision: paused, neither failed nor busy
    if is_true("Stalled"):
        return "Degraded"
    if is_true("Ready") and not is_true("Reconciling"):
        return "Healthy"
    return "Progressing"


# --------------------------------------------------------------------------- shapes and files


def shape(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What the health check can tell apart: two objects of one shape read the same."""
    metadata = obj["metadata"]
    status = obj.get("status")
    generation = metadata.get("generation")
    if not status:
        return ("no-status", bool(obj["spec"].get("suspend")))
    observed = status.get("observedGeneration")
    conditions = tuple(
        sorted(
            (
                c["type"],
                c["status"],
                c.get("reason"),
                c.get("observedGeneration") == generation,
            )
            for c in status.get("conditions") or []
        )
    )
    return (
        status.get("phase"),
        "missing" if observed is None else observed == generation,
        bool(obj["spec"].get("suspend")),
        bool(metadata.get("deletionTimestamp")),
        conditions,
    )


def describe(obj: dict[str, Any]) -> str:
    metadata, status = obj["metadata"], obj.get("status") or {}
    conds = " ".join(
        f"{c['type']}={c['status']}({c.get('reason')}"
        + ("" if c.get("observedGeneration") == metadata.get("generation") else ", stale")
        + ")"
        for c in status.get("conditions") or []
    )
    observed = status.get("observedGeneration")
    return (
        f"phase={status.get('phase') or '-'} gen={metadata.get('generation')} "
        f"observed={observed if observed is not None else '-'}"
        f"{' suspend' if obj['spec'].get('suspend') else ''} {conds}".rstrip()
    )


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as `kubectl get -o yaml` shows it, without managedFields and apply noise."""
    metadata = dict(obj["metadata"])
    metadata.pop("managedFields", None)
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    out: dict[str, Any] = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": metadata,
        "spec": obj["spec"],
    }
    if obj.get("status") is not None:
        out["status"] = obj["status"]
    return out


class _Dumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.1 reader (go-yaml in Argo CD) could take for a number/bool."""


_AMBIGUOUS = re.compile(
    r"[-+.]?[0-9][0-9_.:eE+-]*|(?i:y|n|yes|no|on|off|true|false|null|~|\.inf|\.nan)|"
)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if _AMBIGUOUS.fullmatch(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def to_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


SCENARIO_TITLES = {
    "shop": "the shop to 008: backup, rehearsal, three phases",
    "rollback": "the same resource lowered to 005: backup, down files",
    "broken": "a 009 that fails at line 4 (rehearsal disabled)",
    "secret": "the credentials Secret missing, then created",
    "target": "spec.targetVersion 042 not in the migrations ConfigMap",
    "suspend": "spec.suspend set while a slow 009 runs, then cleared",
    "transient": "the Secret's URI points at a closed port: retried, then out of retries",
    "approval": "a dangerous 009 awaits approval of its plan; another hash, then its own",
}


def _message_yaml(message: str, width: int = 100) -> list[str]:
    """`message: "..."` as lines of at most `width` characters, indented for a healthStatus.

    A JSON string is a YAML double-quoted scalar; a long one breaks before a space with an
    escaped line break (a trailing backslash adds nothing) and that space escaped (`\\ `), since
    a continuation line's leading white space is not content.
    """
    tokens = re.findall(r"\\u[0-9a-fA-F]{4}|\\.|.", json.dumps(message, ensure_ascii=False)[1:-1])
    first, rest = '      message: "', "        "
    lines: list[str] = []
    current: list[str] = []
    prefix = first
    for token in tokens:
        current.append(token)
        if len(prefix) + sum(map(len, current)) + 1 <= width:  # + the closing quote or `\`
            continue
        spaces = [i for i, tok in enumerate(current) if tok == " " and i > 0]
        cut = spaces[-1] if spaces else len(current) - 1  # before a space, or mid-word
        lines.append(prefix + "".join(current[:cut]) + "\\")
        current = current[cut:]
        if current and current[0] == " ":
            current[0] = "\\ "
        prefix = rest
    return [*lines, prefix + "".join(current) + '"']


def regenerate_cases() -> list[str]:
    """Rewrite health_test.yaml below MARKER from every testdata/e2e_*.yaml; return problems."""
    text = HEALTH_TESTS.read_text()
    head = text.split(MARKER + "\n", 1)[0].rstrip("\n") + "\n"
    lines = [
        MARKER,
        "  # Regenerated by the script (do not edit by hand): every distinct shape the operator",
        "  # wrote in one run. status: the rules in docs/gitops.md; message: what health.lua returns.",
    ]
    problems: list[str] = []

    def order(path: Path) -> tuple[int, int]:
        parts = path.stem.split("_")
        return SCENARIOS.index(parts[1]), int(parts[2])

    expected: dict[str, dict[str, Any]] = {}
    scenario = ""
    for path in sorted(TESTDATA.glob("e2e_*.yaml"), key=order):
        if path.stem.split("_")[1] != scenario:
            scenario = path.stem.split("_")[1]
            title = f"  # --- {scenario}: {SCENARIO_TITLES[scenario]} "
            lines.append(title + "-" * max(3, 100 - len(title)))
        obj = load_yaml(path)
        want = expected_health(obj)
        got, message = run_health(obj)
        if got != want:
            problems.append(f"{path.name}: health.lua says {got}, the rules say {want}")
        expected[f"testdata/{path.name}"] = {"status": want, "message": message or ""}
        lines += textwrap.wrap(
            describe(obj), width=100, initial_indent="  # ", subsequent_indent="  #   "
        )
        lines += ["  - healthStatus:", f"      status: {want}", *_message_yaml(message or "")]
        lines.append(f"    inputPath: testdata/{path.name}")
    HEALTH_TESTS.write_text(head + "\n".join(lines) + "\n")
    written = yaml.safe_load(HEALTH_TESTS.read_text())["tests"]
    for case in written:
        want_case = expected.get(case["inputPath"])
        if want_case is not None and case["healthStatus"] != want_case:
            problems.append(f"{case['inputPath']}: health_test.yaml does not read back as written")
    too_long = [
        n for n, line in enumerate(HEALTH_TESTS.read_text().splitlines(), 1) if len(line) > 100
    ]
    if too_long:
        problems.append(f"health_test.yaml: lines longer than 100 characters: {too_long}")
    return problems


# --------------------------------------------------------------------------- the cluster side


@dataclass
class Recorder:
    """Every version of one DatabaseMigration the API server stores, through a watch."""

    cluster: LocalCluster
    namespace: str
    name: str = NAME
    versions: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        from kubernetes import client, watch
        from kubernetes.client.exceptions import ApiException

        new_watch: Any = watch.Watch  # an untyped library

        api_client = self.cluster.api_client()
        api = client.CustomObjectsApi(api_client)
        version: str | None = None
        try:
            while not self._stop.is_set():
                w = new_watch()
                kwargs: dict[str, Any] = {
                    "field_selector": f"metadata.name={self.name}",
                    "timeout_seconds": 3,
                    "_request_timeout": 10,
                }
                if version:
                    kwargs["resource_version"] = version
                try:
                    for event in w.stream(
                        api.list_namespaced_custom_object,
                        "dbmigrator.io",
                        "v1alpha1",
                        self.namespace,
                        "databasemigrations",
                        **kwargs,
                    ):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            version = None
                            break
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] in ("ADDED", "MODIFIED"):
                            with self._changed:
                                if (
                                    not self.versions
                                    or self.versions[-1]["metadata"]["resourceVersion"] != version
                                ):
                                    self.versions.append(obj)
                                self._changed.notify_all()
                        if self._stop.is_set():
                            break
                except ApiException as exc:
                    if exc.status == 410:
                        version = None  # too old: list again (ADDED replays the current state)
                    else:
                        time.sleep(0.5)
        except BaseException as exc:  # surfaced by wait()
            self.error = exc
        finally:
            api_client.close()

    def latest(self) -> dict[str, Any] | None:
        with self._changed:
            return self.versions[-1] if self.versions else None

    def wait(
        self, what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 240
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.error is not None:
                    raise RuntimeError(f"the watch failed: {self.error!r}")
                if self.versions and check(self.versions[-1]):
                    return self.versions[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    last = describe(self.versions[-1]) if self.versions else "nothing"
                    raise RuntimeError(f"timed out waiting for {what}; last: {last}")
                self._changed.wait(timeout=min(left, 1.0))


def conditions_of(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def settled(obj: dict[str, Any]) -> bool:
    """The current generation is decided: Ready=True or Stalled=True, observed."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return False
    conds = conditions_of(obj)
    return any((conds.get(k) or {}).get("status") == "True" for k in ("Ready", "Stalled"))


@dataclass
class Env:
    cluster: LocalCluster
    pg: LocalPostgres
    work: Path

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.cluster.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))


@dataclass
class Shop:
    """One namespace with its own database, like tests/e2e/conftest.py's `shop` fixture."""

    env: Env
    namespace: str
    dsn: str

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return self.env.kubectl("-n", self.namespace, *args, stdin=stdin)

    def secret(self, uri: str) -> None:
        self.env.apply({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "shop-db-credentials", "namespace": self.namespace},
                        "stringData": {"uri": uri}})  # fmt: skip

    def migrations(self, extra: dict[str, str] | None = None) -> None:
        data = {p.name: p.read_text() for p in sorted((REPO / "migrations").glob("*.sql"))}
        data.update(extra or {})
        self.env.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "shop-migrations", "namespace": self.namespace},
                        "data": data})  # fmt: skip

    def create(self, target: str, **overrides: Any) -> None:
        """Create the DatabaseMigration (create, not apply: no last-applied annotation)."""
        self.kubectl("create", "-f", "-", stdin=json.dumps(shop_resource(self.namespace, target, **overrides)))  # fmt: skip

    def patch(self, spec: dict[str, Any]) -> None:
        self.kubectl("patch", "dbm", NAME, "--type", "merge", "-p", json.dumps({"spec": spec}))

    def jobs(self) -> list[str]:
        out = self.kubectl("get", "jobs", "-o", "jsonpath={.items[*].metadata.name}")
        return sorted(out.split())

    def events(self) -> list[dict[str, Any]]:
        items = json.loads(self.kubectl("get", "events", "-o", "json"))["items"]
        return [
            {"type": e.get("type"), "reason": e.get("reason"), "message": e.get("message"),
             "object": f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}"}
            for e in items
        ]  # fmt: skip


def make_shop(env: Env, scenario: str, *, with_secret: bool = True) -> Shop:
    namespace = f"e2e-{scenario}"
    dbname = f"shop_{scenario}"
    with psycopg.connect(env.pg.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"'.encode())
    dsn = env.pg.dsn(dbname)
    subprocess.run([str(CLI), "bootstrap"], env={**os.environ, "DATABASE_URL": dsn}, check=True,
                   capture_output=True)  # fmt: skip
    shop = Shop(env, namespace, dsn)
    env.kubectl("create", "namespace", namespace)
    if with_secret:
        shop.secret(dsn)
    env.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "db-backups", "namespace": namespace},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})  # fmt: skip
    shop.migrations()
    return shop


def shop_resource(namespace: str, target: str = "008", **overrides: Any) -> dict[str, Any]:
    """tests/e2e/conftest.py's shop: three phases, backup, rehearsal, checks."""
    spec: dict[str, Any] = {
        "database": {"secretRef": {"name": "shop-db-credentials", "key": "uri"}},
        "source": {"configMap": {"name": "shop-migrations"}},
        "targetVersion": target,
        "phases": [
            {"name": "core-infrastructure", "through": "003"},
            {"name": "payment-and-audit", "through": "005"},
            {"name": "advanced-features", "through": "008"},
        ],
        "backup": {"enabled": True, "volumeClaimName": "db-backups", "keep": 5},
        "rehearsal": {"enabled": True},
        "validation": {
            "roleProbes": [
                {"role": "anon", "sql": "select * from public.categories limit 1", "expect": "allowed"},
                {"role": "anon", "sql": "select * from public.orders limit 1", "expect": "empty"},
                {"role": "authenticated", "claims": {"sub": "00000000-0000-0000-0000-000000000001"},
                 "sql": "select * from public.user_profiles", "expect": "allowed"},
            ],
            "queries": [{"name": "parts-search", "sql": "select * from public.spare_parts where name ilike '%engine%'",
                         "maxDegradationPercent": 50}],
        },
    }  # fmt: skip
    spec.update(overrides)
    return {"apiVersion": "dbmigrator.io/v1alpha1", "kind": "DatabaseMigration",
            "metadata": {"name": NAME, "namespace": namespace}, "spec": spec}  # fmt: skip


@contextmanager
def recording(env: Env, namespace: str) -> Iterator[Recorder]:
    rec = Recorder(env.cluster, namespace).start()
    try:
        yield rec
    finally:
        time.sleep(1.0)  # the last writes
        rec.stop()


# --------------------------------------------------------------------------- scenarios
# Each returns the recorded versions, in order, of its resource (a scenario may record several
# stretches of one resource: shop and rollback share the namespace).


def scenario_shop(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "shop")
    state["shop"] = shop
    with recording(env, shop.namespace) as rec:
        shop.create("008")
        final = rec.wait("the shop to settle at 008", settled, timeout=360)
    log(f"shop: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_rollback(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop: Shop | None = state.get("shop")
    if shop is None:  # run alone: bring a shop to 008 first (not recorded)
        shop = make_shop(env, "rollback")
        shop.create("008")
        with recording(env, shop.namespace) as rec:
            rec.wait("the shop to settle at 008", settled, timeout=360)
    with recording(env, shop.namespace) as rec:
        rec.wait("the current state", lambda _: True, timeout=30)
        before = rec.versions[-1]["metadata"]["resourceVersion"]
        shop.patch({"targetVersion": "005"})
        final = rec.wait(
            "the rollback to settle",
            lambda o: o["metadata"]["generation"] == 2 and settled(o),
            timeout=300,
        )
    log(f"rollback: {describe(final)}: {final['status'].get('message')}")
    return versions_after(rec.versions, before)


def versions_after(versions: list[dict[str, Any]], before: str) -> list[dict[str, Any]]:
    """Only what followed a patch (the first version recorded is the settled state before it)."""
    start = next(i for i, v in enumerate(versions) if v["metadata"]["resourceVersion"] == before)
    return versions[start + 1 :]


def scenario_broken(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "broken")
    shop.migrations({"009_add_loyalty.sql": BROKEN})
    with recording(env, shop.namespace) as rec:
        shop.create("009", phases=[], rehearsal={"enabled": False})
        final = rec.wait("the broken migration to settle", settled, timeout=300)
    log(f"broken: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_secret(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "secret", with_secret=False)
    with recording(env, shop.namespace) as rec:
        shop.create("003", phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
        rec.wait(
            "SecretNotFound",
            lambda o: (conditions_of(o).get("Ready") or {}).get("reason") == "SecretNotFound",
            timeout=120,
        )
        time.sleep(1.0)
        shop.secret(shop.dsn)
        log("secret: Secret created; the operator's resync picks it up (up to a minute)")
        final = rec.wait(
            "success after the Secret appears",
            lambda o: settled(o) and (o.get("status") or {}).get("phase") == "Succeeded",
            timeout=180,
        )
    log(f"secret: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_target(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "target")
    with recording(env, shop.namespace) as rec:
        shop.create("042", phases=[])
        final = rec.wait("TargetVersionNotFound", settled, timeout=120)
        time.sleep(2.0)  # anything written after the outcome
    log(f"target: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_suspend(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "suspend")
    shop.migrations({"009_slow.sql": SLOW})
    with recording(env, shop.namespace) as rec:
        shop.create("009", phases=[], backup={"enabled": False}, rehearsal={"enabled": False})
        rec.wait(
            "the migrate Job to run",
            lambda o: (o.get("status") or {}).get("phase") == "Migrating",
            timeout=120,
        )
        deadline = time.monotonic() + 60
        while not any("-migrate-" in j for j in shop.jobs()) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # inside 001..008 or the pg_sleep of 009
        shop.patch({"suspend": True})
        rec.wait(
            "Suspended (observed)",
            lambda o: (
                o["metadata"]["generation"] == 2
                and (o.get("status") or {}).get("observedGeneration") == 2
                and (o.get("status") or {}).get("phase") == "Suspended"
            ),
            timeout=120,
        )
        time.sleep(2.0)
        shop.patch({"suspend": False})
        final = rec.wait(
            "the resumed run to settle",
            lambda o: o["metadata"]["generation"] == 3 and settled(o),
            timeout=300,
        )
    log(f"suspend: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_transient(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "transient", with_secret=False)
    shop.secret(f"postgresql://shop:{TRANSIENT_PASSWORD}@127.0.0.1:1/shop_transient")
    with recording(env, shop.namespace) as rec:
        shop.create("003", phases=[], backup={"enabled": False}, rehearsal={"enabled": False},
                    job={"maxRetries": 1})  # fmt: skip
        # Attempt 1 fails (connection refused), a 30 s backoff, attempt 2 fails: out of retries.
        final = rec.wait("the retries to run out", settled, timeout=300)
    log(f"transient: {describe(final)}: {final['status'].get('message')}")
    return rec.versions


def scenario_approval(env: Env, state: dict[str, Any]) -> list[dict[str, Any]]:
    shop = make_shop(env, "approval")
    quick = {"phases": [], "rehearsal": {"enabled": False}}
    shop.create("008", **quick)
    with recording(env, shop.namespace) as rec:
        rec.wait("the shop to settle at 008", settled, timeout=360)
    shop.migrations({"009_orders_status_index.sql": DANGEROUS})
    with recording(env, shop.namespace) as rec:
        rec.wait("the current state", lambda _: True, timeout=30)
        before = rec.versions[-1]["metadata"]["resourceVersion"]
        shop.patch({"targetVersion": "009"})
        waiting = rec.wait(
            "the plan to await approval",
            lambda o: (
                o["metadata"]["generation"] == 2
                and (o.get("status") or {}).get("phase") == "AwaitingApproval"
            ),
            timeout=180,
        )
        plan_hash = waiting["status"]["plan"]["hash"]
        shop.kubectl("annotate", "dbm", NAME, "dbmigrator.io/approve-plan=sha256:" + "0" * 64)
        rec.wait(
            "the other-plan message",
            lambda o: "approves another plan" in ((o.get("status") or {}).get("message") or ""),
            timeout=60,
        )
        shop.kubectl("annotate", "dbm", NAME, "--overwrite",
                     f"dbmigrator.io/approve-plan={plan_hash}")  # fmt: skip
        final = rec.wait(
            "the approved run to settle",
            lambda o: o["metadata"]["generation"] == 2 and settled(o),
            timeout=300,
        )
    log(f"approval: {describe(final)}: {final['status'].get('message')}")
    return versions_after(rec.versions, before)


RUNNERS: dict[str, Callable[[Env, dict[str, Any]], list[dict[str, Any]]]] = {
    "shop": scenario_shop,
    "rollback": scenario_rollback,
    "broken": scenario_broken,
    "secret": scenario_secret,
    "target": scenario_target,
    "suspend": scenario_suspend,
    "transient": scenario_transient,
    "approval": scenario_approval,
}


# --------------------------------------------------------------------------- main


def distinct(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for obj in versions:
        key = shape(obj)
        if key not in seen:
            seen.add(key)
            out.append(obj)
    return out


def write_scenario(scenario: str, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for old in TESTDATA.glob(f"e2e_{scenario}_*.yaml"):
        old.unlink()
    captured = []
    for n, obj in enumerate(distinct(versions), start=1):
        status = obj.get("status")
        phase = "NoStatus" if not status else status.get("phase") or "NoPhase"
        path = TESTDATA / f"e2e_{scenario}_{n}_{phase}.yaml"
        path.write_text(
            f"# Captured by tools/capture_health_testdata.py (scenario {scenario}); "
            "managedFields removed.\n" + to_yaml(clean(obj))
        )
        health, message = run_health(clean(obj))
        captured.append({
            "file": path.name, "shape": describe(obj), "expected": expected_health(obj),
            "lua": health, "luaMessage": message, "generation": obj["metadata"]["generation"],
            "spec.suspend": obj["spec"].get("suspend"), "status": status,
        })  # fmt: skip
    return captured


def leaks(text: str, passwords: list[str]) -> list[str]:
    """Database URIs with a password, and known passwords, in `text` (reported masked)."""
    found = [m.group(0).rsplit(":", 1)[0] + ":***@" for m in URI_WITH_PASSWORD.finditer(text)]
    found += [f"password {p[:2]}***" for p in passwords if p and p in text]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="scenarios to capture")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's state dir")
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if not args.only or s in args.only]

    work = Path(tempfile.mkdtemp(prefix="dbmigrator-health-capture-"))
    log(f"work dir {work}")
    state_dir = work / "cluster"
    operator: subprocess.Popen[bytes] | None = None
    pg: LocalPostgres | None = None
    report: dict[str, Any] = {"scenarios": {}, "leaks": [], "problems": []}
    failed: BaseException | None = None
    try:
        log("starting the local cluster")
        cluster = start_cluster(state_dir)
        pg = LocalPostgres(host=HOST_IP, clients=POSTGRES_CLIENTS).start()
        env = Env(cluster, pg, work)
        env.kubectl("apply", "-f", str(CRD))
        env.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    "crd/databasemigrations.dbmigrator.io")  # fmt: skip
        op_env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        op_env.pop("DATABASE_URL", None)
        with (work / "operator.log").open("wb") as out:
            operator = subprocess.Popen(
                [str(CLI), "operator", "--all-namespaces", "--standalone", "--metrics-port", "0",
                 "--liveness-port", "0"],
                stdout=out, stderr=subprocess.STDOUT, env=op_env, start_new_session=True,
            )  # fmt: skip
        log(f"operator pid {operator.pid}, log {work / 'operator.log'}")

        shared: dict[str, Any] = {}
        passwords = [pg.password, TRANSIENT_PASSWORD]
        for scenario in scenarios:
            log(f"scenario {scenario}")
            started = time.monotonic()
            versions = RUNNERS[scenario](env, shared)
            captured = write_scenario(scenario, versions)
            namespace = shared["shop"].namespace if scenario == "rollback" and "shop" in shared else f"e2e-{scenario}"  # fmt: skip
            events = Shop(env, namespace, "").events()
            report["scenarios"][scenario] = {
                "versionsRecorded": len(versions), "captured": captured, "events": events,
            }  # fmt: skip
            for item in captured:
                marker = "" if item["expected"] == item["lua"] else f"  (health.lua: {item['lua']})"
                log(f"  {item['file']}: {item['expected']}{marker} | {item['shape']}")
            texts = [json.dumps(v.get("status") or {}) for v in versions]
            texts += [json.dumps(events)]
            for text in texts:
                report["leaks"] += [f"{scenario}: {leak}" for leak in leaks(text, passwords)]
            log(f"scenario {scenario}: {len(versions)} versions, {len(captured)} shapes, "
                f"{time.monotonic() - started:.0f}s")  # fmt: skip
        op_log = (work / "operator.log").read_text(errors="replace")
        report["operatorLogLeaks"] = leaks(op_log, passwords)
    except Exception as exc:  # still regenerate the cases from the files written so far
        failed = exc
        report["error"] = repr(exc)
    finally:
        if operator is not None and operator.poll() is None:
            os.killpg(operator.pid, signal.SIGTERM)
            try:
                operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(operator.pid, signal.SIGKILL)
                operator.wait(timeout=10)
        if pg is not None:
            pg.stop()
        stop_cluster(state_dir)
        if not args.keep:
            shutil.rmtree(state_dir, ignore_errors=True)

    report["problems"] = regenerate_cases()
    dump = work / "captured.json"
    dump.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    log(f"statuses and events: {dump}")
    for problem in report["problems"]:
        log(f"PROBLEM {problem}")
    for leak in report["leaks"]:
        log(f"LEAK in a status or Event: {leak}")
    for leak in report.get("operatorLogLeaks", []):
        log(f"note: the operator log shows a URI with a password: {leak}")
    if failed is not None:
        log(f"FAILED (the cases were regenerated from the files written so far): {failed!r}")
        return 2
    return 1 if report["problems"] or report["leaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
