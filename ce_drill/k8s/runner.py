"""Run a drill on a staging cluster: check the target, plan, run the experiment, judge, clean up.

In order: the drill config is read (located errors, exit 2); the kube context
and namespace are resolved and checked against the allowlist (refused: exit 2,
nothing touched); the drill plan is built from the playbook at the config's
time scale and evaluation interval and saved as ``plan.json``; the kill switch
must be off and the Deployment must exist.  ``--dry-run`` stops there, after
asking the API server about every permission the drill needs.

Otherwise the runner waits for a quiet cluster (steady state, none of the
manual's alerts pending or firing), then runs ``chaos run --rollback-strategy
always`` on ``experiments/k8s/SCENARIO.json`` in its own process, with the
charter file, the kube context and the secrets in its environment and the
plan's durations as ``--var``.  While it runs the runner polls the kill
switch; the switch, SIGINT or SIGTERM send SIGTERM to the experiment (its
rollbacks play), then whatever fault is left is removed.  A refusal by the
guard mid-drill (the context changed) ends the run with exit 2.

Then the evidence is gathered (:mod:`ce_drill.k8s.evidence`), judged by the
same judge as a local drill, faults are removed, and journal, plan, evidence,
scorecard, JUnit, timeline and reports are written to the output directory —
every file swept for secrets last.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from kubernetes import client
from kubernetes.client.rest import ApiException
from rich.console import Console
from rich.live import Live

import ce_drill
from ce_drill.drill.evidence import Journal
from ce_drill.drill.experiment_check import check_experiment
from ce_drill.drill.judge import Expectation, judge
from ce_drill.drill.scenarios import Drill
from ce_drill.drill.scorecard import Scorecard, junit_xml
from ce_drill.k8s import actions, killswitch, permissions
from ce_drill.k8s.charter import CHARTER_FILE, ENV_CHARTER, TIMELINE_FILE, Charter
from ce_drill.k8s.config import LoadedConfig, Secrets, load, resolve_secrets
from ce_drill.k8s.evidence import gather
from ce_drill.k8s.kube import KubeTarget, TargetRefused, establish, user_credentials
from ce_drill.k8s.probes import service_steady
from ce_drill.k8s.redact import ENV_DSN, ENV_TOKEN, Redactor
from ce_drill.k8s.rollout import Workload, pod_versions
from ce_drill.plan import PLAN_FILE, DrillPlan
from ce_drill.prom import Prometheus, PrometheusError
from ce_drill.rules import contract
from ce_drill.stack.timeline import Event, drill_phase, read, record
from sim.errors import InputError
from sim.playbook import bundled_path
from sim.units import format_duration

EXPERIMENTS = Path(ce_drill.__file__).resolve().parent.parent / "experiments" / "k8s"
BREAKS: dict[str, tuple[str, ...]] = {
    "rollback": ("memory-leak",),
    "lock-release": ("db-lock-contention",),
}
"""Safety paths a cluster drill can switch off.  ``detection`` and ``restart`` would change the
cluster's Prometheus rules or kubelet, which a drill does not own."""
STOP_GRACE_S = 120.0
SETTLE_WINDOWS = 8
"""A quiet cluster is waited for at most this many range windows."""
POLL_S = 0.5
NOT_FOUND = 404


class ClusterDrillStopped(Exception):  # noqa: N818 - a stop, not an error
    """The drill was stopped (kill switch or signal); its rollbacks played.  Carries the partial scorecard."""

    def __init__(self, card: Scorecard, reason: str) -> None:
        super().__init__(reason)
        self.card, self.reason = card, reason


# --- the drill and its config --------------------------------------------------------------------


def known() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS.glob("*.json"))


def load_drill(name: str) -> Drill:
    path = Path(name) if name.endswith(".json") else EXPERIMENTS / f"{name}.json"
    if not path.is_file():
        raise InputError(name, None, "", f"unknown scenario; known on a cluster: {', '.join(known())}")
    return Drill(path.stem, path, check_experiment(path))


def check_breaks(drill: Drill, breaks: tuple[str, ...]) -> None:
    for b in breaks:
        if drill.name not in BREAKS.get(b, ()):
            valid = ", ".join(k for k, v in BREAKS.items() if drill.name in v) or "none"
            raise InputError(
                "--break",
                None,
                "",
                f"{b!r} is not a safety path of {drill.name} on a cluster; choose from {valid}",
            )


