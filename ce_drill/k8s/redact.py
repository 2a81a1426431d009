"""Secrets never written: the Prometheus token, the database password, the kubeconfig's credentials.

They reach the experiment's process by environment only (:data:`ENV_TOKEN`,
:data:`ENV_DSN`), never as ``chaos run --var`` or another argument; and
whatever a drill writes — timeline events, journal, Chaos Toolkit's log,
evidence, scorecard, reports, messages — passes through a :class:`Redactor`
first, which replaces every secret it knows with :data:`MASK`.  After the drill
every file of its output directory is swept once more, so a secret that slipped
into a third-party log line (an exception's message) is gone too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV_TOKEN = "CE_DRILL_PROMETHEUS_TOKEN"
ENV_DSN = "CE_DRILL_DSN"
MASK = "***"
MIN_SECRET_LEN = 4
"""Shorter values are not masked: masking "a" would shred every text and hide nothing."""


class Redactor:
    def __init__(self, secrets: Iterable[str | None]) -> None:
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        # As JSON writes them, too: a quote or backslash in a password is escaped there.
        found |= {json.dumps(s, ensure_ascii=True)[1:-1] for s in found}
        found |= {json.dumps(s, ensure_ascii=False)[1:-1] for s in found}
        # Longest first: a DSN goes as a whole before its password is looked for inside it.
        self.secrets = sorted(found, key=len, reverse=True)

    @classmethod
    def from_env(cls, extra: Iterable[str] = ()) -> Redactor:
        """The secrets the runner handed an experiment's process (and their parts)."""
        from ce_drill.k8s.config import dsn_secrets

        dsn = os.environ.get(ENV_DSN)
        return cls([os.environ.get(ENV_TOKEN), dsn, *(dsn_secrets(dsn) if dsn else []), *extra])

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """``value`` (JSON-like) with every secret masked in every string, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def sweep(self, directory: Path) -> list[Path]:
        """Mask secrets in every file under ``directory``; returns the files that held one."""
        if not self.secrets:
            return []
        needles = [s.encode() for s in self.secrets]
        changed = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            if any(n in raw for n in needles):
                for needle in needles:
                    raw = raw.replace(needle, MASK.encode())
                path.write_bytes(raw)
                changed.append(path)
        return changed
