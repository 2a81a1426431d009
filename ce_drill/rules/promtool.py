"""Run Prometheus's and Alertmanager's own checkers over generated files.

``promtool check rules`` proves the rule files load, ``promtool test rules``
runs the generated unit tests, and ``amtool check-config`` proves the routing
loads.  Their verdict and their messages are passed through unchanged: the
point is to be told what Prometheus itself thinks.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ce_drill.rules.generate import ALERTMANAGER_FILE, RULE_FILES, TEST_FILES

INSTALL_HINT = (
    "install them with `apt-get install --no-install-recommends prometheus prometheus-alertmanager` "
    "or `ce-drill stack install`"
)
TIMEOUT_S = 300.0
"""A promtool run over these files takes about a second; this only stops a hung one."""


class ToolMissingError(Exception):
    """promtool or amtool is not on PATH."""

    def __init__(self, tools: Sequence[str]) -> None:
        self.tools = tuple(tools)
        super().__init__(f"{' and '.join(self.tools)} not found on PATH; {INSTALL_HINT}")


@dataclass(frozen=True)
class ToolRun:
    title: str
    command: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def locate(*tools: str) -> dict[str, str]:
    """Paths of ``tools``; raises ToolMissingError naming every one that is absent."""
    found = {tool: shutil.which(tool) for tool in tools}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        raise ToolMissingError(missing)
    return {tool: path for tool, path in found.items() if path is not None}


def run(title: str, command: Sequence[str], cwd: Path) -> ToolRun:
    done = subprocess.run(
        list(command),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return ToolRun(title, tuple(command), done.returncode, (done.stdout + done.stderr).strip())


def check_generated(out_dir: Path) -> list[ToolRun]:
    """Check rules, run their tests and check the Alertmanager config in ``out_dir``.

    Tests run only once the rules load, since a rule file promtool cannot read
    would fail every test with the same message.
    """
    tools = locate("promtool", "amtool")
    promtool, amtool = tools["promtool"], tools["amtool"]
    results = [run("promtool check rules", [promtool, "check", "rules", *RULE_FILES], out_dir)]
    if results[0].ok:
        results.append(run("promtool test rules", [promtool, "test", "rules", *TEST_FILES], out_dir))
    results.append(run("amtool check-config", [amtool, "check-config", ALERTMANAGER_FILE], out_dir))
    return results