@dataclass
class Prepared:
    """A drill whose target was resolved and checked, before anything was changed."""

    drill: Drill
    expect: Expectation
    loaded: LoadedConfig
    target: KubeTarget
    secrets: Secrets
    plan: DrillPlan
    redactor: Redactor
    out: Path
    breaks: tuple[str, ...]
    facts: list[str] = field(default_factory=list)
    """What the checks found, in words (the dry run prints them)."""
    unchecked: list[InputError] = field(default_factory=list)
    """What could not be checked for want of a permission: the dry run lists it, a run refuses."""

    @property
    def prometheus(self) -> Prometheus:
        prom = self.loaded.config.prometheus
        ca = None if prom.ca_file is None else str(self.loaded.resolve(prom.ca_file))
        return Prometheus(prom.url, self.secrets.prometheus_token, ca)


def _refused(loaded: LoadedConfig, refused: TargetRefused) -> InputError:
    return loaded.refuse(refused.loc, refused.message, refused.value)


def prepare(scenario: str, config_path: Path, breaks: tuple[str, ...], out: Path) -> Prepared:
    """Everything checked that can be checked without changing anything; InputError (exit 2) otherwise."""
    drill = load_drill(scenario)
    check_breaks(drill, breaks)
    expect = Expectation.from_extension(drill.expect)
    loaded = load(config_path)
    cfg = loaded.config
    secrets = resolve_secrets(loaded, need_dsn=expect.runbook_names_blocker)
    if expect.oom_restart and cfg.oom is None:
        raise loaded.refuse((), f"{drill.name} needs an oom section (trigger: annotation or http)")
    try:
        target = establish(loaded)
    except TargetRefused as refused:
        raise _refused(loaded, refused) from None
    redactor = Redactor([*secrets.values(), *user_credentials(target.kubeconfig, target.context)])
    playbook = loaded.resolve(cfg.playbook) if cfg.playbook is not None else bundled_path()
    plan = DrillPlan.build(playbook, time_scale=cfg.time_scale, scrape_interval_s=cfg.evaluation_interval)
    if cfg.releases.stable.version not in plan.stable_versions:
        raise loaded.refuse(
            ("releases", "stable", "version"),
            f"not the manual's stable version ({', '.join(plan.stable_versions)})",
            cfg.releases.stable.version,
        )
    out.mkdir(parents=True, exist_ok=True)
    plan.save(out / PLAN_FILE)
    prepared = Prepared(drill, expect, loaded, target, secrets, plan, redactor, out, breaks)
    prepared.facts.append(
        f"kube context {target.context} ({target.server}), namespace {target.namespace}: on the allowlist"
    )
    try:
        reason = killswitch.engaged(cfg.kill_switch, target)
    except ApiException as exc:
        # Forbidden is a missing permission: the dry run lists it; a run refuses below.
        prepared.unchecked.append(
            loaded.refuse(
                ("kill_switch", "configmap"), f"cannot read the kill switch: HTTP {exc.status} {exc.reason}"
            )
        )
    else:
        if reason is not None:
            raise loaded.refuse(("kill_switch",), f"engaged ({reason}); remove it to drill")
        prepared.facts.append("kill switch: not engaged")
    try:
        prepared.facts += _deployment_facts(prepared)
    except _Forbidden as exc:
        prepared.unchecked.append(exc.error)
    return prepared


class _Forbidden(Exception):  # noqa: N818 - carries a refusal
    def __init__(self, error: InputError) -> None:
        super().__init__(str(error))
        self.error = error


def _deployment_facts(p: Prepared) -> list[str]:
    cfg = p.loaded.config.target
    with p.target.api() as api:
        try:
            d = client.AppsV1Api(api).read_namespaced_deployment(cfg.deployment, cfg.namespace)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                raise p.loaded.refuse(
                    ("target", "deployment"), "no such Deployment", cfg.deployment
                ) from None
            what = f"cannot read it: HTTP {exc.status} {exc.reason}"
            raise _Forbidden(p.loaded.refuse(("target", "deployment"), what, cfg.deployment)) from None
        if not any(c.name == cfg.container for c in d.spec.template.spec.containers):
            raise p.loaded.refuse(
                ("target", "container"), "the Deployment has no such container", cfg.container
            )
        try:
            versions = pod_versions(api, Workload.of(cfg))
        except ApiException as exc:
            what = f"cannot list its pods: HTTP {exc.status} {exc.reason}"
            raise _Forbidden(p.loaded.refuse(("target", "selector"), what, cfg.selector)) from None
    running = ", ".join(sorted({v or "?" for v in versions.values()})) or "nothing"
    return [
        f"Deployment {cfg.namespace}/{cfg.deployment}: {d.spec.replicas} replicas, container {cfg.container}",
        f"pods matching {cfg.selector}: {len(versions)}, running {running}",
    ]


