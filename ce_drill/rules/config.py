"""Where generated Alertmanager configuration sends notifications by default.

The local staging stack runs a webhook receiver on 127.0.0.1 that records every
notification (which receiver — that is, which of the manual's channels — got
which alert, firing or resolved) so a drill can check routing and timing.  The
stack imports these constants to listen where the generated routes point.
"""

from __future__ import annotations

WEBHOOK_HOST = "127.0.0.1"
WEBHOOK_PORT = 19099
"""Chosen away from Prometheus's (9090) and Alertmanager's (9093) defaults."""
WEBHOOK_PATH = "/alerts"
DEFAULT_WEBHOOK_URL = f"http://{WEBHOOK_HOST}:{WEBHOOK_PORT}{WEBHOOK_PATH}"

CHANNEL_PLACEHOLDER = "{channel}"
"""Written in a webhook URL, replaced by the receiver's channel name (one URL per channel)."""
