"""Which drill holds a stack, and cleaning up after one that died.

A running drill claims its stack with ``drill.json`` in the stack's run
directory: the runner's process and the ``chaos run`` process it started (in
a session of its own, so it outlives a runner that is SIGKILLed).  The next
``ce-drill run`` or ``ce-drill stack down`` reads the claim: a live runner
means the stack is busy; a dead one left its experiment and faults behind,
and they are removed — the orphaned experiment stopped, the drill's lock
sessions terminated, pod faults cleared, the stable version rolled back —
before anything else happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from ce_drill.stack import Stack
from ce_drill.stack.procs import ProcRef, stop
from ce_drill.stack.startup import StackUsageError

CLAIM_FILE = "drill.json"


@dataclass(frozen=True)
class Claim:
    scenario: str
    runner: ProcRef
    chaos: ProcRef | None

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "runner": self.runner.to_json(),
            "chaos": None if self.chaos is None else self.chaos.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Claim:
        chaos = data.get("chaos")
        return cls(
            str(data["scenario"]),
            ProcRef.from_json(data["runner"]),  # type: ignore[arg-type]
            None if chaos is None else ProcRef.from_json(chaos),  # type: ignore[arg-type]
        )


def _path(stack: Stack) -> Path:
    return stack.run_dir / CLAIM_FILE


def read(stack: Stack) -> Claim | None:
    try:
        return Claim.from_json(json.loads(_path(stack).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(stack: Stack, claim: Claim) -> None:
    tmp = _path(stack).with_suffix(".tmp")
    tmp.write_text(json.dumps(claim.to_json()), encoding="utf-8")
    tmp.replace(_path(stack))


def release(stack: Stack) -> None:
    _path(stack).unlink(missing_ok=True)


def recover(stack: Stack) -> str | None:
    """Refuse a stack a live drill holds; clean up after a dead one.  Returns what was cleaned, if anything."""
    claim = read(stack)
    if claim is None:
        return None
    if claim.runner.pid != os.getpid() and claim.runner.alive():
        raise StackUsageError(
            f"a {claim.scenario} drill (pid {claim.runner.pid}) is running on the stack in {stack.run_dir}; "
            "wait for it or stop it with Ctrl-C"
        )
    if claim.chaos is not None and claim.chaos.alive():
        # Its rollbacks would run at its end, minutes away; the faults go now instead.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(claim.chaos.pid, signal.SIGKILL)
        stop([claim.chaos])
    from ce_drill.drill.runner import remove_faults

    remove_faults(stack)
    release(stack)
    return f"removed what a dead {claim.scenario} drill (pid {claim.runner.pid}) left on the stack"
