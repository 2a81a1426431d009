"""The webhook receiver: where the manual's notification channels end up in staging.

The generated Alertmanager routes give every channel of the manual
(``pagerduty_critical``, ``slack_alerts_channel``…) a webhook at
``/alerts/<channel>``.  This process records every notification it receives —
channel, firing or resolved, the alerts with their severity, and the whole
Alertmanager payload — with the moment it arrived, in the stack's timeline.
That record is what a drill's "detected within target" is judged on.

Run: ``python -m ce_drill.stack.receiver PORT TIMELINE``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ce_drill.stack import timeline
from ce_drill.stack.web import JsonHandler, serve

PATH_PREFIX = "/alerts"
SOURCE = "receiver"
NOTIFICATION = "notification"


def webhook_url(port: int) -> str:
    """URL template for the rule generator; ``{channel}`` becomes each receiver's name."""
    from ce_drill.rules.config import CHANNEL_PLACEHOLDER
    from ce_drill.stack.config import url

    return url(port, f"{PATH_PREFIX}/{CHANNEL_PLACEHOLDER}")


def summarise(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The part of each alert a drill judges on."""
    out = []
    for alert in payload.get("alerts") or []:
        labels = alert.get("labels") or {}
        out.append(
            {
                "alertname": labels.get("alertname"),
                "severity": labels.get("severity"),
                "status": alert.get("status"),
                "starts_at": alert.get("startsAt"),
                "ends_at": alert.get("endsAt"),
                "fingerprint": alert.get("fingerprint"),
            }
        )
    return out


def make_handler(path: Path) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            if self.path == "/health":
                self.send_json(200, {"status": "ok"})
            else:
                self.send_json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
            if not self.path.startswith(PATH_PREFIX + "/"):
                self.send_json(404, {"error": f"no route {self.path}"})
                return
            channel = self.path[len(PATH_PREFIX) + 1 :].strip("/")
            try:
                payload = self.read_json()
            except ValueError:
                self.send_json(400, {"error": "body is not JSON"})
                return
            if not isinstance(payload, dict):
                self.send_json(400, {"error": "expected an Alertmanager webhook payload"})
                return
            timeline.record(
                path,
                SOURCE,
                NOTIFICATION,
                channel=channel,
                receiver=payload.get("receiver"),
                status=payload.get("status"),
                alerts=summarise(payload),
                payload=payload,
            )
            self.send_json(200, {"recorded": True})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ce_drill.stack.receiver")
    parser.add_argument("port", type=int)
    parser.add_argument("timeline", type=Path)
    args = parser.parse_args(argv)
    server = serve(args.port, make_handler(args.timeline))

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
