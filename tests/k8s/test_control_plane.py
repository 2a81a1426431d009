"""The test control plane behaves as Kubernetes does: what later k8s drills will rely on.

Rollouts are done by the real Deployment and ReplicaSet controllers, authorisation by the
real RBAC authorizer; the fakelet only writes the pod status a kubelet would.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path
from typing import Any, TypeVar

import pytest
from chaosk8s.deployment.probes import deployment_available_and_healthy
from chaosk8s.pod.probes import count_pods
from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.k8s.cluster import DEFAULT_PORTS, ControlPlane, processes_alive
from tests.k8s.fakelet import ANN_NOT_READY, ANN_OOM

pytestmark = pytest.mark.k8s

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def rolled_out(apps: client.AppsV1Api, name: str, ns: str) -> bool:
    """What ``kubectl rollout status`` waits for."""
    d = apps.read_namespaced_deployment(name, ns)
    s = d.status
    return bool(
        (s.observed_generation or 0) >= d.metadata.generation
        and s.updated_replicas == d.spec.replicas
        and s.available_replicas == d.spec.replicas
        and (s.replicas or 0) == d.spec.replicas
    )


def create_and_roll_out(api: client.ApiClient, ns: str, name: str, replicas: int) -> client.AppsV1Api:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment(name, "nginx:1.25", replicas))
    wait_for(f"deployment {name} to roll out", lambda: rolled_out(apps, name, ns))
    return apps


def test_readyz_and_version(k8s_cluster: ControlPlane, k8s_api: client.ApiClient) -> None:
    request = urllib.request.Request(
        f"{k8s_cluster.api_url}/readyz?verbose",
        headers={"Authorization": f"Bearer {k8s_cluster.admin_token}"},
    )
    context = ssl.create_default_context(cafile=str(k8s_cluster.ca_path))
    with urllib.request.urlopen(request, timeout=5, context=context) as response:
        body = response.read().decode()
    assert response.status == 200
    assert "[+]etcd ok" in body
    assert body.rstrip().endswith("readyz check passed")
    assert client.VersionApi(k8s_api).get_code().git_version == "v1.20.2"


def test_nodes_are_ready_and_leased(k8s_api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(k8s_api).list_node().items
    assert sorted(n.metadata.name for n in nodes) == ["fake-node-0", "fake-node-1"]
    for node in nodes:
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "True"
    leases = client.CoordinationV1Api(k8s_api).list_namespaced_lease("kube-node-lease").items
    assert {lease.spec.holder_identity for lease in leases} == {"fake-node-0", "fake-node-1"}


@pytest.mark.usefixtures("chaosk8s_env")
def test_deployment_rolls_out_and_chaosk8s_sees_it(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    ns = k8s_namespace
    create_and_roll_out(k8s_api, ns, "web", 3)

    assert deployment_available_and_healthy("web", ns=ns) is True
    assert count_pods("app=web", phase="Running", ns=ns) == 3
    assert count_pods("app=nothing", ns=ns) == 0
    # The scheduler spread them over the fake nodes and the ServiceAccount admission mounted
    # the token volume, as on a real cluster (chaosk8s' drain relies on that).
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(ns, label_selector="app=web").items
    assert {p.spec.node_name for p in pods} <= {"fake-node-0", "fake-node-1"}
    assert all(any(v.secret for v in p.spec.volumes or []) for p in pods)

    # One pod not ready: the Deployment is no longer fully available, and the probe says so.
    core = client.CoreV1Api(k8s_api)
    core.patch_namespaced_pod(
        pods[0].metadata.name, ns, {"metadata": {"annotations": {ANN_NOT_READY: "true"}}}
    )
    apps = client.AppsV1Api(k8s_api)
    wait_for(
        "one replica unavailable",
        lambda: apps.read_namespaced_deployment("web", ns).status.available_replicas == 2,
    )
    with pytest.raises(ActivityFailed, match="is not healthy"):
        deployment_available_and_healthy("web", ns=ns)
    assert deployment_available_and_healthy("web", ns=ns, raise_on_unavailable=False) is False


def test_new_image_rolls_out_a_new_replicaset(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    ns = k8s_namespace
    apps = create_and_roll_out(k8s_api, ns, "web", 3)
    [first] = apps.list_namespaced_replica_set(ns, label_selector="app=web").items

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}}
    apps.patch_namespaced_deployment("web", ns, patch)
    wait_for("the new image to roll out", lambda: rolled_out(apps, "web", ns))

    sets = {
        rs.metadata.name: rs for rs in apps.list_namespaced_replica_set(ns, label_selector="app=web").items
    }
    assert len(sets) == 2
    new = next(rs for name, rs in sets.items() if name != first.metadata.name)
    assert new.spec.template.spec.containers[0].image == "nginx:1.26"
    assert new.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert new.status.ready_replicas == 3
    wait_for(
        "the old ReplicaSet to scale to 0",
        lambda: apps.read_namespaced_replica_set(first.metadata.name, ns).status.replicas == 0,
    )
    core = client.CoreV1Api(k8s_api)

    def images() -> set[str]:
        return {
            p.spec.containers[0].image for p in core.list_namespaced_pod(ns, label_selector="app=web").items
        }

    wait_for("the old pods to go", lambda: images() == {"nginx:1.26"})


def test_oom_kill_annotation_is_a_container_restart(k8s_api: client.ApiClient, k8s_namespace: str) -> None:
    ns = k8s_namespace
    create_and_roll_out(k8s_api, ns, "leaky", 1)
    core = client.CoreV1Api(k8s_api)
    [pod] = core.list_namespaced_pod(ns, label_selector="app=leaky").items
    name = pod.metadata.name
    assert pod.status.container_statuses[0].restart_count == 0

    core.patch_namespaced_pod(name, ns, {"metadata": {"annotations": {ANN_OOM: "1"}}})

    def restarted() -> Any:
        status = core.read_namespaced_pod(name, ns).status.container_statuses[0]
        return status if status.restart_count == 1 else None

    status = wait_for("the OOM kill", restarted, timeout=30)
    terminated = status.last_state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)
    assert status.state.running is not None
    events = wait_for(
        "the BackOff event",
        lambda: (
            core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name},reason=BackOff").items
        ),
    )
    assert events[0].type == "Warning"
    assert events[0].source.component == "kubelet"

    # A new value is a new kill; the same value again is not.
    core.patch_namespaced_pod(name, ns, {"metadata": {"annotations": {ANN_OOM: "2"}}})
    wait_for(
        "the second OOM kill",
        lambda: core.read_namespaced_pod(name, ns).status.container_statuses[0].restart_count == 2,
        timeout=30,
    )


def test_restricted_token_is_refused_by_rbac(k8s_cluster: ControlPlane, k8s_namespace: str) -> None:
    body = deployment("web", "nginx:1.25", 1)
    with k8s_cluster.api_client(k8s_cluster.restricted_context) as api:
        with pytest.raises(ApiException) as refused:
            client.AppsV1Api(api).create_namespaced_deployment(k8s_namespace, body)
        # Authenticated (not 401), then refused by RBAC, naming the user.
        assert refused.value.status == 403
        status = json.loads(refused.value.body)
        assert status["reason"] == "Forbidden"
        assert (
            f'User "{k8s_cluster.restricted_user}" cannot create resource "deployments"' in status["message"]
        )
        # Discovery is open to every authenticated user, so the token itself is valid.
        assert client.VersionApi(api).get_code().git_version == "v1.20.2"
    with k8s_cluster.api_client() as api:
        created = client.AppsV1Api(api).create_namespaced_deployment(k8s_namespace, body)
    assert created.metadata.name == "web"


@pytest.mark.slow
def test_two_control_planes_run_side_by_side(
    k8s_cluster: ControlPlane, k8s_bin: Path, tmp_path: Path
) -> None:
    with ControlPlane(k8s_bin, tmp_path, nodes=1) as second:
        ports = {*astuple(second.ports), *astuple(k8s_cluster.ports)}
        assert len(ports) == 6
        assert not ports & DEFAULT_PORTS
        assert second.api_url != k8s_cluster.api_url
        with second.api_client() as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": "only-in-second"}})
            assert [n.metadata.name for n in client.CoreV1Api(api).list_node().items] == ["fake-node-0"]
        with k8s_cluster.api_client() as api, pytest.raises(ApiException) as missing:
            client.CoreV1Api(api).read_namespace("only-in-second")
        assert missing.value.status == 404
        pids = list(second.pids.values())
        assert len(processes_alive(pids)) == 5
    assert processes_alive(pids) == []
    assert not (tmp_path / "etcd").exists()
