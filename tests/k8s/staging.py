"""A staging cluster for the cluster drills: the agent-coordinator of deploy/k8s/, its monitoring, its database.

On the test control plane no container runs, so this module plays what a real
staging cluster's workload and monitoring would:

* :class:`StagingDatabase` — PostgreSQL (the local stack's, on a free port) with a
  password-authenticated role for the drills (``scram-sha-256``: the password is
  really checked);
* :class:`PodExporter` — one scrape target per pod of the Deployment (a
  ``file_sd`` file), served on one loopback port.  A pod answers its scrape only
  while it is Ready and not in the kubelet's CrashLoopBackOff (the fakelet
  restarts a killed container at once, so the back-off a real kubelet would wait
  is taken from the drill plan and the container's ``startedAt``).  Worker
  threads play the service's requests: each writes a row under the stand-in's
  statement timeout, on behalf of a serving pod, so a lock on the table shows as
  latency and then as 5xx; every count and duration goes into that pod's metrics;
* :class:`TokenProxy` — Prometheus behind a bearer token, as on a cluster;
* :class:`ClusterPrometheus` — a real Prometheus on a free port, scraping the
  exporter and evaluating the rules generated from the playbook at the drill
  config's time scale and evaluation interval.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from kubernetes import client, utils

from ce_drill.plan import DrillPlan
from ce_drill.rules import contract
from ce_drill.rules.generate import RULE_FILES, build
from ce_drill.stack import postgres
from ce_drill.stack.config import STATEMENT_TIMEOUT_S
from sim.playbook import Playbook

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "k8s"
DRILL_ROLE = "drill"
WORKERS = 4
WRITE_EVERY = 7
"""One request in seven writes to the hot table (the rest coordinate agents elsewhere): a lock on it
fails about 14 % of requests and puts the slowest 5 % at the statement timeout, so the manual's P2
latency and error-rate alerts fire and its P1 error-rate ones (above 20 %) do not."""
REQUEST_PAUSE_S = 0.5
"""Each worker's pause between requests: the rate of healthy requests, against which a lock's
slow ones must stand out for the latency and error-rate alerts to fire."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


# --- the database ----------------------------------------------------------------------------------


