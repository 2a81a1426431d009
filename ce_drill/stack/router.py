"""The service's front door: splits traffic between the blue and green pods by weight.

It plays the ingress (or service mesh) of a Kubernetes deployment.  The
deployer decides the weights — a tenth to the canary, all to green, back to
blue on rollback — and writes them to the run directory's ``routing.json``;
the router re-reads the file whenever it changes and spreads requests with
smooth weighted round-robin (nginx's), so a 10 % canary gets exactly every
tenth request rather than a random share.

A request whose pod refuses the connection never reached the service, so it
is retried once on another pod that has weight (as Envoy retries a connect
failure); an answer the pod gave, error or not, is passed through unchanged.

Run: ``python -m ce_drill.stack.router PORT ROUTING_JSON``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ce_drill.stack.config import HOST, UPSTREAM_TIMEOUT_S
from ce_drill.stack.web import JsonHandler, serve


@dataclass
class Upstream:
    slot: str
    port: int
    weight: float
    version: str
    current: float = 0.0
    served: int = 0


class Table:
    """The routing table, reloaded from its file when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self._upstreams: list[Upstream] = []
        self._lock = threading.Lock()

    def _reload(self) -> None:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if stamp == self._stamp:
            return
        data = json.loads(self.path.read_text())
        old = {u.slot: u for u in self._upstreams}
        self._upstreams = [
            Upstream(
                slot,
                int(entry["port"]),
                float(entry["weight"]),
                str(entry["version"]),
                served=old[slot].served if slot in old else 0,
            )
            for slot, entry in sorted(data["slots"].items())
        ]
        self._stamp = stamp

    def pick(self, exclude: frozenset[str] = frozenset()) -> Upstream | None:
        """The next upstream by smooth weighted round-robin, or None if none has weight."""
        with self._lock:
            self._reload()
            live = [u for u in self._upstreams if u.weight > 0 and u.slot not in exclude]
            if not live:
                return None
            total = sum(u.weight for u in live)
            for u in live:
                u.current += u.weight
            best = max(live, key=lambda u: u.current)
            best.current -= total
            best.served += 1
            return best

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            self._reload()
            return [
                {"slot": u.slot, "port": u.port, "weight": u.weight, "version": u.version, "served": u.served}
                for u in self._upstreams
            ]


def forward(
    upstream: Upstream, method: str, path: str, body: bytes | None, content_type: str | None
) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection(HOST, upstream.port, timeout=UPSTREAM_TIMEOUT_S)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type") or "application/octet-stream"
    finally:
        conn.close()


def make_handler(table: Table) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def _proxy(self) -> None:
            if self.path == "/-/router":
                self.send_json(200, {"upstreams": table.snapshot()})
                return
            if self.path == "/-/health":
                self.send_json(200, {"status": "ok"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            tried: frozenset[str] = frozenset()
            while (upstream := table.pick(tried)) is not None:
                try:
                    status, payload, ctype = forward(
                        upstream, self.command, self.path, body, self.headers.get("Content-Type")
                    )
                except ConnectionRefusedError:
                    tried |= {upstream.slot}
                    continue
                except TimeoutError:
                    self.send_json(504, {"error": f"pod {upstream.slot} did not answer in time"})
                    return
                except (http.client.HTTPException, OSError) as exc:
                    # The pod took the request and died with it (an OOM kill): the
                    # request may have been processed, so it must not be replayed.
                    self.send_json(502, {"error": f"pod {upstream.slot} failed: {exc}"})
                    return
                self.send_text(status, payload.decode("utf-8", "replace"), ctype)
                return
            self.send_json(503, {"error": "no pod available"})

        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            self._proxy()

        def do_POST(self) -> None:  # noqa: N802
            self._proxy()

        def do_DELETE(self) -> None:  # noqa: N802
            self._proxy()

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ce_drill.stack.router")
    parser.add_argument("port", type=int)
    parser.add_argument("routing", type=Path)
    args = parser.parse_args(argv)
    server = serve(args.port, make_handler(Table(args.routing)))

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