def _prometheus_facts(p: Prepared) -> list[str]:
    expr = f'{contract.UP.name}{{job="{contract.JOB}"}}'
    try:
        series = p.prometheus.query(expr)
    except PrometheusError as exc:
        raise p.loaded.refuse(
            ("prometheus", "url"), f"cannot be asked: {p.redactor.text(str(exc))}"
        ) from None
    up = sum(1 for _, v in series if v == 1)
    return [
        f"Prometheus {p.loaded.config.prometheus.url}: {len(series)} targets of job {contract.JOB}, {up} up"
    ]


def _database_facts(p: Prepared) -> list[str]:
    db = p.loaded.config.database
    if p.secrets.dsn is None or db is None:
        return []
    try:
        with psycopg.connect(p.secrets.dsn, connect_timeout=5, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (db.lock_table,)).fetchone()
    except psycopg.Error as exc:
        loc = ("database", "dsn_env" if db.dsn_env else "dsn")
        raise p.loaded.refuse(loc, f"cannot connect: {p.redactor.text(str(exc)).strip()}") from None
    if not (found and found[0]):
        raise p.loaded.refuse(("database", "lock_table"), "no such table in the database", db.lock_table)
    return [f"database: reachable, table {db.lock_table} exists"]


# --- dry run ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DryRun:
    scenario: str
    facts: list[str]
    steps: list[str]
    verdicts: list[permissions.Verdict]
    unchecked: list[str]

    @property
    def allowed(self) -> bool:
        return all(v.allowed for v in self.verdicts) and not self.unchecked

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "changes_made": False,
            "target": self.facts,
            "would_do": self.steps,
            "permissions": [v.to_json() for v in self.verdicts],
            "unchecked": self.unchecked,
            "allowed": self.allowed,
        }

    def lines(self) -> list[str]:
        out = [f"dry run of {self.scenario}: nothing is changed", "target:"]
        out += [f"  {f}" for f in self.facts]
        out += [f"  cannot check: {u}" for u in self.unchecked]
        out.append("would do:")
        out += [f"  - {s}" for s in self.steps]
        out.append("permissions (SelfSubjectAccessReview, as the context's user):")
        for v in self.verdicts:
            mark = "allowed" if v.allowed else "DENIED "
            out.append(f"  {mark} {v.permission.label} — {v.permission.why}")
        if not self.allowed:
            out.append("missing permissions: apply deploy/k8s/rbac.yaml (the drills' Role) for this user")
        return out


def dry_run(p: Prepared) -> DryRun:
    """What the drill would do and whether the API server would let it; nothing is changed."""
    facts = [*p.facts, *_prometheus_facts(p), *_database_facts(p)]
    needed = permissions.needed(p.expect, p.loaded.config)
    with p.target.api() as api:
        verdicts = permissions.review(api, p.target.namespace, needed)
    return DryRun(p.drill.name, facts, _steps(p), verdicts, [str(u) for u in p.unchecked])


