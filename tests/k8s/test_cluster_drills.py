"""``ce-drill run SCENARIO --target k8s``: the three drills end to end against the real API server.

Each test gets a fresh namespace with the agent-coordinator of deploy/k8s/ (its
Role bound to the restricted user the drills run as), a real Prometheus with the
playbook's rules at the drill config's time scale, scraping the pods through the
exporter of :mod:`tests.k8s.staging`, behind a bearer token, and a PostgreSQL
whose drill role has a password.  The fakelet supplies OOM kills and restarts.
The drills run as ``ce-drill`` processes, as a user runs them; their exit codes,
artefacts and the cluster's objects are what is checked.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ce_drill.k8s.charter import TIMELINE_FILE
from ce_drill.plan import DrillPlan
from tests.k8s.cluster import ControlPlane
from tests.k8s.fakelet import ANN_NOT_READY, ANN_OOM
from tests.k8s.staging import (
    ClusterPrometheus,
    PodExporter,
    StagingDatabase,
    TokenProxy,
    deploy_stand_in,
    manifests,
    resource_versions,
    running,
    wait_for,
)

pytestmark = [pytest.mark.k8s, pytest.mark.slow]

CE_DRILL = str(Path(sys.executable).with_name("ce-drill"))
TIME_SCALE = 10.0
EVALUATION_S = 1.0
KILL_SWITCH = "ce-drill-kill-switch"
SELECTOR = "app.kubernetes.io/name=agent-coordinator"
DEPLOYMENT = "agent-coordinator"
DRILL_TIMEOUT_S = 420


def _stand_in_image() -> str:
    deployment = next(d for d in manifests("deployment.yaml") if d["kind"] == "Deployment")
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image.rsplit(":", 1)[0]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagingDatabase]:
    db = StagingDatabase(tmp_path_factory.mktemp("pg"), password="pw-" + secrets.token_hex(12))
    with running(db.start()):
        yield db


@dataclass
class Staging:
    cluster: ControlPlane
    namespace: str
    work: Path
    token: str
    db: StagingDatabase
    proxy: TokenProxy
    time_scale: float

    def api(self) -> client.ApiClient:
        return self.cluster.api_client()

    def config(self, path: Path | None = None, **changes: Any) -> Path:
        """The drill config of this staging cluster, with top-level ``changes``; written as YAML (JSON)."""
        image = _stand_in_image()
        data: dict[str, Any] = {
            "kube": {"kubeconfig": str(self.cluster.kubeconfig), "context": self.cluster.restricted_context},
            "allow": {"contexts": [self.cluster.restricted_context], "namespaces": [self.namespace]},
            "target": {
                "namespace": self.namespace,
                "deployment": DEPLOYMENT,
                "container": DEPLOYMENT,
                "selector": SELECTOR,
            },
            "releases": {
                "stable": {"version": "5.0", "image": f"{image}:5.0"},
                # A fake kubelet cannot leak: the leaking release's pods never become ready, as
                # containers OOM-killed before they serve.
                "leaking": {
                    "version": "5.1",
                    "image": f"{image}:5.1",
                    "env": {"CE_LEAK_BYTES_PER_S": "10485760"},
                    "annotations": {ANN_NOT_READY: "true"},
                },
            },
            "prometheus": {"url": self.proxy.url, "token": self.token},
            "database": {"dsn": self.db.dsn, "lock_table": "workflows"},
            "kill_switch": {"configmap": KILL_SWITCH},
            "oom": {"trigger": "annotation", "annotation": ANN_OOM},
            "time_scale": self.time_scale,
            "evaluation_interval": f"{EVALUATION_S:g}s",
        }
        data.update(changes)
        out = path or self.work / "ce-drill.k8s.yaml"
        out.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return out

    def run(self, *args: str, log: str = "cli") -> subprocess.CompletedProcess[str]:
        """``ce-drill run ARGS`` as a user runs it; stdout and stderr kept in the work dir (grepped later)."""
        done = subprocess.run(
            [CE_DRILL, "run", *args], capture_output=True, text=True, timeout=DRILL_TIMEOUT_S, check=False
        )
        (self.work / f"{log}.stdout").write_text(done.stdout, encoding="utf-8")
        (self.work / f"{log}.stderr").write_text(done.stderr, encoding="utf-8")
        return done

    def start(self, *args: str, log: str = "cli") -> subprocess.Popen[str]:
        with (
            (self.work / f"{log}.stdout").open("w", encoding="utf-8") as out,
            (self.work / f"{log}.stderr").open("w", encoding="utf-8") as err,
        ):
            # The child holds its own copies of both files.
            return subprocess.Popen([CE_DRILL, "run", *args], stdout=out, stderr=err, text=True)

    def versions(self) -> dict[str, str]:
        with self.api() as api:
            pods = client.CoreV1Api(api).list_namespaced_pod(self.namespace, label_selector=SELECTOR).items
        return {p.metadata.name: p.spec.containers[0].image.rsplit(":", 1)[1] for p in pods}

    def template_image(self) -> str:
        with self.api() as api:
            d = client.AppsV1Api(api).read_namespaced_deployment(DEPLOYMENT, self.namespace)
        image: str = d.spec.template.spec.containers[0].image
        return image

    def secrets(self) -> list[str]:
        return [self.token, self.db.password, self.cluster.restricted_token, self.cluster.admin_token]

    def assert_no_secret_written(self, *dirs: Path) -> None:
        """No token, password or kubeconfig credential in any artefact or log of the drill."""
        files = [f for d in (self.work, *dirs) for f in d.rglob("*") if f.is_file() and f.suffix != ".yaml"]
        assert files
        for f in files:
            raw = f.read_bytes()
            for secret in self.secrets():
                assert secret.encode() not in raw, f"a secret is written in {f}"


@pytest.fixture
def staging(
    k8s_cluster: ControlPlane, k8s_namespace: str, database: StagingDatabase, tmp_path: Path
) -> Iterator[Staging]:
    with _staging(k8s_cluster, k8s_namespace, database, tmp_path, TIME_SCALE) as s:
        yield s


@contextlib.contextmanager
def _staging(
    cluster: ControlPlane, namespace: str, db: StagingDatabase, work: Path, scale: float
) -> Iterator[Staging]:
    with cluster.api_client() as api:
        deploy_stand_in(api, namespace, cluster.restricted_user)
        apps = client.AppsV1Api(api)
        wait_for(
            "the stand-in Deployment available",
            lambda: (
                (apps.read_namespaced_deployment(DEPLOYMENT, namespace).status.available_replicas or 0)
                == apps.read_namespaced_deployment(DEPLOYMENT, namespace).spec.replicas
            ),
        )
        plan = DrillPlan.build(time_scale=scale, scrape_interval_s=EVALUATION_S)
        sd_file = work / "targets.json"
        exporter = PodExporter(
            api=api,
            namespace=namespace,
            selector=SELECTOR,
            service_dsn=db.service_dsn,
            plan=plan,
            sd_file=sd_file,
        ).start()
        wait_for("the pods' scrape targets", sd_file.exists)
        prometheus = ClusterPrometheus(work, plan, sd_file)
        token = "tok-" + secrets.token_hex(16)
        with running(exporter, prometheus):
            prometheus.start()
            proxy = TokenProxy(prometheus.url, token).start()
            with running(proxy):
                yield Staging(cluster, namespace, work, token, db, proxy, scale)


def _scorecard(out: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((out / "scorecard.json").read_text(encoding="utf-8"))
    return card


def _statuses(card: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in card["checks"]}


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def _timeline(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / TIMELINE_FILE).read_text(encoding="utf-8").splitlines()]


# --- the drills ------------------------------------------------------------------------------------------


def test_memory_leak_drill_rolls_back_automatically(staging: Staging, tmp_path: Path) -> None:
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = staging.run(
        "memory-leak",
        "--target",
        "k8s",
        "--config",
        str(staging.config()),
        "--out",
        str(out),
        "--quiet",
        "--json",
    )
    wall = time.monotonic() - t0
    card = _scorecard(out)
    assert done.returncode == 0, (card["failed"], done.stderr[-2000:])
    statuses = _statuses(card)
    assert statuses["auto-rollback"] == "passed"
    assert statuses["alert-SystemAvailabilityP2Major"] == "passed"
    assert statuses["stable-version-serving"] == "passed"
    assert "no-acknowledged-write-lost" not in statuses  # no load generator on a cluster
    kinds = [e["kind"] for e in _timeline(out)]
    for kind in ("phase_started", "trigger_held", "rollback_started", "rollback_finished", "notification"):
        assert kind in kinds
    assert any(e["kind"] == "rollback_started" and e.get("mode") == "auto" for e in _timeline(out))
    assert set(staging.versions().values()) == {"5.0"}
    assert staging.template_image().endswith(":5.0")
    assert staging.proxy.refused == 0  # every Prometheus question carried the token
    staging.assert_no_secret_written(out)
    print(f"memory-leak drill: {wall:.1f} s wall")


def test_memory_leak_drill_fails_with_rollback_broken(
    k8s_cluster: ControlPlane, k8s_namespace: str, database: StagingDatabase, tmp_path: Path
) -> None:
    # Faster clock: a broken rollback waits out twice the RTO before it gives up.
    with _staging(k8s_cluster, k8s_namespace, database, tmp_path, 30.0) as staging:
        out = tmp_path / "out"
        done = staging.run(
            "memory-leak", "--target", "k8s", "--config", str(staging.config()), "--break", "rollback",
            "--out", str(out), "--quiet",
        )  # fmt: skip
        card = _scorecard(out)
        assert done.returncode == 1, done.stderr[-2000:]
        assert _statuses(card)["auto-rollback"] == "failed"
        assert not any(e["kind"] == "rollback_started" for e in _timeline(out))
        # The experiment's rollback put the stable release back all the same.
        assert set(staging.versions().values()) == {"5.0"}
        staging.assert_no_secret_written(out)


def test_oom_drill_sees_the_kills_and_restarts(staging: Staging, tmp_path: Path) -> None:
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = staging.run(
        "oom", "--target", "k8s", "--config", str(staging.config()), "--out", str(out), "--quiet"
    )
    wall = time.monotonic() - t0
    card = _scorecard(out)
    assert done.returncode == 0, (card["failed"], done.stderr[-2000:])
    statuses = _statuses(card)
    assert statuses["oom-kill-observed"] == "passed"
    assert statuses["service-restarted"] == "passed"
    assert statuses["alert-SystemAvailabilityP1Critical"] == "passed"
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    outputs = {r["activity"]["name"]: r.get("output") for r in journal["run"]}
    kills = outputs["oom-kills-in-container-status"]
    assert kills
    assert kills[0]["reason"] == "OOMKilled"
    assert kills[0]["restart_count"] >= 6
    assert outputs["kubelet-restart-events"], "the kubelet's BackOff events of the pod"
    with staging.api() as api:
        pods = client.CoreV1Api(api).list_namespaced_pod(staging.namespace, label_selector=SELECTOR).items
    assert not any(ANN_OOM in (p.metadata.annotations or {}) for p in pods)
    staging.assert_no_secret_written(out)
    print(f"oom drill: {wall:.1f} s wall")


def test_lock_contention_drill_names_the_blocker(staging: Staging, tmp_path: Path) -> None:
    out = tmp_path / "out"
    t0 = time.monotonic()
    done = staging.run(
        "db-lock-contention",
        "--target",
        "k8s",
        "--config",
        str(staging.config()),
        "--out",
        str(out),
        "--quiet",
    )
    wall = time.monotonic() - t0
    card = _scorecard(out)
    assert done.returncode == 0, (card["failed"], done.stderr[-2000:])
    statuses = _statuses(card)
    for check in ("runbook-named-blocker", "lock-released", "alert-P95LatencyHigh", "alert-ErrorRateHigh"):
        assert statuses[check] == "passed", check
    staging.assert_no_secret_written(out)
    print(f"db-lock-contention drill: {wall:.1f} s wall")


# --- safety ---------------------------------------------------------------------------------------------


def test_a_context_outside_the_allowlist_is_refused(staging: Staging, tmp_path: Path) -> None:
    config = staging.config(
        kube={"kubeconfig": str(staging.cluster.kubeconfig), "context": staging.cluster.context}
    )
    with staging.api() as api:
        before = resource_versions(api, staging.namespace)
    done = staging.run(
        "memory-leak", "--target", "k8s", "--config", str(config), "--out", str(tmp_path / "out")
    )
    assert done.returncode == 2, done.stderr
    line = _line_of(config, f'"context": "{staging.cluster.context}"')
    assert (
        f"{config}:{line}: kube.context: kube context '{staging.cluster.context}' is not on the allowlist"
        in done.stderr
    )
    with staging.api() as api:
        assert resource_versions(api, staging.namespace) == before


def test_a_namespace_outside_the_allowlist_is_refused(staging: Staging, tmp_path: Path) -> None:
    allow = {"contexts": [staging.cluster.restricted_context], "namespaces": ["somewhere-else"]}
    config = staging.config(allow=allow)
    with staging.api() as api:
        before = resource_versions(api, staging.namespace)
    done = staging.run("oom", "--target", "k8s", "--config", str(config), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert f"target.namespace: namespace '{staging.namespace}' is not on the allowlist" in done.stderr
    with staging.api() as api:
        assert resource_versions(api, staging.namespace) == before


def test_a_context_switched_mid_drill_is_refused_before_any_change(staging: Staging, tmp_path: Path) -> None:
    """The drill follows the kubeconfig's current context; someone switches it after the start check."""
    kubeconfig = tmp_path / "kubeconfig"
    data = json.loads(staging.cluster.kubeconfig.read_text(encoding="utf-8"))
    data["current-context"] = staging.cluster.restricted_context
    kubeconfig.write_text(json.dumps(data), encoding="utf-8")
    config = staging.config(kube={"kubeconfig": str(kubeconfig)})
    out = tmp_path / "out"
    with staging.api() as api:
        before = resource_versions(api, staging.namespace)
    proc = staging.start("oom", "--target", "k8s", "--config", str(config), "--out", str(out), "--quiet")
    # The charter is written after the allowlist check and before anything is injected.
    wait_for("the drill's charter", lambda: (out / "charter.json").exists() or proc.poll() is not None)
    data["current-context"] = staging.cluster.context
    kubeconfig.write_text(json.dumps(data), encoding="utf-8")
    assert proc.wait(timeout=DRILL_TIMEOUT_S) == 2
    stderr = (tmp_path / "cli.stderr").read_text(encoding="utf-8")
    assert f"allow.contexts: kube context '{staging.cluster.context}' is not on the allowlist" in stderr
    events = _timeline(out)
    assert any(e["kind"] == "target_refused" for e in events)
    # The method stopped at the refusal; the rollbacks ran (and were checked in turn).
    started = [e["name"] for e in events if e["kind"] == "activity_started"]
    assert "oom-kills-in-container-status" not in started
    assert "clear-oom-trigger" in started
    with staging.api() as api:
        assert resource_versions(api, staging.namespace) == before


