"""The little HTTP both sides of the stack speak: JSON handlers and a JSON client.

The stack's own processes (stand-in, router, webhook receiver, deployer) are
small stdlib servers; this is what they share, plus the client every part of
the stack uses to ask them and Prometheus how they are.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ce_drill.stack.config import HOST


class HttpError(Exception):
    """A request that got no useful answer: refused, timed out, or an error status."""

    def __init__(self, url: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status


def request_json(
    url: str, *, method: str = "GET", body: Any = None, timeout_s: float = 2.0
) -> tuple[int, Any]:
    """(status, decoded JSON or None) — an error status is returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
        exc.close()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HttpError(url, str(reason)) from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def get_json(url: str, timeout_s: float = 2.0) -> Any:
    """Decoded JSON of a 2xx answer; raises HttpError otherwise."""
    status, payload = request_json(url, timeout_s=timeout_s)
    if not 200 <= status < 300:
        raise HttpError(url, f"HTTP {status}", status)
    return payload


def get_text(url: str, timeout_s: float = 2.0) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return str(resp.read().decode())
    except (urllib.error.URLError, OSError) as exc:
        raise HttpError(url, str(getattr(exc, "reason", exc))) from None


class JsonHandler(BaseHTTPRequestHandler):
    """A handler that answers in JSON and logs nothing per request (the logs stay readable)."""

    server_version = "ce-drill"
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(
    port: int,
    handler: type[BaseHTTPRequestHandler],
    listen_fd: int | None = None,
    server_class: type[Server] = Server,
) -> Server:
    """A threading server on 127.0.0.1:``port``, or on an already listening socket handed to us."""
    if listen_fd is None:
        return server_class((HOST, port), handler)
    server = server_class((HOST, port), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=listen_fd)
    server.server_address = server.socket.getsockname()
    server.server_name, server.server_port = HOST, port
    return server


def port_in_use(port: int, host: str = HOST) -> bool:
    """Whether something already listens on ``host:port`` (or holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