def _steps(p: Prepared) -> list[str]:
    cfg = p.loaded.config
    ns, dep = cfg.target.namespace, cfg.target.deployment
    leaking, stable = cfg.releases.leaking, cfg.releases.stable
    variables = p.plan.experiment_vars(p.expect.alerts, p.expect.severity)
    phases = ", ".join(f"{ph.phase} {ph.hold_wall_s:g} s" for ph in p.plan.phases)
    oom = cfg.oom
    if oom is not None and oom.trigger == "http" and oom.http is not None:
        oom_how = f"POST {oom.http.path} on port {oom.http.port} of one Ready pod through the API server's pod proxy"
    else:
        oom_how = f"set the annotation {oom.annotation if oom else '?'} on one Ready pod"
    what = {
        "roll_out_release": f"patch Deployment {ns}/{dep}: pod template to release {leaking.version}"
        + (f" (image {leaking.image})" if leaking.image else ""),
        "auto_rollback": f"watch the manual's auto-rollback triggers through {phases}; when one holds and "
        f"auto-rollback is on, undo the rollout (patch Deployment {ns}/{dep})",
        "restore_stable": f"if anything but {stable.version} runs: undo to {stable.version} (patch Deployment {ns}/{dep})",
        "oom_crash_loop": f"{oom_how}, once per OOM kill, and watch its container status",
        "clear_oom_trigger": "remove the OOM trigger annotation from the pods",
        "hold_lock": f"hold ACCESS EXCLUSIVE on {cfg.database.lock_table if cfg.database else '?'} for at most "
        f"{variables['ce_drill_lock_cap_s']:g} s",
        "release_locks": "terminate the drill's lock backend (pg_terminate_backend)",
    }
    out = []
    for part in ("method", "rollbacks"):
        for activity in p.drill.experiment.get(part) or []:
            func = str((activity.get("provider") or {}).get("func", ""))
            text = what.get(func, "read only")
            out.append(f"{'rollback ' if part == 'rollbacks' else ''}{activity.get('name')}: {text}")
    return out


# --- the run ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _secret_env(secrets: Secrets) -> Iterator[None]:
    """The secrets in this process's environment while the drill runs (the activities read them there)."""
    values = {ENV_TOKEN: secrets.prometheus_token, ENV_DSN: secrets.dsn}
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _charter(p: Prepared) -> Charter:
    cfg = p.loaded.config
    prom_ca = None if cfg.prometheus.ca_file is None else str(p.loaded.resolve(cfg.prometheus.ca_file))
    switch = cfg.kill_switch
    if switch.file is not None:
        switch = switch.model_copy(update={"file": str(p.loaded.resolve(switch.file).resolve())})
    return Charter(
        scenario=p.drill.name,
        config_path=str(p.loaded.path.resolve()),
        kube=p.target.to_json(),
        deployment=cfg.target.deployment,
        container=cfg.target.container,
        selector=cfg.target.selector,
        version_label=cfg.target.version_label,
        releases=cfg.releases,
        prometheus_url=cfg.prometheus.url,
        prometheus_ca_file=prom_ca,
        kill_switch=switch,
        oom=cfg.oom,
        lock_table=None if cfg.database is None else cfg.database.lock_table,
        plan_path=str((p.out / PLAN_FILE).resolve()),
        timeline_path=str((p.out / TIMELINE_FILE).resolve()),
        breaks=p.breaks,
    )


def run(p: Prepared, *, progress: bool = True) -> Scorecard:
    """Run the prepared drill to its scorecard; ClusterDrillStopped when the kill switch or a signal stops it."""
    if p.unchecked:
        raise p.unchecked[0]
    p.facts += _prometheus_facts(p) + _database_facts(p)
    out = p.out
    (out / TIMELINE_FILE).unlink(missing_ok=True)
    charter = _charter(p)
    charter_path = (out / CHARTER_FILE).resolve()
    charter.save(charter_path)
    console = Console(stderr=True, quiet=not progress)
    with _secret_env(p.secrets):
        _settle(p, charter, console)
        started = time.time()
        journal_path = out / "journal.json"
        journal_path.unlink(missing_ok=True)
        variables = p.plan.experiment_vars(p.expect.alerts, p.expect.severity)
        command = [
            str(Path(sys.executable).with_name("chaos")), "--no-version-check", "--log-file", str(out / "chaos.log"),
            "run", "--rollback-strategy", "always", "--journal-path", str(journal_path),
            *(arg for key, value in variables.items() for arg in ("--var", f"{key}:float={value}")),
            str(p.drill.path),
        ]  # fmt: skip
        env = _chaos_env(p, charter_path)
        rto_manual_s = p.plan.severity(p.expect.severity).rto_manual_s
        line = lambda stopping: _status_line(charter, p, started, rto_manual_s, stopping)  # noqa: E731
        # Recorded before the experiment is signalled: its control then lets no further activity run.
        on_stop = lambda reason: charter.log("drill_stopped", reason=reason)  # noqa: E731
        # The experiment handles SIGINT and SIGTERM itself (its rollbacks play).  Around it, and after
        # it while the drill waits for late alerts or is judged, a signal still removes what a break
        # left in place: no window in which it ends the drill without that.
        try:
            stopped = _run_chaos(
                command,
                env,
                console=console,
                line=line,
                switch=lambda: _switch_engaged(p, charter),
                on_stop=on_stop,
            )
            return _conclude(p, charter, started, stopped, console)
        except KeyboardInterrupt:
            raise _stopped(p, charter, started, "interrupted by a signal") from None


