"""Everything Prometheus and Alertmanager need to keep the manual's alerting promises.

From one playbook and one clock (:class:`~ce_drill.plan.timing.Timing`) this
builds, in memory and deterministically:

* ``recording.rules.yml`` — the manual's metrics from the raw metrics contract;
* ``alerting.rules.yml`` — its detection rules and priority-matrix conditions;
* ``recording.test.yml`` / ``alerting.test.yml`` — promtool unit tests of both;
* ``alertmanager.yml`` — routes from severities to the manual's channels;
* ``prometheusrule.yaml`` — the same rule groups for the Prometheus Operator;
* ``manifest.json`` — what was generated, with counts, for tools and people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ce_drill.plan.timing import WINDOW_FLOOR_SCRAPES, Timing, prom_duration
from ce_drill.rules import alertmanager, k8s, promtests
from ce_drill.rules.alerting import MATRIX_GROUP, AlertRule, alert_rules
from ce_drill.rules.alertmanager import Routing, routing
from ce_drill.rules.config import DEFAULT_WEBHOOK_URL
from ce_drill.rules.recording import RecordingRule, recording_rules
from ce_drill.rules.yamltext import dump
from sim.playbook import Playbook

RECORDING_FILE = "recording.rules.yml"
ALERTING_FILE = "alerting.rules.yml"
RECORDING_TESTS = "recording.test.yml"
ALERTING_TESTS = "alerting.test.yml"
ALERTMANAGER_FILE = "alertmanager.yml"
PROMETHEUS_RULE_FILE = "prometheusrule.yaml"
MANIFEST_FILE = "manifest.json"

RULE_FILES = (RECORDING_FILE, ALERTING_FILE)
TEST_FILES = (RECORDING_TESTS, ALERTING_TESTS)
RECORDING_GROUP = "claude-enhancer.recording"


@dataclass(frozen=True)
class RuleSet:
    playbook: Playbook
    timing: Timing
    recording: tuple[RecordingRule, ...]
    alerts: tuple[AlertRule, ...]
    routing: Routing
    webhook_url: str

    def _interval(self) -> str:
        return prom_duration(self.timing.scrape_ms)

    def recording_groups(self) -> list[dict[str, object]]:
        rules = [r.as_dict() for r in self.recording]
        return [{"name": RECORDING_GROUP, "interval": self._interval(), "rules": rules}]

    def alerting_groups(self) -> list[dict[str, object]]:
        """Detection rules grouped as the manual groups them, then the matrix."""
        order = list(dict.fromkeys(a.group for a in self.alerts if a.group != MATRIX_GROUP))
        if any(a.group == MATRIX_GROUP for a in self.alerts):
            order.append(MATRIX_GROUP)
        return [
            {
                "name": group,
                "interval": self._interval(),
                "rules": [a.as_dict() for a in self.alerts if a.group == group],
            }
            for group in order
        ]

    def alert_test_groups(self) -> list[dict[str, object]]:
        return [group for alert in self.alerts for group in promtests.alert_tests(alert, self.timing)]

    def recording_test_groups(self) -> list[dict[str, object]]:
        return promtests.recording_tests(self.recording, self.playbook, self.timing)

    def files(self) -> dict[str, str]:
        """File name → content, in the order they are written."""
        return {
            RECORDING_FILE: dump({"groups": self.recording_groups()}),
            ALERTING_FILE: dump({"groups": self.alerting_groups()}),
            RECORDING_TESTS: dump(
                promtests.test_file([RECORDING_FILE], self.timing, self.recording_test_groups())
            ),
            ALERTING_TESTS: dump(promtests.test_file([ALERTING_FILE], self.timing, self.alert_test_groups())),
            ALERTMANAGER_FILE: dump(alertmanager.config(self.routing, self.timing, self.webhook_url)),
            PROMETHEUS_RULE_FILE: dump(
                k8s.prometheus_rule(self.recording_groups() + self.alerting_groups(), self.timing.scale)
            ),
            MANIFEST_FILE: json.dumps(self.manifest(), ensure_ascii=False, indent=2) + "\n",
        }

    def counts(self) -> dict[str, int]:
        return {
            "recording_rules": len(self.recording),
            "alerting_rules": len(self.alerts),
            "detection_alerts": sum(a.kind == "detection" for a in self.alerts),
            "matrix_alerts": sum(a.kind == "matrix" for a in self.alerts),
            "alert_tests": len(self.alert_test_groups()),
            "recording_tests": len(self.recording_test_groups()),
            "receivers": len({r.receiver for r in self.routing.routes} | {self.routing.fallback}),
            "routes": len(self.routing.routes),
        }

    def manifest(self) -> dict[str, object]:
        t = self.timing
        return {
            "generator": "ce-drill rules generate",
            "playbook": {"title": self.playbook.manual.title, "version": self.playbook.manual.version},
            "timing": {
                "time_scale": t.scale,
                "scrape_interval_s": t.scrape_ms / 1000,
                "evaluation_interval_s": t.scrape_ms / 1000,
                "range_window_s": t.window_ms / 1000,
                "range_window_floor_scrapes": WINDOW_FLOOR_SCRAPES,
                "group_wait_s": t.group_wait_ms / 1000,
                "group_interval_s": t.group_interval_ms / 1000,
            },
            "files": {
                "recording_rules": RECORDING_FILE,
                "alerting_rules": ALERTING_FILE,
                "tests": list(TEST_FILES),
                "alertmanager": ALERTMANAGER_FILE,
                "prometheus_rule": PROMETHEUS_RULE_FILE,
            },
            "counts": self.counts(),
            "alerts": [
                {
                    "name": a.name,
                    "kind": a.kind,
                    "severity": a.severity,
                    "expr": a.expr,
                    "for_s": a.for_ms / 1000,
                    "for_manual_s": a.for_manual_s,
                    "for_basis": a.for_basis,
                    "receivers": self.routing.receivers_for(a.severity),
                }
                for a in self.alerts
            ],
            "routes": [
                {
                    "severity": r.severity,
                    "receiver": r.receiver,
                    "repeat_interval_s": r.repeat_ms / 1000,
                    "basis": r.basis,
                }
                for r in self.routing.routes
            ],
        }


def build(
    pb: Playbook,
    *,
    scale: float = 1.0,
    scrape_interval_s: float | None = None,
    timing: Timing | None = None,
    webhook_url: str = DEFAULT_WEBHOOK_URL,
    origin: str = "playbook",
) -> RuleSet:
    """Everything for ``pb`` at ``scale`` (or on a drill plan's ``timing``); ``origin`` names the
    playbook file in errors."""
    timing = timing or Timing.create(scale, scrape_interval_s)
    recording = recording_rules(pb, timing, origin)
    alerts = alert_rules(pb, timing, recording, origin)
    return RuleSet(pb, timing, recording, alerts, routing(pb, timing, origin), webhook_url)


def write(files: dict[str, str], out_dir: Path) -> list[Path]:
    """Write generated files into ``out_dir`` (created if needed); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
