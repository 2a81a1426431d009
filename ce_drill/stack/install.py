"""Installing the stack's real components from Debian packages.

PostgreSQL (with contrib, for pg_stat_statements), Prometheus (with promtool),
Alertmanager (with amtool) and stress-ng, with ``--no-install-recommends``.
Packages already installed are skipped, so running it twice installs nothing
the second time.  Root runs apt-get directly, anyone else through sudo.

The packages try to start their services on install; without an init system
that is refused, harmlessly — the stack runs its own instances on its own ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from ce_drill.stack.startup import StackUsageError

PACKAGES = ("postgresql", "postgresql-contrib", "prometheus", "prometheus-alertmanager", "stress-ng")
"""What the stack runs; promtool comes with prometheus, amtool with prometheus-alertmanager."""

APT_TIMEOUT_S = 1800.0


class InstallError(Exception):
    """apt-get failed; its own message was shown."""


@dataclass(frozen=True)
class InstallResult:
    installed: tuple[str, ...]
    already: tuple[str, ...]


def is_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and "install ok installed" in done.stdout


def install(echo: Callable[[str], None] = print) -> InstallResult:
    """Install whatever of :data:`PACKAGES` is missing."""
    apt = shutil.which("apt-get")
    if apt is None or shutil.which("dpkg-query") is None:
        raise StackUsageError(
            f"no apt-get on this system; install {', '.join(PACKAGES)} (or their equivalents) yourself"
        )
    missing = [p for p in PACKAGES if not is_installed(p)]
    already = tuple(p for p in PACKAGES if p not in missing)
    if not missing:
        return InstallResult((), already)
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            raise StackUsageError(f"installing {', '.join(missing)} needs root, and sudo is not available")
        prefix = [sudo]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    echo(f"installing {' '.join(missing)}")
    for argv in (
        [*prefix, apt, "update", "-qq"],
        [*prefix, apt, "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(argv, env=env, check=False, timeout=APT_TIMEOUT_S)
        if done.returncode != 0:
            raise InstallError(f"{' '.join(argv)} failed with exit {done.returncode}")
    return InstallResult(tuple(missing), already)
