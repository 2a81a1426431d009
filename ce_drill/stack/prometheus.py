"""The stack's Prometheus and Alertmanager: configuration, command lines, and questions to them.

Prometheus scrapes the two stand-in pods (job ``claude-enhancer`` of the
metrics contract), Alertmanager and itself every second, evaluates the rules
the generator wrote from the playbook every second, and re-sends firing
alerts every second so notifications are not held back.  Alertmanager runs
standalone (no gossip cluster) with the generated routes, whose webhooks
point at the stack's receiver.

Readiness is not ``/-/ready``: Prometheus answers that at once but scrapes
for the first time about five seconds later.  The stack is ready when every
target has been scraped and is ``up``.
"""

from __future__ import annotations

import json
import math
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from ce_drill.rules import contract
from ce_drill.rules.generate import ALERTMANAGER_FILE, RULE_FILES
from ce_drill.stack.config import HOST, RESEND_DELAY_S, StackConfig, url
from ce_drill.stack.web import HttpError, get_json

PROMETHEUS_JOB = "prometheus"
ALERTMANAGER_JOB = "alertmanager"


def _interval(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def expected_targets(config: StackConfig) -> dict[str, set[str]]:
    """Job -> instances Prometheus must scrape."""
    p = config.ports
    return {
        contract.JOB: {f"{HOST}:{p.blue}", f"{HOST}:{p.green}"},
        PROMETHEUS_JOB: {f"{HOST}:{p.prometheus}"},
        ALERTMANAGER_JOB: {f"{HOST}:{p.alertmanager}"},
    }


def prometheus_config(config: StackConfig, rules_dir: Path) -> dict[str, Any]:
    interval = _interval(config.scrape_interval_s)
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(rules_dir / name) for name in RULE_FILES],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{config.ports.alertmanager}"]}]}]
        },
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": sorted(instances)}]}
            for job, instances in expected_targets(config).items()
        ],
    }


def write_prometheus_config(config: StackConfig, rules_dir: Path, out: Path) -> Path:
    path = out / "prometheus.yml"
    # JSON is YAML too, and needs no YAML writer's quoting rules.
    path.write_text(json.dumps(prometheus_config(config, rules_dir), indent=2), encoding="utf-8")
    return path


def prometheus_argv(config: StackConfig, config_file: Path, data_dir: Path) -> list[str]:
    binary = shutil.which("prometheus") or "prometheus"
    return [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={HOST}:{config.ports.prometheus}",
        f"--web.external-url={url(config.ports.prometheus)}/",
        f"--rules.alert.resend-delay={_interval(RESEND_DELAY_S)}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]


def alertmanager_argv(config: StackConfig, rules_dir: Path, data_dir: Path) -> list[str]:
    binary = (
        shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "prometheus-alertmanager"
    )
    return [
        binary,
        f"--config.file={rules_dir / ALERTMANAGER_FILE}",
        f"--storage.path={data_dir}",
        f"--web.listen-address={HOST}:{config.ports.alertmanager}",
        f"--web.external-url={url(config.ports.alertmanager)}/",
        # Empty: no gossip cluster, so no third port and no peer to wait for.
        "--cluster.listen-address=",
        "--log.level=warn",
    ]


def query(prometheus_url: str, expr: str, timeout_s: float = 2.0) -> list[tuple[dict[str, str], float]]:
    """An instant query: each series' labels and value."""
    q = urllib.parse.urlencode({"query": expr})
    payload = get_json(f"{prometheus_url}/api/v1/query?{q}", timeout_s)
    out = []
    for item in payload["data"]["result"]:
        out.append((dict(item["metric"]), float(item["value"][1])))
    return out


def value(prometheus_url: str, expr: str) -> float | None:
    """The largest value of ``expr`` now; None when it has none (or only NaN).

    Raises HttpError when Prometheus cannot be asked: "no data" and "no
    monitoring" are different findings.
    """
    try:
        values = [v for _, v in query(prometheus_url, expr) if not math.isnan(v)]
    except (KeyError, ValueError) as exc:
        raise HttpError(prometheus_url, f"unexpected answer to {expr!r}: {exc}") from None
    return max(values) if values else None


def scraped(prometheus_url: str, config: StackConfig) -> dict[str, bool]:
    """For each job: every expected instance scraped and up."""
    expected = expected_targets(config)
    try:
        series = query(prometheus_url, "up")
    except (HttpError, KeyError, ValueError):
        return dict.fromkeys(expected, False)
    up = {(labels.get("job"), labels.get("instance")) for labels, v in series if v == 1}
    return {job: all((job, inst) in up for inst in instances) for job, instances in expected.items()}


def rules_loaded(prometheus_url: str) -> int:
    """How many rules Prometheus has loaded."""
    payload = get_json(f"{prometheus_url}/api/v1/rules")
    return sum(len(group["rules"]) for group in payload["data"]["groups"])
