"""Fixtures for the ``k8s`` tests: one real control plane for the whole pytest run.

The binaries come from ``CE_DRILL_K8S_BIN`` (``scripts/test.sh`` sets it) or, when that is
unset, from ``scripts/build-k8s.sh`` (a no-op once its cache exists, a ~13 min build
before).  Missing binaries fail the tests: a k8s test that skips proves nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.k8s.cluster import BUILD_SCRIPT, ControlPlane, missing_binaries


@pytest.fixture(scope="session")
def k8s_bin() -> Path:
    """The directory holding kube-apiserver, kube-controller-manager and kube-scheduler."""
    env = os.environ.get("CE_DRILL_K8S_BIN")
    if env:
        bin_dir = Path(env)
    else:
        built = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
        if built.returncode != 0 or not built.stdout.strip():
            pytest.fail(f"bash {BUILD_SCRIPT} failed with exit code {built.returncode}", pytrace=False)
        bin_dir = Path(built.stdout.strip().splitlines()[-1])
    missing = missing_binaries(bin_dir)
    if missing:
        pytest.fail(f"{bin_dir}: missing {', '.join(missing)}", pytrace=False)
    return bin_dir


@pytest.fixture(scope="session")
def k8s_cluster(k8s_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A running control plane with 2 Ready fake nodes, shared by all tests of the run."""
    plane = ControlPlane(k8s_bin, tmp_path_factory.mktemp("k8s"))
    with plane:
        yield plane


@pytest.fixture
def k8s_api(k8s_cluster: ControlPlane) -> Iterator[client.ApiClient]:
    """An admin ApiClient of the shared cluster."""
    with k8s_cluster.api_client() as api:
        yield api


@pytest.fixture
def k8s_namespace(k8s_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted after it (tests share one cluster)."""
    name = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:50].rstrip("-")
    core = client.CoreV1Api(k8s_api)
    core.create_namespace({"metadata": {"name": name}})
    # The ServiceAccount admission refuses pods until the controller made "default" here.
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            pytest.fail(f"no default ServiceAccount in namespace {name} after 30 s")
        time.sleep(0.1)
    yield name
    # The namespace controller deletes its content in the background.
    core.delete_namespace(name)


@pytest.fixture
def chaosk8s_env(k8s_cluster: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> ControlPlane:
    """Point chaosk8s at the shared cluster, as ``chaos run`` would see it in its environment.

    chaosk8s checks ``KUBECONFIG`` at call time but lets the kubernetes client load the
    file, and the client fixed its default path when it was imported: both must change.
    """
    monkeypatch.setenv("KUBECONFIG", str(k8s_cluster.kubeconfig))
    monkeypatch.setenv("KUBERNETES_CONTEXT", k8s_cluster.context)
    monkeypatch.setattr(config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(k8s_cluster.kubeconfig))
    return k8s_cluster
