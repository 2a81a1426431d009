"""SIGTERM is Ctrl-C: a cancelled CI job or a ``kill`` stops a drill the way an operator's Ctrl-C does.

Python turns SIGINT into ``KeyboardInterrupt`` but dies on SIGTERM without
running any ``finally``, so a drill killed while its stack was starting, while
it waited for a quiet stack or while it was judged would skip its cleanup and
exit -15.  Inside :func:`sigterm_interrupts` both signals take the same path.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` (main thread only; elsewhere signals cannot be handled)."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
