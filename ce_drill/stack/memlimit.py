"""A memory limit for the stand-in, the way a pod has one.

In Kubernetes a pod's memory limit is a cgroup: past it the kernel's OOM
killer ends the container (exit 137, ``OOMKilled``) and the kubelet restarts
it.  The stack does the same with whatever the host offers, in this order:

* **cgroup v2** — a group with ``memory.max``; kills are counted in ``memory.events``;
* **cgroup v1** — a group in the memory hierarchy with ``memory.limit_in_bytes``;
  kills are counted in ``memory.oom_control`` (``oom_kill N``);
* **RLIMIT_AS** — no writable cgroup: the process caps its own address space and
  an allocation past the cap raises ``MemoryError`` instead of a kill.  The
  stand-in then exits on its own, which is the nearest honest imitation.

The stack's groups live under the cgroup ce-drill itself runs in (v1) or under
the nearest ancestor that delegates the memory controller (v2), named after
the stack, so they never touch anyone else's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mechanism = Literal["cgroup2", "cgroup1", "rlimit_as"]
MECHANISMS: dict[object, Mechanism] = {"cgroup2": "cgroup2", "cgroup1": "cgroup1", "rlimit_as": "rlimit_as"}

CGROUP_MOUNT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class Hierarchy:
    """Where this host lets us make memory-limited groups."""

    mechanism: Mechanism
    parent: Path | None
    """Directory the stack's group is created in; None for RLIMIT_AS."""

    def make_group(self, name: str) -> Path | None:
        """The stack's own group (no limit of its own); None when cgroups are unavailable."""
        if self.parent is None:
            return None
        group = self.parent / name
        group.mkdir(exist_ok=True)
        return group


def _self_paths(self_cgroup: Path) -> dict[str, str]:
    """Controller (or "" for the unified hierarchy) -> this process's cgroup path."""
    out: dict[str, str] = {}
    for line in self_cgroup.read_text().splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            out[controller] = parts[2]
    return out


def _words(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def _writable_dir(path: Path) -> bool:
    probe = path / f"ce-drill-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def _v2_parent(root: Path, own: str) -> Path | None:
    """The nearest ancestor of our own group whose children get the memory controller."""
    if "memory" not in _words(root / "cgroup.controllers"):
        return None
    own_dir = root / own.lstrip("/")
    # Our own group holds processes (us), and v2 forbids controllers for the
    # children of a group with processes; so start at its parent.
    candidates = [own_dir.parent, *own_dir.parent.parents] if own_dir != root else [root]
    for candidate in candidates:
        if not str(candidate).startswith(str(root)):
            break
        if "memory" in _words(candidate / "cgroup.subtree_control") and _writable_dir(candidate):
            return candidate
    return None


def detect(mount: Path = CGROUP_MOUNT, self_cgroup: Path = SELF_CGROUP) -> Hierarchy:
    """The best mechanism this host offers to this process."""
    try:
        paths = _self_paths(self_cgroup)
    except OSError:
        return Hierarchy("rlimit_as", None)
    unified = mount if (mount / "cgroup.controllers").exists() else mount / "unified"
    if "" in paths and (unified / "cgroup.controllers").exists():
        parent = _v2_parent(unified, paths[""])
        if parent is not None:
            return Hierarchy("cgroup2", parent)
    v1 = mount / "memory"
    if "memory" in paths and (v1 / "memory.limit_in_bytes").exists():
        own = v1 / paths["memory"].lstrip("/")
        if own.is_dir() and _writable_dir(own):
            return Hierarchy("cgroup1", own)
    return Hierarchy("rlimit_as", None)


def _procs(group: Path) -> list[int]:
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _read_counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True)
class MemoryLimit:
    """One pod's memory limit and how it is enforced."""

    mechanism: Mechanism
    limit_bytes: int
    cgroup: Path | None = None

    @classmethod
    def create(cls, mechanism: Mechanism, group: Path | None, name: str, limit_bytes: int) -> MemoryLimit:
        """A limited group ``name`` inside the stack's ``group`` (or an RLIMIT_AS limit)."""
        if mechanism == "rlimit_as" or group is None:
            return cls("rlimit_as", limit_bytes)
        path = group / name
        path.mkdir(exist_ok=True)
        if mechanism == "cgroup2":
            (path / "memory.max").write_text(str(limit_bytes))
            # Without this a v2 group swaps instead of being killed, where the host has swap.
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):  # only present with swap accounting
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        return cls(mechanism, limit_bytes, path)

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the group from its first instruction on.

        A shell joins the group, then execs the program, so every byte the
        program ever allocates is charged to the pod (joining later would
        leave the interpreter's start-up memory outside the limit).
        """
        if self.cgroup is None:
            return argv
        join = 'echo $$ > "$0" && exec "$@"'
        return ["/bin/sh", "-c", join, str(self.cgroup / "cgroup.procs"), *argv]

    def usage_bytes(self) -> int | None:
        """Memory charged to the group now; None without a cgroup."""
        if self.cgroup is None:
            return None
        name = "memory.current" if self.mechanism == "cgroup2" else "memory.usage_in_bytes"
        try:
            return int((self.cgroup / name).read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """How many times the kernel OOM-killed a process of this group."""
        if self.cgroup is None:
            return 0
        if self.mechanism == "cgroup2":
            return _read_counter(self.cgroup / "memory.events", "oom_kill")
        return _read_counter(self.cgroup / "memory.oom_control", "oom_kill")

    def procs(self) -> list[int]:
        return [] if self.cgroup is None else _procs(self.cgroup)

    def to_json(self) -> dict[str, object]:
        return {
            "mechanism": self.mechanism,
            "limit_bytes": self.limit_bytes,
            "cgroup": None if self.cgroup is None else str(self.cgroup),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> MemoryLimit:
        mechanism = data.get("mechanism")
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown memory-limit mechanism {mechanism!r}")
        cgroup = data.get("cgroup")
        return cls(
            MECHANISMS[mechanism],
            int(str(data["limit_bytes"])),
            Path(str(cgroup)) if cgroup else None,
        )


def remove_group(group: Path, timeout_s: float = 5.0) -> list[int]:
    """Kill whatever still runs in ``group`` and its children, then remove them all.

    Returns the pids that had to be killed.
    """
    if not group.is_dir():
        return []
    killed: list[int] = []
    dirs = sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for path in [*dirs, group]:
        for pid in _procs(path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + timeout_s
    for path in [*dirs, group]:
        while True:
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                # A killed process leaves its group only once the kernel has reaped it.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)
    return killed
