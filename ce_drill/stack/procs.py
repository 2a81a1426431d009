"""Process supervision: start a component detached, know it again later, stop it for sure.

Each component runs in its own session (so a signal to its process group
reaches its children too and a terminal's Ctrl-C does not), with stdout and
stderr in a log file of the run directory.  A pid alone is not an identity —
pids are reused — so a process is remembered as (pid, start time in clock
ticks since boot) and only signalled while both still match.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ce_drill.stack.config import STOP_TIMEOUT_S

_POLL_S = 0.02


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or ")".
    return raw[raw.rindex(")") + 2 :].split()


@dataclass(frozen=True)
class ProcRef:
    """A process as it was when recorded: pid plus start time, immune to pid reuse."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcRef | None:
        stat = _stat_fields(pid)
        return None if stat is None else cls(pid, int(stat[19]))

    def alive(self) -> bool:
        stat = _stat_fields(self.pid)
        # A zombie has exited; it only waits for its parent to collect the status.
        return stat is not None and int(stat[19]) == self.start_ticks and stat[0] not in ("Z", "X")

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> ProcRef:
        return cls(int(data["pid"]), int(data["start_ticks"]))


def spawn(argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> ProcRef:
    """Start ``argv`` detached in a new session, stdout and stderr appended to ``log``.

    posix_spawn rather than subprocess.Popen: the child is not meant to be
    waited for by whoever started it (``stack up`` exits; a test process lives
    on), and a Popen object dropped while its child runs is reported as a leak.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    program = argv[0] if Path(argv[0]).is_absolute() else shutil.which(argv[0])
    if program is None:
        raise FileNotFoundError(argv[0])
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    environ = dict(os.environ if env is None else env)
    pid = os.posix_spawn(program, [program, *argv[1:]], environ, file_actions=actions, setsid=True)
    ref = ProcRef.of(pid)
    if ref is None:  # it died before we could even look at it; keep the pid for the record
        return ProcRef(pid, -1)
    return ref


def reap(pid: int) -> None:
    """Collect the exit status of a child of ours, if it is one, so it leaves no zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def signal_group(ref: ProcRef, sig: signal.Signals) -> None:
    """Signal the process's group (it leads its own session) or, failing that, the process."""
    if not ref.alive():
        return
    try:
        os.killpg(ref.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(ref.pid, sig)


def wait_gone(refs: Iterable[ProcRef], timeout_s: float) -> list[ProcRef]:
    """Wait until every process has exited; returns those still alive at the deadline."""
    pending = list(refs)
    deadline = time.monotonic() + timeout_s
    while True:
        for ref in pending:
            reap(ref.pid)
        pending = [ref for ref in pending if ref.alive()]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(_POLL_S)


def stop(refs: Iterable[ProcRef], timeout_s: float = STOP_TIMEOUT_S) -> list[ProcRef]:
    """SIGTERM every process group, SIGKILL what is left after ``timeout_s``.

    Returns the processes that had to be killed.
    """
    targets = [ref for ref in refs if ref.alive()]
    for ref in targets:
        signal_group(ref, signal.SIGTERM)
    stubborn = wait_gone(targets, timeout_s)
    for ref in stubborn:
        signal_group(ref, signal.SIGKILL)
    wait_gone(stubborn, timeout_s)
    return stubborn


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree (children, grandchildren…)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat_fields(int(entry.name))
        if stat is not None:
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
