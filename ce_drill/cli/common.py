"""What every command group shares: exit codes, the CLI state, output helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@dataclass
class CliState:
    debug: bool = False


def echo_json(payload: Any) -> None:
    """Stable, readable JSON on stdout (keys in the order the producer chose)."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
