"""The same rule groups as a Kubernetes ``PrometheusRule`` for the Prometheus Operator.

In a cluster the operator, not a rule file, feeds Prometheus: applying this
object with ``kubectl apply -f`` installs exactly the groups that the rule files
hold and that the generated promtool tests prove.
"""

from __future__ import annotations

from collections.abc import Sequence

from ce_drill.rules.contract import JOB

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"


def prometheus_rule(groups: Sequence[dict[str, object]], scale: float) -> dict[str, object]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": f"{JOB}-playbook-rules",
            "labels": {
                "app.kubernetes.io/name": JOB,
                "app.kubernetes.io/component": "alerting",
                "app.kubernetes.io/managed-by": "ce-drill",
            },
            "annotations": {"ce-drill/time-scale": format(scale, "g")},
        },
        "spec": {"groups": list(groups)},
    }