def test_dry_run_changes_nothing_and_lists_each_permission(staging: Staging, tmp_path: Path) -> None:
    config = staging.config()
    with staging.api() as api:
        before = resource_versions(api, staging.namespace)
    done = staging.run(
        "memory-leak", "--target", "k8s", "--config", str(config), "--dry-run", "--out", str(tmp_path / "out")
    )
    assert done.returncode == 0, done.stderr
    for line in (
        "allowed patch deployments.apps agent-coordinator",
        "allowed list replicasets.apps",
        "allowed list pods",
        f"allowed get configmaps {KILL_SWITCH}",
    ):
        assert line in done.stdout
    assert "roll-out-leaking-release: patch Deployment" in done.stdout
    with staging.api() as api:
        assert resource_versions(api, staging.namespace) == before
    staging.assert_no_secret_written(tmp_path / "out")


def test_dry_run_exits_1_when_a_permission_is_missing(staging: Staging) -> None:
    with staging.api() as api:
        client.RbacAuthorizationV1Api(api).delete_namespaced_role_binding(
            f"ce-drill-drills-{staging.cluster.restricted_user}", staging.namespace
        )
        wait_for(
            "RBAC to forget the binding",
            lambda: not _allowed(staging, "patch", "pods"),
        )
    done = staging.run("oom", "--target", "k8s", "--config", str(staging.config()), "--dry-run", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    denied = {(p["verb"], p["resource"]) for p in report["permissions"] if not p["allowed"]}
    assert ("patch", "pods") in denied
    assert ("list", "events") in denied
    assert report["changes_made"] is False


def _allowed(staging: Staging, verb: str, resource: str) -> bool:
    with staging.cluster.api_client(staging.cluster.restricted_context) as api:
        body = {
            "spec": {
                "resourceAttributes": {"namespace": staging.namespace, "verb": verb, "resource": resource}
            }
        }
        return bool(client.AuthorizationV1Api(api).create_self_subject_access_review(body).status.allowed)


def test_kill_switch_aborts_the_drill_and_its_rollbacks_play(staging: Staging, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = staging.config()
    # With the automatic rollback broken the leaking release stays out until the switch is pulled.
    proc = staging.start(
        "memory-leak",
        "--target",
        "k8s",
        "--config",
        str(config),
        "--break",
        "rollback",
        "--out",
        str(out),
        "--quiet",
    )
    timeline = out / TIMELINE_FILE
    wait_for(
        "the leaking release rolled out",
        lambda: timeline.exists() and '"fault_injected"' in timeline.read_text(encoding="utf-8"),
        timeout=120,
    )
    assert staging.template_image().endswith(":5.1")
    with staging.api() as api:
        client.CoreV1Api(api).create_namespaced_config_map(
            staging.namespace, {"metadata": {"name": KILL_SWITCH}}
        )
    switched = time.monotonic()
    try:
        assert proc.wait(timeout=180) == 130
        # Stopped at once, not after the method ran out: the experiment's own rollbacks played.
        assert time.monotonic() - switched < 60
    finally:
        with staging.api() as api:
            client.CoreV1Api(api).delete_namespaced_config_map(KILL_SWITCH, staging.namespace)
    events = _timeline(out)
    stopped = next(e for e in events if e["kind"] == "drill_stopped")
    assert KILL_SWITCH in stopped["reason"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("drill_stopped") < kinds.index("rollbacks_started") < kinds.index("drill_finished")
    rollback = kinds.index("rollbacks_started")
    assert any(e["kind"] == "fault_removed" and e.get("undo") for e in events[rollback:])
    assert not any(e["kind"] == "activity_started" and e["name"] == "wait-for-steady-state" for e in events)
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    assert journal["status"] == "interrupted"
    assert staging.template_image().endswith(":5.0")
    assert set(staging.versions().values()) == {"5.0"}
    assert _scorecard(out)["interrupted"] is True
    staging.assert_no_secret_written(out)


def test_a_drill_does_not_start_while_the_kill_switch_is_engaged(staging: Staging, tmp_path: Path) -> None:
    switch = tmp_path / "stop-drills"
    switch.touch()
    config = staging.config(kill_switch={"file": str(switch)})
    with staging.api() as api:
        before = resource_versions(api, staging.namespace)
    done = staging.run("oom", "--target", "k8s", "--config", str(config), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "kill_switch: engaged (kill switch file" in done.stderr
    with staging.api() as api:
        assert resource_versions(api, staging.namespace) == before


def test_the_http_oom_trigger_goes_through_the_pod_proxy(
    staging: Staging, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real stand-in is driven over its limit through ``pods/POD:PORT/proxy/PATH``: the API server
    authorises the drill's user (the Role's pods/proxy rule) and forwards; no container listens
    here, so the forward fails, and the drill says so instead of waiting for a kill."""
    from ce_drill.k8s import actions, runner
    from ce_drill.k8s.charter import CHARTER_FILE
    from ce_drill.k8s.redact import ENV_TOKEN

    oom = {"trigger": "http", "http": {"port": 8080, "path": "/-/fault", "body": {"leak_bytes_per_s": 1}}}
    config = staging.config(oom=oom)
    out = tmp_path / "out"
    prepared = runner.prepare("oom", config, (), out)
    runner._charter(prepared).save(out / CHARTER_FILE)
    monkeypatch.setenv(ENV_TOKEN, staging.token)
    result = actions.oom_crash_loop(
        kills=1, kill_timeout_s=5, configuration={"ce_drill_charter": str(out / CHARTER_FILE)}
    )
    (failed,) = [e for e in _timeline(out) if e["kind"] == "oom_trigger_failed"]
    # RBAC would refuse with "cannot create resource"; a wrong path would be 404.  This API
    # server's proxy refuses to dial a fake pod IP ("denied destination"): it got that far.
    assert "cannot create resource" not in str(failed.get("message")), failed
    assert failed.get("status") != 404, failed
    assert "trigger_failed" in result["kills"][0]
