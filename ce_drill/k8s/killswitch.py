"""The kill switch: one file or one ConfigMap whose existence stops every drill at once.

An operator who wants a drill gone — an incident elsewhere, a demo, doubt —
creates the file (``touch``) or the ConfigMap (``kubectl create configmap NAME``)
named in the drill config.  A drill does not start while it is engaged; a
running drill is stopped by its runner (which polls the switch), its rollbacks
play, and no activity injects a fault while the switch is on (the guard asks
before each injection).  Restoring actions still run: they are what an
operator wants when pulling the switch.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from ce_drill.k8s.config import KillSwitch
from ce_drill.k8s.kube import KubeTarget

NOT_FOUND = 404


def engaged(switch: KillSwitch, target: KubeTarget) -> str | None:
    """Why the switch is engaged (``file PATH exists``), or None when it is not."""
    if switch.file is not None:
        return f"kill switch file {switch.file} exists" if Path(switch.file).exists() else None
    assert switch.configmap is not None, "the config requires a file or a configmap"
    with target.api() as api:
        try:
            client.CoreV1Api(api).read_namespaced_config_map(switch.configmap, target.namespace)
        except ApiException as exc:
            if exc.status == NOT_FOUND:
                return None
            raise
    return f"kill switch ConfigMap {target.namespace}/{switch.configmap} exists"


class KillSwitchEngaged(Exception):  # noqa: N818 - a stop, not an error
    """The kill switch is on: nothing may be injected."""
