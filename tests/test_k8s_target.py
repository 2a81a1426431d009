"""The cluster target's parts that need no cluster: config errors, the guard's decisions, redaction,
the judge without a write audit, rollout arithmetic, synthesised notifications, the staging manifests."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from ce_drill.cli import cli
from ce_drill.drill.evidence import Evidence, Journal, WriteAudit
from ce_drill.drill.judge import Expectation, judge
from ce_drill.drill.scorecard import CheckKind
from ce_drill.k8s import permissions
from ce_drill.k8s.config import DrillConfig, dsn_secrets, image_tag, load
from ce_drill.k8s.evidence import notifications
from ce_drill.k8s.kube import KubeTarget, Resolved, TargetRefused
from ce_drill.k8s.redact import MASK, Redactor
from ce_drill.k8s.rollout import Workload, rollout_done
from ce_drill.k8s.runner import load_drill
from ce_drill.plan import DrillPlan
from ce_drill.rules.generate import PROMETHEUS_RULE_FILE, build
from sim.errors import InputError
from sim.playbook import Playbook

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "k8s"
EXAMPLE = DEPLOY / "ce-drill.k8s.yaml"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all((DEPLOY / name).read_text(encoding="utf-8")) if d]


# --- the drill config --------------------------------------------------------------------------------


def test_the_example_config_is_valid() -> None:
    config = load(EXAMPLE).config
    assert config.time_scale == 1
    assert config.kill_switch.configmap == "ce-drill-kill-switch"


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("  contexts: [staging]\n", "", "allow:", "allow.contexts: missing required key"),
        ("  namespace: agent-coordinator-staging\n", "  namespace: Staging_NS\n", "namespace: Staging_NS",
         "target.namespace: string should match pattern"),
        ("  token_env: CE_DRILL_PROMETHEUS_TOKEN_STAGING\n",
         "  token_env: CE_DRILL_PROMETHEUS_TOKEN_STAGING\n  token: abcdef\n", "token_env: CE_DRILL",
         "prometheus.token_env: give only one of token, token_file, token_env"),
        ("  configmap: ce-drill-kill-switch\n", "  configmap: null\n", "kill_switch:",
         "kill_switch: needs one of file, configmap"),
        ('    version: "5.1"\n', '    version: "5.0"\n', "image: registry.example.com/claude-enhancer/agent-coordinator:5.1",
         "releases.leaking.image: its tag must be the version '5.0'"),
        ("time_scale: 1\n", "time_scale: 0.5\n", "time_scale: 0.5", "time_scale: input should be greater than or equal to 1"),
        ("  trigger: http\n", "  trigger: http\n  sigkill: true\n", "sigkill: true", "oom.sigkill: unknown key"),
    ],
)  # fmt: skip
def test_a_bad_config_is_one_located_line_and_exit_2(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "ce-drill.k8s.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if where in row)
    result = CliRunner().invoke(cli, ["run", "memory-leak", "--target", "k8s", "--config", str(path)])
    assert result.exit_code == 2
    assert f"ce-drill: {path}:{line}: {message}" in result.output


def test_a_cluster_target_needs_a_config_and_no_time_scale_option() -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["run", "oom", "--target", "k8s"])
    assert missing.exit_code == 2
    assert "--target k8s needs the drill config" in missing.output
    scaled = runner.invoke(
        cli, ["run", "oom", "--target", "k8s", "--config", str(EXAMPLE), "--time-scale", "10"]
    )
    assert scaled.exit_code == 2
    assert "the drill config's time_scale" in scaled.output
    broken = runner.invoke(
        cli, ["run", "oom", "--target", "k8s", "--config", str(EXAMPLE), "--break", "restart"]
    )
    assert broken.exit_code == 2
    assert "not a safety path of oom on a cluster" in broken.output


def test_dsn_secrets_finds_the_password_in_both_forms() -> None:
    assert "s3cr%40t" in dsn_secrets("postgresql://drill:s3cr%40t@db:5432/app")
    assert "s3cr@t" in dsn_secrets("postgresql://drill:s3cr%40t@db:5432/app")
    assert "it's" in dsn_secrets("host=db user=drill password='it\\'s' dbname=app")
    assert dsn_secrets("host=db user=drill dbname=app") == []


def test_image_tag() -> None:
    assert image_tag("registry:5000/team/app:5.1") == "5.1"
    assert image_tag("registry:5000/team/app") is None
    assert image_tag("app@sha256:abc") is None


# --- the guard -------------------------------------------------------------------------------------------


TARGET = KubeTarget(
    Path("kubeconfig"), "staging", "https://api.staging:6443", False, "ns-a", ("staging",), ("ns-a",)
)


@pytest.mark.parametrize(
    ("now", "target", "loc", "says"),
    [
        (
            Resolved("prod", "https://api.prod:6443", "u"),
            TARGET,
            ("allow", "contexts"),
            "not on the allowlist",
        ),
        (
            Resolved("staging", "https://api.prod:6443", "u"),
            TARGET,
            ("allow", "contexts"),
            "another API server",
        ),
        (
            Resolved("staging-2", "https://api.staging:6443", "u"),
            KubeTarget(
                TARGET.kubeconfig,
                "staging",
                TARGET.server,
                False,
                "ns-a",
                ("staging", "staging-2"),
                ("ns-a",),
            ),
            ("allow", "contexts"),
            "the kube context changed during the drill",
        ),
        (
            Resolved("staging", "https://api.staging:6443", "u"),
            KubeTarget(TARGET.kubeconfig, "staging", TARGET.server, True, "ns-b", ("staging",), ("ns-a",)),
            ("target", "namespace"),
            "namespace 'ns-b' is not on the allowlist",
        ),
    ],
)
def test_the_guard_refuses_anything_but_the_context_it_checked(
    now: Resolved, target: KubeTarget, loc: tuple[str, ...], says: str
) -> None:
    with pytest.raises(TargetRefused) as refused:
        target.check(now)
    assert refused.value.loc == loc
    assert says in refused.value.message
    TARGET.check(Resolved("staging", "https://api.staging:6443", "u"))  # the one it checked passes


# --- secrets --------------------------------------------------------------------------------------------


def test_the_redactor_masks_secrets_everywhere(tmp_path: Path) -> None:
    password = 'pa"ss\\word'
    redactor = Redactor(["tok-123456", f"postgresql://u:{password}@h/db", password, "ab"])
    assert redactor.text("Bearer tok-123456") == f"Bearer {MASK}"
    assert redactor.data({"dsn": f"postgresql://u:{password}@h/db", "tok-123456": [1, "x tok-123456"]}) == {
        "dsn": MASK,
        MASK: [1, f"x {MASK}"],
    }
    # As JSON writes it (escaped), and in any file of an output directory.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "journal.json").write_text(json.dumps({"p": password}), encoding="utf-8")
    (tmp_path / "plain.log").write_text("token tok-123456 and ab", encoding="utf-8")
    (tmp_path / "clean.txt").write_text("nothing here", encoding="utf-8")
    changed = redactor.sweep(tmp_path)
    assert sorted(p.name for p in changed) == ["journal.json", "plain.log"]
    for path in changed:
        text = path.read_text(encoding="utf-8")
        assert "tok-123456" not in text
        assert "ss\\\\word" not in text
    # Too short to mask without shredding every text.
    assert "ab" in (tmp_path / "plain.log").read_text(encoding="utf-8")


# --- the judge without a write audit -----------------------------------------------------------------


def _evidence(writes: WriteAudit) -> Evidence:
    journal = Journal(
        {"status": "completed", "steady_states": {"before": {"steady_state_met": True}}, "run": []}
    )
    return Evidence(journal=journal, events=(), started_ts=0.0, ended_ts=1.0, lock_sessions=(), writes=writes)


def test_a_target_without_load_leaves_the_write_audit_out() -> None:
    plan = DrillPlan.build(time_scale=10)
    unaudited = _evidence(WriteAudit(error="no load generator"))
    audited = judge(plan, unaudited, Expectation(), scenario="x")
    check = audited.check(CheckKind.NO_LOST_WRITES)
    assert check is not None
    assert check.status == "error"  # expected but not measurable: never counted as passed
    left_out = judge(plan, unaudited, Expectation(audit_writes=False), scenario="x")
    assert "no-acknowledged-write-lost" not in {c.id for c in left_out.checks}
    assert Expectation.from_extension({"audit_writes": False}).audit_writes is False
    assert Expectation.from_extension({}).audit_writes is True


def test_every_cluster_experiment_leaves_the_write_audit_out() -> None:
    for name in ("memory-leak", "oom", "db-lock-contention"):
        assert Expectation.from_extension(load_drill(name).expect).audit_writes is False


# --- rollouts and notifications --------------------------------------------------------------------------


def _deployment(*counts: int) -> Any:
    generation, observed, replicas, updated, total, available = counts
    return SimpleNamespace(
        metadata=SimpleNamespace(generation=generation),
        spec=SimpleNamespace(replicas=replicas),
        status=SimpleNamespace(
            observed_generation=observed,
            updated_replicas=updated,
            replicas=total,
            available_replicas=available,
        ),
    )


def test_a_rollout_is_done_as_kubectl_rollout_status_says() -> None:
    assert rollout_done(_deployment(3, 3, 2, 2, 2, 2))
    assert not rollout_done(_deployment(3, 2, 2, 2, 2, 2))  # new generation not observed yet
    assert not rollout_done(_deployment(3, 3, 2, 1, 2, 2))  # an old pod left
    assert not rollout_done(_deployment(3, 3, 2, 2, 3, 2))  # an old pod still terminating
    assert not rollout_done(_deployment(3, 3, 2, 2, 2, 1))  # a new pod not available


def test_a_release_patch_sets_image_env_annotations_and_the_version_label() -> None:
    release = DrillConfig.model_validate(
        YAML(typ="safe").load(EXAMPLE.read_text(encoding="utf-8"))
    ).releases.leaking
    w = Workload("ns", "app", "main", "app=x", "app.kubernetes.io/version")
    patch = w.release_patch(release.model_copy(update={"annotations": {"a": "b"}}))
    template = patch["spec"]["template"]
    assert template["spec"]["containers"] == [
        {
            "name": "main",
            "image": release.image,
            "env": [{"name": "CE_LEAK_BYTES_PER_S", "value": "10485760"}],
        }
    ]
    assert template["metadata"] == {"annotations": {"a": "b"}, "labels": {"app.kubernetes.io/version": "5.1"}}
    assert w.template_version(template) == "5.1"
    assert Workload("ns", "app", "main", "app=x", None).template_version(template) == "5.1"


class _History:
    def __init__(self, series: list[tuple[dict[str, str], list[tuple[float, float]]]]) -> None:
        self.series = series

    def query_range(self, *_: Any) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        return self.series


def test_notifications_are_synthesised_from_the_alerts_history() -> None:
    plan = DrillPlan.build(time_scale=10, scrape_interval_s=1.0)
    labels = {"alertname": "SystemAvailabilityP2Major", "severity": "P2"}
    # Two stretches of firing (the grid instant, the first firing sample's own timestamp).
    values = [(100.0, 99.6), (101.0, 100.6), (102.0, 101.6), (110.0, 109.6), (111.0, 110.6)]
    other = ({"alertname": "SomebodyElsesAlert", "severity": "P1"}, [(100.0, 99.0)])
    events = notifications(_History([(labels, values), other]), plan, 90.0, 120.0, 90.0)  # type: ignore[arg-type]
    summary = [(e.ts, e.data["status"], e.data["alerts"][0]["alertname"]) for e in events]
    assert summary == [
        (99.6, "firing", "SystemAvailabilityP2Major"),
        (102.6, "resolved", "SystemAvailabilityP2Major"),
        (109.6, "firing", "SystemAvailabilityP2Major"),
        (111.6, "resolved", "SystemAvailabilityP2Major"),
    ]
    assert events[0].data["alerts"][0]["starts_at"] == "1970-01-01T00:01:39.600Z"


# --- the staging manifests ----------------------------------------------------------------------------


def test_the_prometheusrule_is_the_generators_output() -> None:
    generated = build(Playbook.default()).files()[PROMETHEUS_RULE_FILE]
    assert (DEPLOY / "prometheusrule.yaml").read_text(encoding="utf-8") == generated, (
        "regenerate: ce-drill rules generate --out build/rules && cp build/rules/prometheusrule.yaml deploy/k8s/"
    )


def test_the_servicemonitor_scrapes_at_the_rules_evaluation_interval() -> None:
    (monitor,) = _docs("servicemonitor.yaml")
    interval = monitor["spec"]["endpoints"][0]["interval"]
    plan = DrillPlan.build()
    assert interval == f"{plan.evaluation_interval_s:g}s"
    (service,) = _docs("service.yaml")
    assert service["metadata"]["name"] == "claude-enhancer"  # the job the rules select


def _granted(rules: list[dict[str, Any]], p: permissions.Permission) -> bool:
    resource = f"{p.resource}/{p.subresource}" if p.subresource else p.resource
    return any(
        p.group in r["apiGroups"]
        and resource in r["resources"]
        and p.verb in r["verbs"]
        and (p.name is None or "resourceNames" not in r or p.name in r["resourceNames"])
        and (p.name is not None or "resourceNames" not in r)
        for r in rules
    )


@pytest.mark.parametrize("trigger", ["annotation", "http"])
def test_the_role_grants_every_permission_a_drill_needs(trigger: str) -> None:
    role = next(d for d in _docs("rbac.yaml") if d["kind"] == "Role")
    data = YAML(typ="safe").load(EXAMPLE.read_text(encoding="utf-8"))
    data["oom"] = {"trigger": trigger, "annotation": "fakelet.test/oom-kill", "http": data["oom"]["http"]}
    config = DrillConfig.model_validate(data)
    for name in ("memory-leak", "oom", "db-lock-contention"):
        expect = Expectation.from_extension(load_drill(name).expect)
        for p in permissions.needed(expect, config):
            assert _granted(role["rules"], p), f"{name} needs {p.label} ({p.why})"
    # And the check can tell: a Role without the patch rule does not grant it.
    without = [r for r in role["rules"] if "patch" not in r["verbs"]]
    assert not _granted(
        without, permissions.Permission("patch", "deployments", "", "apps", name="agent-coordinator")
    )


def test_an_unknown_cluster_scenario_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="known on a cluster: db-lock-contention, memory-leak, oom"):
        load_drill("disk-full")
