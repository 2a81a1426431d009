"""Releases of the agent-coordinator Deployment: roll one out, undo it, wait for the rollout.

A release (stable or leaking, from the drill config) is an image, environment
variables and pod template annotations (and the version label, when the
config names one), applied as a strategic merge patch of the Deployment's
pod template.  A Deployment keeps one ReplicaSet per template revision; the
undo is what ``kubectl rollout undo`` does (chaosk8s has none): take the
ReplicaSet of the previous ``deployment.kubernetes.io/revision`` (or of a
named version), copy its pod template minus the controller's
``pod-template-hash`` label into the Deployment, and let the Deployment
controller roll back.  A rollout is done, as ``kubectl rollout status`` says,
when the controller has observed the new generation and every replica is
updated and available.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from ce_drill.k8s.config import Release, Target, image_tag

REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
STRATEGIC = "application/strategic-merge-patch+json"
POLL_S = 0.25


class RolloutError(Exception):
    """A rollout or an undo could not be done (no previous revision, timed out)."""


@dataclass(frozen=True)
class Workload:
    """The Deployment a drill acts on, and how to read a version off a pod template."""

    namespace: str
    deployment: str
    container: str
    selector: str
    version_label: str | None

    @classmethod
    def of(cls, target: Target) -> Workload:
        return cls(
            target.namespace, target.deployment, target.container, target.selector, target.version_label
        )

    def template_version(self, template: dict[str, Any]) -> str | None:
        """The release version a pod template (or a pod, same shape) runs."""
        meta = template.get("metadata") or {}
        if self.version_label is not None:
            value = (meta.get("labels") or {}).get(self.version_label)
            return None if value is None else str(value)
        for container in (template.get("spec") or {}).get("containers") or []:
            if container.get("name") == self.container:
                return image_tag(container.get("image"))
        return None

    def release_patch(self, release: Release) -> dict[str, Any]:
        """The strategic merge patch that puts ``release`` into the pod template."""
        container: dict[str, Any] = {"name": self.container}
        if release.image is not None:
            container["image"] = release.image
        if release.env:
            container["env"] = [{"name": k, "value": v} for k, v in sorted(release.env.items())]
        template: dict[str, Any] = {"spec": {"containers": [container]}}
        meta: dict[str, Any] = {}
        if release.annotations:
            meta["annotations"] = dict(release.annotations)
        if self.version_label is not None:
            meta["labels"] = {self.version_label: release.version}
        if meta:
            template["metadata"] = meta
        return {"spec": {"template": template}}


def _plain(api: client.ApiClient, obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.sanitize_for_serialization(obj)
    return data


def revision(obj: Any) -> int:
    annotations = obj.metadata.annotations or {}
    try:
        return int(annotations.get(REVISION, "0"))
    except ValueError:
        return 0


def apply_release(api: client.ApiClient, w: Workload, release: Release) -> dict[str, Any]:
    """Patch ``release`` into the Deployment; returns its new generation and revision before."""
    apps = client.AppsV1Api(api)
    before = apps.read_namespaced_deployment(w.deployment, w.namespace)
    after = apps.patch_namespaced_deployment(
        w.deployment, w.namespace, w.release_patch(release), _content_type=STRATEGIC
    )
    return {"generation": after.metadata.generation, "revision_before": revision(before)}


def replica_sets(api: client.ApiClient, w: Workload) -> list[Any]:
    """The Deployment's own ReplicaSets, newest revision first."""
    apps = client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment(w.deployment, w.namespace)
    owned = [
        rs
        for rs in apps.list_namespaced_replica_set(w.namespace, label_selector=w.selector).items
        if any(ref.uid == deployment.metadata.uid for ref in rs.metadata.owner_references or [])
    ]
    return sorted(owned, key=revision, reverse=True)


def rollout_undo(api: client.ApiClient, w: Workload, to_version: str | None = None) -> dict[str, Any]:
    """``kubectl rollout undo``: the previous revision's pod template (or ``to_version``'s) back in place.

    Returns what was restored: revisions from and to, and the version restored.
    """
    apps = client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment(w.deployment, w.namespace)
    current = revision(deployment)
    candidates = [rs for rs in replica_sets(api, w) if revision(rs) != current]
    if to_version is None:
        candidates = [rs for rs in candidates if revision(rs) < current]
    else:
        candidates = [
            rs for rs in candidates if w.template_version(_plain(api, rs.spec.template)) == to_version
        ]
    if not candidates:
        wanted = "a previous revision" if to_version is None else f"a revision running {to_version}"
        raise RolloutError(f"deployment {w.namespace}/{w.deployment} (revision {current}) has no {wanted}")
    source = candidates[0]
    template = copy.deepcopy(_plain(api, source.spec.template))
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(POD_TEMPLATE_HASH, None)
    apps.patch_namespaced_deployment(
        w.deployment, w.namespace, [{"op": "replace", "path": "/spec/template", "value": template}]
    )
    return {
        "from_revision": current,
        "to_revision": revision(source),
        "version": w.template_version(template),
        "replica_set": source.metadata.name,
    }


def rollout_done(deployment: Any) -> bool:
    """As ``kubectl rollout status``: new generation observed, every replica updated and available."""
    spec_replicas = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    status = deployment.status
    observed = (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
    updated = status.updated_replicas or 0
    return (
        observed
        and updated == spec_replicas
        and (status.replicas or 0) == updated
        and (status.available_replicas or 0) == updated
    )


def wait_rollout(
    api: client.ApiClient, w: Workload, timeout_s: float, stop: Callable[[], bool] = lambda: False
) -> float:
    """Seconds until the rollout was done; RolloutError after ``timeout_s``."""
    apps = client.AppsV1Api(api)
    started = time.monotonic()
    while True:
        if rollout_done(apps.read_namespaced_deployment(w.deployment, w.namespace)):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s or stop():
            raise RolloutError(
                f"deployment {w.namespace}/{w.deployment} did not finish its rollout in {timeout_s:g} s"
            )
        time.sleep(POLL_S)


def pod_versions(api: client.ApiClient, w: Workload) -> dict[str, str | None]:
    """Each running pod of the Deployment (not being deleted) and the version it runs."""
    pods = client.CoreV1Api(api).list_namespaced_pod(w.namespace, label_selector=w.selector).items
    return {
        pod.metadata.name: w.template_version(_plain(api, pod))
        for pod in sorted(pods, key=lambda p: p.metadata.name)
        if pod.metadata.deletion_timestamp is None
    }
