"""The kubeconfig, the allowlist, and the guard in front of every change a drill makes.

A drill acts on exactly one kube context and one namespace, both on the drill
config's allowlist.  The context is the one the config names, or else the
kubeconfig's current context; either way it is resolved when the drill starts
(:func:`establish`) and *again before every mutating call* (:class:`Guard`):
someone running ``kubectl config use-context prod`` mid-drill, or editing the
kubeconfig so that the context points at another API server, makes the next
change refuse instead of landing on the wrong cluster.  Reads use the context
pinned at the start, so they never follow a switch either.

The API client is always built from the kubeconfig with its CA: TLS is verified.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ce_drill.k8s.config import LoadedConfig

Loc = tuple[str | int, ...]


class TargetRefused(Exception):  # noqa: N818 - a refusal, not an error
    """A drill was about to act outside its allowlist (or on a target that changed under it)."""

    def __init__(self, loc: Loc, message: str, value: str | None = None) -> None:
        super().__init__(message)
        self.loc, self.message, self.value = loc, message, value

    def to_json(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "message": self.message, "value": self.value}


@dataclass(frozen=True)
class Resolved:
    """A kube context as the kubeconfig says it is now."""

    context: str
    server: str
    user: str


def kubeconfig_path(loaded: LoadedConfig) -> Path:
    """The drill config's kubeconfig, else ``$KUBECONFIG`` (its first file), else ``~/.kube/config``."""
    if loaded.config.kube.kubeconfig is not None:
        return loaded.resolve(loaded.config.kube.kubeconfig)
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), None)
    return Path(first or "~/.kube/config").expanduser()


def read_kubeconfig(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise TargetRefused(("kube", "kubeconfig"), f"cannot read the kubeconfig: {exc}", str(path)) from None
    if not isinstance(data, dict):
        raise TargetRefused(("kube", "kubeconfig"), "the kubeconfig is not a mapping", str(path))
    return data


def _named(data: dict[str, Any], section: str, name: str) -> dict[str, Any] | None:
    for item in data.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(section[:-1])
            return body if isinstance(body, dict) else {}
    return None


def resolve(path: Path, pinned: str | None) -> Resolved:
    """The context ``pinned`` (or the current context) of the kubeconfig at ``path``, read now."""
    data = read_kubeconfig(path)
    name = pinned or data.get("current-context")
    if not name:
        raise TargetRefused(("kube", "context"), "no context given and the kubeconfig has no current context")
    context = _named(data, "contexts", str(name))
    if context is None:
        raise TargetRefused(("kube", "context"), f"the kubeconfig {path} has no such context", str(name))
    cluster = _named(data, "clusters", str(context.get("cluster")))
    server = str((cluster or {}).get("server") or "")
    if not server:
        raise TargetRefused(("kube", "context"), "the context's cluster has no server", str(name))
    return Resolved(str(name), server, str(context.get("user") or ""))


def user_credentials(path: Path, context: str) -> list[str]:
    """The secrets of a context's user in the kubeconfig (tokens, passwords, key data): never written."""
    try:
        data = read_kubeconfig(path)
    except TargetRefused:
        return []
    ctx = _named(data, "contexts", context) or {}
    user = _named(data, "users", str(ctx.get("user"))) or {}
    keys = ("token", "password", "client-key-data", "client-certificate-data")
    return [str(user[k]) for k in keys if user.get(k)]


@dataclass(frozen=True)
class KubeTarget:
    """Where a drill acts, fixed when it starts."""

    kubeconfig: Path
    context: str
    server: str
    pinned: bool
    """The drill config names the context (else the kubeconfig's current context is used)."""
    namespace: str
    allowed_contexts: tuple[str, ...]
    allowed_namespaces: tuple[str, ...]

    def check(self, now: Resolved) -> None:
        """Refuse unless ``now`` is still the context checked at the start, and allowed."""
        context_loc: Loc = ("kube", "context") if self.pinned else ("allow", "contexts")
        if now.context not in self.allowed_contexts:
            raise TargetRefused(
                context_loc,
                f"kube context {now.context!r} is not on the allowlist ({', '.join(self.allowed_contexts)})",
                now.context,
            )
        if now.context != self.context:
            raise TargetRefused(
                context_loc,
                f"the kube context changed during the drill (from {self.context!r}); refusing to act",
                now.context,
            )
        if now.server != self.server:
            raise TargetRefused(
                context_loc,
                f"context {now.context!r} now points at another API server (was {self.server}); refusing to act",
                now.server,
            )
        if self.namespace not in self.allowed_namespaces:
            raise TargetRefused(
                ("target", "namespace"),
                f"namespace {self.namespace!r} is not on the allowlist ({', '.join(self.allowed_namespaces)})",
                self.namespace,
            )

    @contextmanager
    def api(self) -> Iterator[client.ApiClient]:
        """A client of the context pinned at the start (reads; TLS verified with the kubeconfig's CA)."""
        # persist_config=False: a drill never writes to the user's kubeconfig (token refreshes included).
        api = config.new_client_from_config(
            config_file=str(self.kubeconfig), context=self.context, persist_config=False
        )
        try:
            yield api
        finally:
            api.close()

    def to_json(self) -> dict[str, Any]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "server": self.server,
            "pinned": self.pinned,
            "namespace": self.namespace,
            "allowed_contexts": list(self.allowed_contexts),
            "allowed_namespaces": list(self.allowed_namespaces),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KubeTarget:
        return cls(
            Path(data["kubeconfig"]),
            str(data["context"]),
            str(data["server"]),
            bool(data["pinned"]),
            str(data["namespace"]),
            tuple(data["allowed_contexts"]),
            tuple(data["allowed_namespaces"]),
        )


def establish(loaded: LoadedConfig) -> KubeTarget:
    """Resolve the drill's context and check it and the namespace against the allowlist."""
    cfg = loaded.config
    path = kubeconfig_path(loaded)
    now = resolve(path, cfg.kube.context)
    target = KubeTarget(
        kubeconfig=path,
        context=now.context,
        server=now.server,
        pinned=cfg.kube.context is not None,
        namespace=cfg.target.namespace,
        allowed_contexts=cfg.allow.contexts,
        allowed_namespaces=cfg.allow.namespaces,
    )
    target.check(now)
    return target


class Guard:
    """Every change goes through here: allowlist and context re-checked from the kubeconfig, now."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target

    @contextmanager
    def change(self) -> Iterator[client.ApiClient]:
        """A client for one mutating call, after the kubeconfig was re-read and re-checked."""
        target = self.target
        now = resolve(target.kubeconfig, target.context if target.pinned else None)
        target.check(now)
        with target.api() as api:
            # The client read the kubeconfig once more: it must still point where the check looked.
            if str(api.configuration.host).rstrip("/") != now.server.rstrip("/"):
                raise TargetRefused(
                    ("kube", "context"),
                    "the kubeconfig changed while the drill checked it; refusing to act",
                    str(api.configuration.host),
                )
            yield api
