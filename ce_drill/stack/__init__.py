"""The local staging stack: real processes that play the manual's production system.

PostgreSQL, Prometheus (with the rules generated from the playbook),
Alertmanager (with the generated routes) and a webhook receiver that records
every notification; the agent-coordinator stand-in in two pods under a
memory limit; a router that splits traffic between them; a deployer that
rolls versions out through the manual's canary, blue-green and full-switch
phases and rolls them back when an auto-rollback trigger holds; and a load
generator that records every write the service acknowledged.

All of it runs on 127.0.0.1 under one run directory; see :class:`Stack`.

The names below are imported on first use: the stack's own processes are
modules of this package, and each should start without loading the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ce_drill.stack.config import Ports, StackConfig, default_run_dir
    from ce_drill.stack.stack import DownResult, Stack, StackStatus, UpResult
    from ce_drill.stack.startup import StackUsageError
    from ce_drill.stack.state import StackError
    from ce_drill.stack.timeline import Event, Timeline

__all__ = [
    "DownResult",
    "Event",
    "Ports",
    "Stack",
    "StackConfig",
    "StackError",
    "StackStatus",
    "StackUsageError",
    "Timeline",
    "UpResult",
    "default_run_dir",
]

_HOMES = {
    "config": ("Ports", "StackConfig", "default_run_dir"),
    "stack": ("DownResult", "Stack", "StackStatus", "UpResult"),
    "startup": ("StackUsageError",),
    "state": ("StackError",),
    "timeline": ("Event", "Timeline"),
}


def __getattr__(name: str) -> Any:
    for module, names in _HOMES.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
