"""Run one stand-in pod: ``python -m ce_drill.stack.standin SPEC.json [--listen-fd N]``.

With ``--listen-fd`` the pod serves on a socket its supervisor already
listens on, so a replacement pod takes over without a refused connection.
SIGTERM stops it gracefully: it stops accepting, finishes what it has, exits.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ce_drill.stack.standin.service import Coordinator, apply_rlimit, log, make_handler, out_of_memory
from ce_drill.stack.standin.spec import PodSpec
from ce_drill.stack.web import Server, serve

THREAD_STACK_BYTES = 512 * 1024
"""Request threads need little stack; a small one keeps the address space (RLIMIT_AS) for the heap."""


class _Graceful(Server):
    # In-flight requests finish before the process exits.
    daemon_threads = False
    block_on_close = True
    memory_limit_bytes = 0

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], MemoryError):
            out_of_memory(self.memory_limit_bytes)
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ce_drill.stack.standin")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--listen-fd", type=int, default=None)
    args = parser.parse_args(argv)
    spec = PodSpec.read(args.spec)
    threading.stack_size(THREAD_STACK_BYTES)

    def on_thread_error(args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, MemoryError):
            out_of_memory(spec.memory.limit_bytes)
        threading.__excepthook__(args)

    threading.excepthook = on_thread_error
    _Graceful.memory_limit_bytes = spec.memory.limit_bytes
    apply_rlimit(spec)
    app = Coordinator(spec)
    server = serve(spec.port, make_handler(app), args.listen_fd, _Graceful)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        app.stopping.set()
        # shutdown() waits for serve_forever(), which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=app.run_ticker, name="leak-ticker", daemon=True).start()
    threading.Thread(target=app.run_probe, name="db-probe", daemon=True).start()
    r = spec.release
    leak = f"leaks {r.leak_bytes_per_request} B/request, {r.leak_bytes_per_s} B/s, fails {r.error_ratio:.0%}"
    log(
        f"agent-coordinator {spec.version} pod {spec.name} serving on port {spec.port}; "
        f"memory limit {spec.memory.limit_bytes} B by {spec.memory.mechanism}; {leak}"
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except MemoryError:
        out_of_memory(spec.memory.limit_bytes)
    server.server_close()
    log(f"pod {spec.name} stopped")


if __name__ == "__main__":
    main()
