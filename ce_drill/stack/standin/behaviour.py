"""How the agent coordinator behaves: the 5.1 leak, degradation under memory pressure, faults.

The post-mortem's root cause: the coordinator's self-optimisation logic, new
in 5.1, leaked memory until the system ran out and crashed.  The stand-in
plays it with a *self-optimisation cache* that keeps something from every
request it serves (and, optionally, a steady trickle per second) and never
evicts it.

As the process nears its memory limit it degrades the way memory-starved
services do — allocation pressure and garbage collection slow every request,
and agent coordinations time out and fail — before the kernel kills it at the
limit.  The shape is an assumption of the staging environment (linear from an
onset share of the limit), set in :mod:`ce_drill.stack.config`.

Drills can also inject faults directly: an error ratio, extra latency, or a
leak rate on a version that does not leak by itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ce_drill.stack import config as cfg

_CHUNK = 64 * 1024
"""Leaked memory is kept in chunks of this size so a per-second trickle can grow smoothly."""


@dataclass(frozen=True)
class Effect:
    """What memory pressure does to one request."""

    extra_latency_s: float
    failure_ratio: float
    degraded: bool


@dataclass(frozen=True)
class Degradation:
    onset: float = cfg.DEGRADE_ONSET
    max_latency_s: float = cfg.DEGRADE_MAX_LATENCY_S
    max_failure_ratio: float = cfg.DEGRADE_MAX_FAILURE_RATIO

    def effect(self, pressure: float) -> Effect:
        """``pressure`` is memory in use over the limit (0 … 1, or above under RLIMIT_AS)."""
        if pressure < self.onset:
            return Effect(0.0, 0.0, False)
        depth = min((pressure - self.onset) / (1.0 - self.onset), 1.0)
        return Effect(depth * self.max_latency_s, depth * self.max_failure_ratio, True)


@dataclass(frozen=True)
class Fault:
    """Faults injected from outside (``POST /-/fault``); all off by default."""

    error_ratio: float = 0.0
    latency_s: float = 0.0
    leak_bytes_per_request: int = 0
    leak_bytes_per_s: int = 0

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Fault:
        """Validate a fault request; raises ValueError naming the bad field."""
        known = {"error_ratio", "latency_s", "leak_bytes_per_request", "leak_bytes_per_s"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key}: expected a non-negative number (got {value!r})")
            if key == "error_ratio" and value > 1:
                raise ValueError(f"error_ratio: expected a ratio between 0 and 1 (got {value!r})")
        return cls(
            error_ratio=float(data.get("error_ratio", 0.0)),
            latency_s=float(data.get("latency_s", 0.0)),
            leak_bytes_per_request=int(data.get("leak_bytes_per_request", 0)),
            leak_bytes_per_s=int(data.get("leak_bytes_per_s", 0)),
        )

    def to_json(self) -> dict[str, float]:
        return {
            "error_ratio": self.error_ratio,
            "latency_s": self.latency_s,
            "leak_bytes_per_request": self.leak_bytes_per_request,
            "leak_bytes_per_s": self.leak_bytes_per_s,
        }


class SelfOptimisationCache:
    """The leak: keeps bytes from each request (and per second) and never lets go.

    Bytes are written, not just reserved, so they are really resident and
    charged to the pod's memory limit.
    """

    def __init__(self, per_request: int, per_s: int) -> None:
        self.per_request = per_request
        self.per_s = per_s
        self._kept: list[bytes] = []
        self._held = 0
        self._owed = 0.0
        self._lock = threading.Lock()
        self._last = time.monotonic()

    @property
    def held_bytes(self) -> int:
        return self._held

    def _keep(self, nbytes: int) -> None:
        while nbytes > 0:
            size = min(nbytes, _CHUNK)
            self._kept.append(b"\x5a" * size)
            self._held += size
            nbytes -= size

    def on_request(self, extra: int = 0) -> None:
        with self._lock:
            self._keep(self.per_request + extra)

    def tick(self, extra_per_s: int = 0) -> None:
        """Called regularly; leaks the per-second share for the time since the last call."""
        now = time.monotonic()
        with self._lock:
            self._owed += (self.per_s + extra_per_s) * (now - self._last)
            self._last = now
            whole = int(self._owed)
            self._owed -= whole
            self._keep(whole)
