"""A fake kubelet for the test control plane: nodes and pod status without containers.

It registers fake nodes and keeps them alive (Ready condition and a heartbeat Lease, as
a kubelet does), binds unscheduled pods when no kube-scheduler runs (``--bind``), marks
the pods of its nodes Running and Ready, and finishes their graceful deletion.  Pod
annotations drive the failure stages a drill needs:

``fakelet.test/oom-kill: "<n>"``
    each new value: every container of the pod is recorded as killed by the OOM killer
    (``lastState.terminated.reason=OOMKilled``, exit code 137) and restarted
    (``restartCount`` + 1);
``fakelet.test/crash: "<n>"``
    each new value: the same with ``reason=Error``, exit code 1;
``fakelet.test/not-ready: "true"``
    the containers are not ready (``Ready``/``ContainersReady`` False), so the pod drops
    out of its Deployment's available replicas.

Each restart is also reported as the core/v1 Event a real kubelet records for a
container that keeps dying: a Warning ``BackOff`` "Back-off restarting failed container"
on the pod, from component ``kubelet``.  A real kubelet records no Event naming the OOM
kill of a container (its OOM watcher reports only a whole-node ``SystemOOM`` on the
Node); the OOM kill shows in the container status only, and so it does here.

Run it as ``python -m tests.k8s.fakelet --kubeconfig FILE``; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

ANN_OOM = "fakelet.test/oom-kill"
ANN_CRASH = "fakelet.test/crash"
ANN_NOT_READY = "fakelet.test/not-ready"
LEASE_NAMESPACE = "kube-node-lease"
# A kubelet's lease lasts 40 s and is renewed every 10 s; the node-lifecycle controller
# marks a node NotReady once it stops being renewed.
LEASE_SECONDS = 40
# What a v1.20 kubelet writes when it restarts a dying container.
BACKOFF_MESSAGE = "Back-off restarting failed container"
EXIT_OOM = 137
EXIT_ERROR = 1

log = logging.getLogger("fakelet")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _PodState:
    """What the fakelet remembers of one pod between watch events."""

    oom: str | None
    crash: str | None
    restarts: int
    started: str
    ip: str
    last_state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Restart:
    """A stage that killed and restarted the containers of a pod: reported as an Event."""

    reason: str
    exit_code: int


class Fakelet:
    """Plays the kubelet of ``nodes`` against the API server ``api`` talks to."""

    def __init__(self, api: client.ApiClient, nodes: Sequence[str], *, bind: bool) -> None:
        self.core = client.CoreV1Api(api)
        self.coord = client.CoordinationV1Api(api)
        self.nodes = list(nodes)
        self.bind = bind
        self._next_node = itertools.cycle(self.nodes)
        self._next_ip = itertools.count(2)
        self._pods: dict[str, _PodState] = {}
        # The watch thread and the resync of the main thread both handle pods.
        self._lock = threading.Lock()

    # -- nodes ---------------------------------------------------------------------

    def _node_status(self, index: int) -> dict[str, Any]:
        t = _now()
        conditions = [
            ("Ready", "True", "KubeletReady", "fakelet is posting ready status"),
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID"),
            ("NetworkUnavailable", "False", "RouteCreated", "fake route"),
        ]
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "phase": "Running",
                "addresses": [
                    {"type": "InternalIP", "address": f"10.255.0.{index + 1}"},
                    {"type": "Hostname", "address": self.nodes[index]},
                ],
                "conditions": [
                    {
                        "type": kind,
                        "status": status,
                        "reason": reason,
                        "message": message,
                        "lastHeartbeatTime": t,
                        "lastTransitionTime": t,
                    }
                    for kind, status, reason, message in conditions
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "",
                    "containerRuntimeVersion": "fakelet://0.1",
                    "kernelVersion": "",
                    "kubeProxyVersion": "fake",
                    "kubeletVersion": "fake",
                    "machineID": "",
                    "operatingSystem": "linux",
                    "osImage": "fakelet",
                    "systemUUID": "",
                },
            }
        }

    def register_nodes(self) -> None:
        for index, name in enumerate(self.nodes):
            labels = {
                "type": "fakelet",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            }
            body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
            try:
                self.core.create_node(body)
                log.info("registered node %s", name)
            except ApiException as e:
                if e.status != 409:
                    raise
            self.core.patch_node_status(name, self._node_status(index))

    def heartbeat(self) -> None:
        for index, name in enumerate(self.nodes):
            try:
                self.core.patch_node_status(name, self._node_status(index))
            except ApiException as e:
                if e.status == 404:
                    # The node was deleted (a drill may do that): a kubelet registers again.
                    self.register_nodes()
                    return
                log.warning("node status %s: %s", name, e.reason)
            self._renew_lease(name)

    def _renew_lease(self, node: str) -> None:
        spec = {"holderIdentity": node, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": _micro_now()}
        try:
            self.coord.patch_namespaced_lease(node, LEASE_NAMESPACE, {"spec": spec})
        except ApiException as e:
            if e.status != 404:
                log.warning("lease %s: %s", node, e.reason)
                return
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": node, "namespace": LEASE_NAMESPACE},
                "spec": spec,
            }
            try:
                self.coord.create_namespaced_lease(LEASE_NAMESPACE, lease)
            except ApiException as e2:
                # kube-node-lease may not exist yet right after start: next heartbeat.
                log.info("lease %s not created yet: %s", node, e2.reason)

    # -- pods ----------------------------------------------------------------------

    def handle(self, pod: Any) -> None:
        """Bring one pod (a V1Pod) to the state its node and annotations ask for."""
        meta, spec = pod.metadata, pod.spec
        if not spec.node_name:
            if self.bind and not meta.deletion_timestamp:
                self._bind(pod)
            return
        if spec.node_name not in self.nodes:
            return
        if meta.deletion_timestamp:
            self._finish_deletion(pod)
            return
        desired, restart = self._desired_status(pod)
        if desired is None:
            return
        try:
            self.core.patch_namespaced_pod_status(meta.name, meta.namespace, {"status": desired})
        except ApiException as e:
            if e.status != 404:
                log.warning("status %s/%s: %s", meta.namespace, meta.name, e.reason)
            return
        if restart is not None:
            self._record_backoff(pod)

    def _finish_deletion(self, pod: Any) -> None:
        meta = pod.metadata
        # Containers "stopped" at once: end the graceful deletion as a kubelet does when
        # its containers are gone, and only for this pod (not a new one of the same name).
        options = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta.uid)
        )
        try:
            self.core.delete_namespaced_pod(meta.name, meta.namespace, body=options)
            log.info("deleted %s/%s", meta.namespace, meta.name)
        except ApiException as e:
            if e.status not in (404, 409):
                log.warning("delete %s/%s: %s", meta.namespace, meta.name, e.reason)
        with self._lock:
            self._pods.pop(meta.uid, None)

    def _bind(self, pod: Any) -> None:
        meta = pod.metadata
        body = client.V1Binding(
            metadata=client.V1ObjectMeta(name=meta.name),
            target=client.V1ObjectReference(api_version="v1", kind="Node", name=next(self._next_node)),
        )
        try:
            # The generated client cannot deserialize the Status a binding returns.
            self.core.create_namespaced_pod_binding(meta.name, meta.namespace, body, _preload_content=False)
        except ApiException as e:
            if e.status != 409:
                log.warning("bind %s/%s: %s", meta.namespace, meta.name, e.reason)

    def _desired_status(self, pod: Any) -> tuple[dict[str, Any] | None, _Restart | None]:
        """The pod status to write (None: it is already right) and the restart, if one."""
        meta, spec, status = pod.metadata, pod.spec, pod.status
        annotations: dict[str, str] = meta.annotations or {}
        restart: _Restart | None = None
        with self._lock:
            state = self._pods.get(meta.uid)
            changed = state is None and status.phase != "Running"
            if state is None:
                state = _PodState(
                    oom=annotations.get(ANN_OOM),
                    crash=annotations.get(ANN_CRASH),
                    # Keep the count across a restart of the fakelet, as a kubelet does.
                    restarts=max((c.restart_count or 0 for c in status.container_statuses or []), default=0),
                    started=_now(),
                    ip="10.244.{}.{}".format(*divmod(next(self._next_ip), 250)),
                )
                self._pods[meta.uid] = state
            oom, crash = annotations.get(ANN_OOM), annotations.get(ANN_CRASH)
            if oom != state.oom:
                state.oom = oom
                changed = True
                if oom is not None:
                    restart = _Restart("OOMKilled", EXIT_OOM)
            if crash != state.crash:
                state.crash = crash
                changed = True
                if crash is not None:
                    restart = _Restart("Error", EXIT_ERROR)
            if restart is not None:
                t = _now()
                state.restarts += 1
                state.last_state = {
                    "terminated": {
                        "exitCode": restart.exit_code,
                        "reason": restart.reason,
                        "startedAt": state.started,
                        "finishedAt": t,
                    }
                }
                state.started = t
                log.info("%s/%s: %s, restart %d", meta.namespace, meta.name, restart.reason, state.restarts)
            ready = annotations.get(ANN_NOT_READY) != "true"
            was_ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
            if not changed and ready == was_ready:
                return None, None
            restarts, last_state, started, ip = state.restarts, state.last_state, state.started, state.ip
        t = _now()
        flag = "True" if ready else "False"
        conditions = [
            {"type": kind, "status": value, "lastTransitionTime": t}
            for kind, value in (
                ("PodScheduled", "True"),
                ("Initialized", "True"),
                ("ContainersReady", flag),
                ("Ready", flag),
            )
        ]
        containers = [
            {
                "name": c.name,
                "image": c.image,
                "imageID": f"fakelet://{c.image}",
                "containerID": f"fakelet://{meta.uid}/{c.name}",
                "ready": ready,
                "started": True,
                "restartCount": restarts,
                "state": {"running": {"startedAt": started}},
                "lastState": last_state,
            }
            for c in spec.containers
        ]
        desired = {
            "phase": "Running",
            "hostIP": f"10.255.0.{self.nodes.index(spec.node_name) + 1}",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": status.start_time.strftime("%Y-%m-%dT%H:%M:%SZ") if status.start_time else t,
            "conditions": conditions,
            "containerStatuses": containers,
        }
        return desired, restart

    def _record_backoff(self, pod: Any) -> None:
        meta = pod.metadata
        t = _now()
        for c in pod.spec.containers:
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                # A kubelet names its events <object>.<hex unix nanoseconds>.
                "metadata": {"name": f"{meta.name}.{time.time_ns():x}"},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta.name,
                    "namespace": meta.namespace,
                    "uid": meta.uid,
                    "fieldPath": f"spec.containers{{{c.name}}}",
                },
                "reason": "BackOff",
                "message": BACKOFF_MESSAGE,
                "type": "Warning",
                "source": {"component": "kubelet", "host": pod.spec.node_name},
                "firstTimestamp": t,
                "lastTimestamp": t,
                "count": 1,
            }
            try:
                self.core.create_namespaced_event(meta.namespace, event)
            except ApiException as e:
                log.warning("event for %s/%s: %s", meta.namespace, meta.name, e.reason)

    # -- loops ---------------------------------------------------------------------

    def resync(self) -> None:
        """Handle every pod once: repairs whatever a dropped watch event missed."""
        for pod in self.core.list_pod_for_all_namespaces().items:
            self.handle(pod)

    def watch_pods(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                listing = self.core.list_pod_for_all_namespaces()
                for pod in listing.items:
                    self.handle(pod)
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=60,
                )
                for event in stream:
                    if stop.is_set():
                        return
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self.handle(event["object"])
            except (ApiException, HTTPError) as e:
                # 410 Gone after a long watch, or the API server restarting: list again.
                log.info("pod watch restarts: %s", e)
                stop.wait(1.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fakelet", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of a system:masters user")
    parser.add_argument("--context", default=None, help="context to use (default: the current one)")
    parser.add_argument("--nodes", type=int, default=2, help="fake nodes to register (default 2)")
    parser.add_argument("--bind", action="store_true", help="bind unscheduled pods (no kube-scheduler runs)")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="seconds between node heartbeats")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fakelet %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    with config.new_client_from_config(config_file=args.kubeconfig, context=args.context) as api:
        fakelet = Fakelet(api, [f"fake-node-{i}" for i in range(args.nodes)], bind=args.bind)
        fakelet.register_nodes()
        fakelet.heartbeat()
        # Daemon: a watch blocks in a read until its timeout; the process must not wait for it.
        threading.Thread(target=fakelet.watch_pods, args=(stop,), name="pod-watch", daemon=True).start()
        beats = 0
        while not stop.wait(args.heartbeat):
            try:
                fakelet.heartbeat()
                beats += 1
                if beats % 3 == 0:
                    fakelet.resync()
            except (ApiException, HTTPError) as e:
                log.warning("heartbeat: %s", e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
