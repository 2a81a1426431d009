"""Helpers for the staging-stack tests: a free block of ports and a stack that always comes down.

(Named like a test module so it sits with the stack's tests; it defines no tests.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ce_drill.stack import Ports, Stack
from ce_drill.stack.web import port_in_use

TEST_TIME_SCALE = 30.0
"""Rules, rollback phases and restarts run 30 times faster than the manual's clock."""


def free_ports() -> Ports:
    """A block of ports none of which is in use (tests never share the default block)."""
    rng = random.Random()
    for _ in range(200):
        ports = Ports.from_base(rng.randrange(20000, 60000, 10))
        if not any(port_in_use(port) for _, port in ports.items()):
            return ports
    raise RuntimeError("no free block of ports found")


@contextmanager
def running_stack(run_dir: Path, time_scale: float = TEST_TIME_SCALE) -> Iterator[Stack]:
    """A stack up in ``run_dir`` for the block's duration, brought down however the block ends."""
    stack = Stack(run_dir)
    try:
        stack.up(time_scale, ports=free_ports())
        yield stack
    finally:
        stack.down()


def test_each_stack_takes_free_ports_of_its_own() -> None:
    import socket

    first, second = Ports.free(), Ports.free()
    for ports in (first, second):
        numbers = [port for _, port in ports.items()]
        assert len(set(numbers)) == len(numbers)
        for port in numbers:  # nothing listens there: a component can bind it
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))
