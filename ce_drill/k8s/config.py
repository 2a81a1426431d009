"""The drill config: which staging cluster a drill may touch, and what it drills there.

One YAML file (``ce-drill.k8s.yaml``, see docs/k8s.md) names the kube context and
namespace, the agent-coordinator Deployment and its container, the stable and the
leaking release, the cluster's Prometheus, the database whose locks the
lock-contention drill takes, the allowlist of contexts and namespaces, the kill
switch and how the OOM drill drives a container over its memory limit.  It is read
once, at the boundary, into frozen models; every problem comes out as one line,
``FILE:LINE: field: what is wrong (got VALUE)``, and exit 2.

Secrets (the Prometheus bearer token, the database DSN) may be written inline, in
a file or in an environment variable; :func:`resolve_secrets` reads them and they
travel on only by environment, never on a command line or into an artefact.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from sim.errors import InputError
from sim.fields import Duration, Frozen
from sim.loader import Problem, line_of, load_model, read_yaml

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""A namespace, Deployment or container name (RFC 1123 label, as the API server checks it)."""

Name = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
Text = Annotated[str, StringConstraints(pattern=r"\S")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Kube(Frozen):
    context: Text | None = None
    """The kube context to drill; without it the kubeconfig's current context, re-read before every change."""
    kubeconfig: Text | None = None
    """The kubeconfig file; default ``$KUBECONFIG`` or ``~/.kube/config``."""


class Allow(Frozen):
    """The only contexts and namespaces a drill may act on."""

    contexts: tuple[Text, ...] = Field(min_length=1)
    namespaces: tuple[Name, ...] = Field(min_length=1)


class Target(Frozen):
    namespace: Name
    deployment: Name
    container: Name
    selector: Annotated[str, StringConstraints(pattern=r"^\S+=\S+(,\S+=\S+)*$")]
    """Label selector of the Deployment's pods, ``key=value[,key=value]``."""
    version_label: Text | None = None
    """Pod label that carries the release's version; without it the version is the image tag."""


class Release(Frozen):
    version: Text
    image: Text | None = None
    env: dict[EnvName, str] = Field(default_factory=dict)
    """Environment variables of the container for this release (set by name; others kept)."""
    annotations: dict[Text, str] = Field(default_factory=dict)
    """Pod template annotations of this release."""


class Releases(Frozen):
    stable: Release
    """The manual's stable version (what an emergency rollback restores)."""
    leaking: Release
    """The release with the self-optimisation leak of the post-mortem."""


class Prometheus(Frozen):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    token: Text | None = None
    token_file: Text | None = None
    token_env: EnvName | None = None
    ca_file: Text | None = None
    """CA bundle for an https URL signed by a private CA."""


class Database(Frozen):
    dsn: Text | None = None
    dsn_env: EnvName | None = None
    lock_table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    """The hot table the lock-contention drill holds ``ACCESS EXCLUSIVE`` on."""


class KillSwitch(Frozen):
    """Engaged when the file exists, or when the ConfigMap exists in the target namespace."""

    file: Text | None = None
    configmap: Name | None = None


class HttpTrigger(Frozen):
    """A fault endpoint of the container, called through the API server's pod proxy."""

    port: int = Field(ge=1, le=65535)
    path: Annotated[str, StringConstraints(pattern=r"^/\S*$")]
    body: dict[str, Any] = Field(default_factory=dict)
    """JSON posted to it, e.g. ``{"leak_bytes_per_s": 209715200}``."""


class Oom(Frozen):
    trigger: Literal["annotation", "http"]
    annotation: Text | None = None
    """``annotation``: set this pod annotation to a new value per kill (a fake kubelet's OOM stage)."""
    http: HttpTrigger | None = None


class DrillConfig(Frozen):
    kube: Kube = Kube()
    allow: Allow
    target: Target
    releases: Releases
    prometheus: Prometheus
    database: Database | None = None
    kill_switch: KillSwitch
    oom: Oom | None = None
    time_scale: float = Field(default=1.0, ge=1.0)
    """1 on a real cluster (its Prometheus runs the manual's own rules); more for a test
    cluster whose Prometheus runs rules generated with ``--time-scale``."""
    evaluation_interval: Duration | None = None
    """The cluster Prometheus's rule evaluation interval (wall time); default: the
    world's, compressed by the time scale as the rule generator does."""
    playbook: Text | None = None
    """The playbook to judge against; default: the bundled manual."""


def _problems(config: DrillConfig) -> Iterator[Problem]:
    one_of: list[tuple[tuple[str], Frozen, tuple[str, ...], bool]] = [
        (("prometheus",), config.prometheus, ("token", "token_file", "token_env"), False),
        (("kill_switch",), config.kill_switch, ("file", "configmap"), True),
    ]
    if config.database is not None:
        one_of.append((("database",), config.database, ("dsn", "dsn_env"), True))
    for loc, section, keys, required in one_of:
        given = [k for k in keys if getattr(section, k) is not None]
        if len(given) > 1:
            yield (*loc, given[1]), f"give only one of {', '.join(keys)}", given[1]
        elif required and not given:
            yield loc, f"needs one of {', '.join(keys)}", None
    stable, leaking = config.releases.stable, config.releases.leaking
    for name, release in (("stable", stable), ("leaking", leaking)):
        if config.target.version_label is None:
            tag = image_tag(release.image)
            if tag != release.version:
                yield (
                    ("releases", name, "image"),
                    f"its tag must be the version {release.version!r} (or set target.version_label)",
                    release.image,
                )
    if leaking.version == stable.version:
        yield ("releases", "leaking", "version"), "must differ from the stable version", leaking.version
    if config.target.version_label is not None and config.target.version_label in _selector(config.target):
        yield ("target", "version_label"), "must not be part of the selector (releases change it)", None
    oom = config.oom
    if oom is not None:
        if oom.trigger == "annotation" and oom.annotation is None:
            yield ("oom", "annotation"), "the annotation trigger needs the annotation to set", None
        if oom.trigger == "http" and oom.http is None:
            yield ("oom", "http"), "the http trigger needs port and path", None


def _selector(target: Target) -> dict[str, str]:
    return dict(part.split("=", 1) for part in target.selector.split(","))


def image_tag(image: str | None) -> str | None:
    """``registry:5000/app:5.1`` → ``5.1``; None without a tag (or with a digest only)."""
    if not image:
        return None
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


@dataclass(frozen=True)
class LoadedConfig:
    """A drill config and where it came from (for located refusals later on)."""

    path: Path
    config: DrillConfig

    def line(self, *loc: str | int) -> int | None:
        return line_of(read_yaml(self.path), loc)

    def refuse(self, loc: tuple[str | int, ...], message: str, value: str | None = None) -> InputError:
        """A refusal located at ``loc`` of the config file (exit 2)."""
        from sim.loader import format_loc

        return InputError(str(self.path), self.line(*loc), format_loc(loc), message, value)

    def resolve(self, relative: str) -> Path:
        """A path in the config, relative to the config file's directory."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.path.parent / path

    @property
    def selector(self) -> dict[str, str]:
        return _selector(self.config.target)


def load(path: Path) -> LoadedConfig:
    """Read and check a drill config; an InputError names the first problem."""
    return LoadedConfig(path, load_model(path, DrillConfig, _problems))


@dataclass(frozen=True)
class Secrets:
    """The drill's secrets, resolved; never written anywhere (see :mod:`ce_drill.k8s.redact`)."""

    prometheus_token: str | None
    dsn: str | None

    def values(self) -> list[str]:
        out = [v for v in (self.prometheus_token, self.dsn) if v]
        if self.dsn:
            out += dsn_secrets(self.dsn)
        return out


_URI_PASSWORD = re.compile(r"^[a-z]+://[^:/@]*:([^@]+)@")
_KV_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def dsn_secrets(dsn: str) -> list[str]:
    """The password inside a DSN (URI or ``key=value`` form), raw and as written."""
    found: list[str] = []
    match = _URI_PASSWORD.match(dsn)
    if match:
        from urllib.parse import unquote

        found += [match.group(1), unquote(match.group(1))]
    match = _KV_PASSWORD.search(dsn)
    if match:
        raw = match.group(1)
        found += [raw, raw.strip("'").replace("\\'", "'").replace("\\\\", "\\")]
    return [s for s in dict.fromkeys(found) if s]


def resolve_secrets(loaded: LoadedConfig, *, need_dsn: bool) -> Secrets:
    """Read the token and the DSN from where the config says they are."""
    config = loaded.config
    prom = config.prometheus
    token = prom.token
    if prom.token_file is not None:
        path = loaded.resolve(prom.token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise loaded.refuse(
                ("prometheus", "token_file"), f"cannot read it: {exc.strerror}", str(path)
            ) from None
    elif prom.token_env is not None:
        token = os.environ.get(prom.token_env)
        if not token:
            raise loaded.refuse(
                ("prometheus", "token_env"), "no such environment variable is set", prom.token_env
            )
    dsn: str | None = None
    if need_dsn:
        db = config.database
        if db is None:
            raise loaded.refuse((), "this drill needs a database section (dsn and lock_table)")
        dsn = db.dsn
        if db.dsn_env is not None:
            dsn = os.environ.get(db.dsn_env)
            if not dsn:
                raise loaded.refuse(
                    ("database", "dsn_env"), "no such environment variable is set", db.dsn_env
                )
    return Secrets(token, dsn)