class StagingDatabase:
    """A PostgreSQL cluster with the ``workflows`` table and a password-protected drill role."""

    def __init__(self, home: Path, password: str) -> None:
        self.home, self.password = home, password
        self.port = free_port()
        self.cluster: postgres.Cluster | None = None

    @property
    def dsn(self) -> str:
        """The drills' DSN (password inside)."""
        return f"postgresql://{DRILL_ROLE}:{self.password}@127.0.0.1:{self.port}/{postgres.DB_NAME}"

    @property
    def service_dsn(self) -> str:
        """The service's own connection (trusted on loopback, as the stand-in's)."""
        return postgres.conninfo(self.port)

    def start(self) -> StagingDatabase:
        cluster = postgres.create(self.home, self.port, self.home / "postgres.log", "k8s")
        hba = cluster.data_dir / "pg_hba.conf"
        # First match wins: the drill role must give its password, everyone else stays trusted.
        hba.write_text(
            f"host all {DRILL_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        postgres.start(cluster)
        self.cluster = cluster
        with psycopg.connect(self.service_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {DRILL_ROLE} LOGIN PASSWORD '{self.password}'")
            conn.execute(f"GRANT ALL ON {postgres.TABLE} TO {DRILL_ROLE}")
            conn.execute(f"GRANT pg_read_all_stats TO {DRILL_ROLE}")
        return self

    def stop(self) -> None:
        if self.cluster is not None:
            postgres.stop(self.cluster, 10)
            postgres.remove_private(self.cluster)
            self.cluster = None


# --- the pods' metrics --------------------------------------------------------------------------------


@dataclass
class _PodMetrics:
    codes: dict[str, int] = field(default_factory=lambda: {"200": 0, "503": 0})
    buckets: list[int] = field(default_factory=list)
    total_s: float = 0.0


class PodExporter:
    """The agent-coordinator's pods as Prometheus would scrape them; see the module docstring."""

    def __init__(
        self,
        *,
        api: client.ApiClient,
        namespace: str,
        selector: str,
        service_dsn: str,
        plan: DrillPlan,
        sd_file: Path,
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace, self.selector, self.service_dsn = namespace, selector, service_dsn
        self.backoff_s = plan.pod_restart_backoff_wall_s
        self.bounds = contract.latency_buckets(Playbook.load(plan.playbook_path))
        self.sd_file = sd_file
        self.port = free_port()
        self._lock = threading.Lock()
        self._serving: dict[str, bool] = {}
        self._metrics: dict[str, _PodMetrics] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    # What a scrape of one pod answers.
    def metrics_text(self, pod: str) -> str | None:
        with self._lock:
            if not self._serving.get(pod):
                return None
            m = self._metrics.setdefault(pod, _PodMetrics(buckets=[0] * len(self.bounds)))
            lines = [f"# TYPE {contract.HTTP_REQUESTS.name} counter"]
            lines += [f'{contract.HTTP_REQUESTS.name}{{code="{c}"}} {n}' for c, n in sorted(m.codes.items())]
            name = contract.HTTP_REQUEST_DURATION.name
            lines.append(f"# TYPE {name} histogram")
            lines += [f'{name}_bucket{{le="{b:g}"}} {n}' for b, n in zip(self.bounds, m.buckets, strict=True)]
            count = sum(m.codes.values())
            lines += [
                f'{name}_bucket{{le="+Inf"}} {count}',
                f"{name}_sum {m.total_s}",
                f"{name}_count {count}",
            ]
            return "\n".join(lines) + "\n"

    def _record(self, pod: str, code: str, seconds: float) -> None:
        with self._lock:
            m = self._metrics.setdefault(pod, _PodMetrics(buckets=[0] * len(self.bounds)))
            m.codes[code] = m.codes.get(code, 0) + 1
            m.total_s += seconds
            for i, bound in enumerate(self.bounds):
                if seconds <= bound:
                    m.buckets[i] += 1

    def _in_backoff(self, pod: Any, now: dt.datetime) -> bool:
        for status in pod.status.container_statuses or []:
            running = status.state.running if status.state is not None else None
            if status.restart_count and running is not None and running.started_at is not None:
                delay = self.backoff_s[min(status.restart_count, len(self.backoff_s)) - 1]
                if now < running.started_at + dt.timedelta(seconds=delay):
                    return True
        return False

    def _watch(self) -> None:
        written: list[str] | None = None
        while not self._stop.is_set():
            try:
                pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
            except Exception:
                self._stop.wait(0.5)
                continue
            now = dt.datetime.now(dt.UTC)
            serving = {
                p.metadata.name: any(
                    c.type == "Ready" and c.status == "True" for c in p.status.conditions or []
                )
                and not self._in_backoff(p, now)
                for p in pods
                if p.metadata.deletion_timestamp is None
            }
            with self._lock:
                self._serving = serving
            names = sorted(serving)
            if names != written:
                self._write_targets(names)
                written = names
            self._stop.wait(0.25)

    def _write_targets(self, pods: list[str]) -> None:
        groups = [
            {
                "targets": [f"127.0.0.1:{self.port}"],
                "labels": {"__metrics_path__": f"/pods/{name}/metrics", "instance": name, "pod": name},
            }
            for name in pods
        ]
        tmp = self.sd_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups), encoding="utf-8")
        tmp.replace(self.sd_file)

    def _work(self, index: int) -> None:
        conn: psycopg.Connection[Any] | None = None
        turn = index
        while not self._stop.is_set():
            with self._lock:
                pods = sorted(p for p, ok in self._serving.items() if ok)
            if not pods:
                self._stop.wait(REQUEST_PAUSE_S)
                continue
            pod = pods[turn % len(pods)]
            turn += 1
            t0 = time.monotonic()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(
                        self.service_dsn,
                        autocommit=True,
                        connect_timeout=5,
                        options=f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)}",
                    )
                if turn % WRITE_EVERY == 0:
                    conn.execute(
                        f"INSERT INTO {postgres.TABLE} (agent, version) VALUES (%s, %s)",
                        (f"worker-{index}", pod),
                    )
                else:
                    conn.execute("SELECT 1")
                code = "200"
            except psycopg.Error:
                code = "503"
                if conn is not None and conn.broken:
                    conn = None
            self._record(pod, code, time.monotonic() - t0)
            self._stop.wait(REQUEST_PAUSE_S)
        if conn is not None:
            conn.close()

    def start(self) -> PodExporter:
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.split("/")
                text = exporter.metrics_text(parts[2]) if len(parts) == 4 and parts[1] == "pods" else None
                body = (text or "not serving\n").encode()
                self.send_response(200 if text is not None else 503)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._watch, daemon=True),
            *(threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(WORKERS)),
        ]
        for thread in threads:
            thread.start()
        self._threads += threads
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)


