"""What a cluster drill may need to do, and whether the API server lets it: SelfSubjectAccessReview.

Each drill needs a handful of namespaced permissions (the Role of
``deploy/k8s/rbac.yaml`` grants exactly these): reading the Deployment, its
ReplicaSets, pods and events; patching the Deployment (roll a release out,
undo it) for the memory-leak drill; patching pods (the OOM annotation) or
posting through the pod proxy (the OOM fault endpoint) for the OOM drill;
reading the kill-switch ConfigMap.  ``--dry-run`` asks the API server about
each one (``authorization.k8s.io/v1`` ``SelfSubjectAccessReview``: nothing is
created or changed) as the user of the drill's kube context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client

from ce_drill.drill.judge import Expectation
from ce_drill.k8s.config import DrillConfig


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    why: str
    group: str = ""
    subresource: str = ""
    name: str | None = None

    @property
    def label(self) -> str:
        res = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.subresource:
            res += f"/{self.subresource}"
        return f"{self.verb} {res}" + (f" {self.name}" if self.name else "")


def needed(expect: Expectation, config: DrillConfig) -> list[Permission]:
    """Every permission the drill needs in its namespace, each with why."""
    deployment = config.target.deployment
    out = [
        Permission("get", "deployments", "read the Deployment, watch its rollout", "apps", name=deployment),
        Permission("list", "deployments", "chaosk8s's Deployment probe (the steady state)", "apps"),
        Permission("list", "pods", "the pods' versions, readiness and container status"),
        Permission("get", "pods", "one pod's container status (OOM kills, restarts)"),
    ]
    if expect.auto_rollback:
        out += [
            Permission(
                "patch", "deployments", "roll the leaking release out, undo it", "apps", name=deployment
            ),
            Permission(
                "list", "replicasets", "find the previous revision's pod template (rollout undo)", "apps"
            ),
        ]
    if expect.oom_restart:
        oom = config.oom
        if oom is not None and oom.trigger == "http":
            out.append(
                Permission("create", "pods", "post to the container's fault endpoint", subresource="proxy")
            )
        else:
            out.append(Permission("patch", "pods", "set and clear the OOM trigger annotation"))
        out.append(Permission("list", "events", "the kubelet's restart events"))
    if config.kill_switch.configmap is not None:
        out.append(
            Permission("get", "configmaps", "look for the kill switch", name=config.kill_switch.configmap)
        )
    return out


@dataclass(frozen=True)
class Verdict:
    permission: Permission
    allowed: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        p = self.permission
        return {
            "verb": p.verb,
            "group": p.group,
            "resource": p.resource,
            "subresource": p.subresource or None,
            "name": p.name,
            "why": p.why,
            "allowed": self.allowed,
            "reason": self.reason,
        }


def review(api: client.ApiClient, namespace: str, permissions: list[Permission]) -> list[Verdict]:
    """Ask the API server about each permission for the current user (nothing is changed)."""
    authz = client.AuthorizationV1Api(api)
    out = []
    for p in permissions:
        attributes: dict[str, Any] = {
            "namespace": namespace,
            "verb": p.verb,
            "group": p.group,
            "resource": p.resource,
        }
        if p.subresource:
            attributes["subresource"] = p.subresource
        if p.name:
            attributes["name"] = p.name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        status = authz.create_self_subject_access_review(body).status
        out.append(Verdict(p, bool(status.allowed), str(status.reason or status.evaluation_error or "")))
    return out