def _conclude(
    p: Prepared, charter: Charter, started: float, stopped: str | None, console: Console
) -> Scorecard:
    """After the experiment: the late alerts' windows, the evidence, the verdict, the artefacts."""
    out = p.out
    journal_path = out / "journal.json"
    timeline = read(Path(charter.timeline_path))
    refused = timeline.first("target_refused")
    if stopped is None and refused is None:
        _await_late_alerts(p, timeline.since(started).first("fault_injected"), console)
    ended = time.time()
    if refused is not None:
        p.redactor.sweep(out)
        loc = tuple(refused.get("loc") or ())
        raise p.loaded.refuse(loc, str(refused.get("message")), refused.get("value"))
    if stopped is not None:
        raise _stopped(p, charter, started, stopped, ended)
    evidence = gather(
        charter, p.plan, Journal.load(journal_path), p.prometheus, dsn=p.secrets.dsn,
        started_ts=started, ended_ts=ended, alerts=p.expect.alerts,
    )  # fmt: skip
    (out / "evidence.json").write_text(
        json.dumps(p.redactor.data(evidence.to_json()), ensure_ascii=False), encoding="utf-8"
    )
    # The alerts as Prometheus fired them join the drill's timeline (report and timeline.json).
    for event in evidence.events:
        if event.kind == "notification":
            record(Path(charter.timeline_path), event.source, event.kind, ts=event.ts, **event.data)
    card = judge(p.plan, evidence, p.expect, scenario=p.drill.name, broken=p.breaks)
    # Whatever a break left in place goes now, after it was judged.
    _remove_faults(charter, p)
    _write(out, card, charter, started, p.redactor)
    return card


def _stopped(
    p: Prepared, charter: Charter, started: float, reason: str, ended: float | None = None
) -> ClusterDrillStopped:
    """Remove the faults and leave an interrupted scorecard: what a stopped drill reports."""
    _remove_faults(charter, p)
    wall_s = (time.time() if ended is None else ended) - started
    card = Scorecard(p.drill.name, p.plan.timing, broken=p.breaks, wall_s=wall_s,
                     interrupted=True, playbook=p.plan.playbook_path)  # fmt: skip
    _write(p.out, card, charter, started, p.redactor)
    return ClusterDrillStopped(card, reason)


def _await_late_alerts(p: Prepared, fault: Event | None, console: Console) -> None:
    """Keep the evidence window open until every expected alert had its chance to fire.

    An alert's condition trails the fault by up to a range window and its ``for``: a
    service that recovered fast may still be alerted on after the experiment ended.
    """
    if fault is None:
        return
    until = fault.ts + p.plan.fault_hold_wall_s(p.expect.alerts)
    with console.status("waiting for the alerts' windows to close…"):
        while time.time() < until:
            time.sleep(min(POLL_S, max(0.0, until - time.time())))


def _chaos_env(p: Prepared, charter_path: Path) -> dict[str, str]:
    t, cfg = p.target, p.loaded.config.target
    env = {k: v for k, v in os.environ.items() if k not in (ENV_TOKEN, ENV_DSN)}
    env.update(
        {
            ENV_CHARTER: str(charter_path),
            # chaosk8s reads these: the context checked at the start, TLS verified.
            "KUBECONFIG": str(t.kubeconfig),
            "KUBERNETES_CONTEXT": t.context,
            "KUBERNETES_VERIFY_SSL": "true",
            "CE_DRILL_K8S_NAMESPACE": cfg.namespace,
            "CE_DRILL_K8S_DEPLOYMENT": cfg.deployment,
            "CE_DRILL_K8S_SELECTOR": cfg.selector,
        }
    )
    if p.secrets.prometheus_token:
        env[ENV_TOKEN] = p.secrets.prometheus_token
    if p.secrets.dsn:
        env[ENV_DSN] = p.secrets.dsn
    return env