# --- Prometheus behind a token ---------------------------------------------------------------------


class TokenProxy:
    """Forwards GETs to ``upstream`` only with ``Authorization: Bearer <token>``; counts what it refused."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream, self.token = upstream.rstrip("/"), token
        self.port = free_port()
        self.refused = 0
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TokenProxy:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    proxy.refused += 1
                    self._reply(401, b'{"status":"error","error":"unauthorized"}')
                    return
                try:
                    with urllib.request.urlopen(proxy.upstream + self.path, timeout=30) as r:
                        self._reply(r.status, r.read())
                except urllib.error.HTTPError as exc:
                    self._reply(exc.code, exc.read())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- Prometheus -------------------------------------------------------------------------------------------


class ClusterPrometheus:
    """A real Prometheus with the playbook's rules at the plan's clock, scraping the exporter's pods."""

    def __init__(self, work: Path, plan: DrillPlan, sd_file: Path) -> None:
        self.work, self.plan, self.sd_file = work, plan, sd_file
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ClusterPrometheus:
        binary = shutil.which("prometheus")
        assert binary is not None, "prometheus is not installed (scripts/setup.sh installs it)"
        rules = build(
            Playbook.load(self.plan.playbook_path),
            scale=self.plan.time_scale,
            scrape_interval_s=self.plan.evaluation_interval_s,
        ).files()
        for name in RULE_FILES:
            (self.work / name).write_text(rules[name], encoding="utf-8")
        interval = f"{self.plan.scrape_ms}ms"
        config = {
            "global": {
                "scrape_interval": interval,
                "evaluation_interval": interval,
                "scrape_timeout": interval,
            },
            "rule_files": [str(self.work / name) for name in RULE_FILES],
            "scrape_configs": [
                {
                    "job_name": contract.JOB,
                    "file_sd_configs": [{"files": [str(self.sd_file)], "refresh_interval": interval}],
                }
            ],
        }
        (self.work / "prometheus.yml").write_text(json.dumps(config), encoding="utf-8")
        with (self.work / "prometheus.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("recorded p95 latency in Prometheus", self._recording, timeout=90)
        return self

    def _recording(self) -> bool:
        query = urllib.parse.urlencode({"query": contract.P95_RESPONSE_TIME.name})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=2) as r:
                return bool(json.loads(r.read())["data"]["result"])
        except (OSError, ValueError, KeyError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the agent-coordinator from deploy/k8s/ -----------------------------------------------------------------


def manifests(name: str) -> list[dict[str, Any]]:
    from ruamel.yaml import YAML

    return [d for d in YAML(typ="safe").load_all((MANIFESTS / name).read_text(encoding="utf-8")) if d]


def deploy_stand_in(api: client.ApiClient, namespace: str, drill_user: str) -> None:
    """Apply the Deployment, Service and the drills' Role of deploy/k8s/, and bind the Role to ``drill_user``."""
    for name in ("deployment.yaml", "service.yaml", "rbac.yaml"):
        for doc in manifests(name):
            utils.create_from_dict(api, doc, namespace=namespace)
    role = next(d for d in manifests("rbac.yaml") if d["kind"] == "Role")["metadata"]["name"]
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": f"{role}-{drill_user}"},
            "subjects": [{"kind": "User", "name": drill_user, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        },
    )


def resource_versions(api: client.ApiClient, namespace: str) -> dict[str, str]:
    """Every object a drill could change, by kind/name, with its resourceVersion."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    out = {
        f"deployment/{d.metadata.name}": d.metadata.resource_version
        for d in apps.list_namespaced_deployment(namespace).items
    }
    out |= {
        f"replicaset/{r.metadata.name}": r.metadata.resource_version
        for r in apps.list_namespaced_replica_set(namespace).items
    }
    out |= {
        f"pod/{p.metadata.name}": p.metadata.resource_version
        for p in core.list_namespaced_pod(namespace).items
    }
    out |= {
        f"configmap/{c.metadata.name}": c.metadata.resource_version
        for c in core.list_namespaced_config_map(namespace).items
    }
    return out


@contextlib.contextmanager
def running(*parts: Any) -> Iterator[None]:
    """Stop every part (in reverse) however the block ends."""
    try:
        yield
    finally:
        for part in reversed(parts):
            with contextlib.suppress(Exception):
                part.stop()