def _switch_engaged(p: Prepared, charter: Charter) -> str | None:
    try:
        return killswitch.engaged(charter.kill_switch, p.target)
    except (ApiException, OSError):
        return None  # cannot tell now; asked again on the next poll


def _run_chaos(
    command: list[str],
    env: dict[str, str],
    *,
    console: Console,
    line: Callable[[bool], str],
    switch: Callable[[], str | None],
    on_stop: Callable[[str], object],
) -> str | None:
    """Run ``chaos run`` to its end; the kill switch or SIGINT/SIGTERM stop it (its rollbacks play).

    Returns why it was stopped, or None when it ran to its end.
    """
    stop: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(f"stopped by {signal.Signals(signum).name}")

    with ExitStack() as restore:
        for sig in (signal.SIGINT, signal.SIGTERM):
            restore.callback(signal.signal, sig, signal.signal(sig, on_signal))
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            stopping_since: float | None = None
            while proc.poll() is None:
                if not stop:
                    reason = switch()
                    if reason is not None:
                        stop.append(reason)
                if stop and stopping_since is None:
                    stopping_since = time.time()
                    on_stop(stop[0])
                    proc.send_signal(signal.SIGTERM)  # chaoslib stops and plays the rollbacks
                if stopping_since is not None and time.time() - stopping_since > STOP_GRACE_S:
                    proc.kill()
                live.update(line(bool(stop)))
                time.sleep(POLL_S)
    return stop[0] if stop else None


def _settle(p: Prepared, charter: Charter, console: Console) -> None:
    """Wait for a quiet cluster: steady state met and none of the manual's alerts pending or firing.

    A previous drill's alerts take a range window to resolve; judging a drill on a
    cluster still echoing the last one would credit or blame it for someone else's fault.
    """
    names = {a.name for a in p.plan.alerts}
    deadline = time.time() + SETTLE_WINDOWS * p.plan.range_window_wall_s
    with console.status("waiting for a quiet cluster before injecting anything…"):
        while time.time() < deadline:
            try:
                loud = [a for a in p.prometheus.alerts() if a.get("labels", {}).get("alertname") in names]
                if not loud and service_steady(charter):
                    return
            except (PrometheusError, ApiException):
                pass
            time.sleep(1.0)


def _remove_faults(charter: Charter, p: Prepared) -> None:
    """Unconditional cleanup, through the guard: stable release, no lock backend, no OOM trigger."""
    config = {"ce_drill_charter": str(Path(charter.timeline_path).parent / CHARTER_FILE)}
    steps: list[Callable[[], object]] = [
        lambda: actions.restore_stable(configuration=config),
        lambda: actions.clear_oom_trigger(configuration=config),
    ]
    if p.secrets.dsn is not None:
        steps.append(lambda: actions.terminate_lock_holders(charter))
    for step in steps:
        with contextlib.suppress(Exception):
            step()


def _status_line(charter: Charter, p: Prepared, started: float, rto_s: float, stopping: bool) -> str:
    phase = drill_phase(read(Path(charter.timeline_path)).since(started))
    wall = time.time() - started
    manual = format_duration(round(p.plan.manual_s(wall)))
    prefix = "[yellow]stopping, playing rollbacks…[/] " if stopping else ""
    return (
        f"{prefix}[bold]{p.drill.name}[/] on {p.target.context}/{p.target.namespace} {phase} — "
        f"{wall:5.1f} s wall = {manual} manual (RTO {format_duration(round(rto_s))})"
    )


def _write(out: Path, card: Scorecard, charter: Charter, started: float, redactor: Redactor) -> None:
    (out / "scorecard.json").write_text(
        json.dumps(redactor.data(card.to_json()), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "junit.xml").write_text(redactor.text(junit_xml([card])), encoding="utf-8")
    events = [
        {"t_s": e.ts - started, "at": e.at, "source": e.source, "kind": e.kind, "data": redactor.data(e.data)}
        for e in read(Path(charter.timeline_path)).since(started).events
    ]
    (out / "timeline.json").write_text(json.dumps(events, ensure_ascii=False, indent=2), encoding="utf-8")
    from ce_drill.report.drill import write_drill_report

    write_drill_report(out, card, events)
    # Last: anything a third-party log line or an exception message carried.
    redactor.sweep(out)
