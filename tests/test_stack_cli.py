"""``ce-drill stack`` at its edges: bad input and unprepared hosts give one line and exit 2.

None of these starts a stack: each is refused before anything runs.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from ce_drill.cli import cli
from ce_drill.stack import install as install_module
from ce_drill.stack.config import HOST

from .test_stack_support import free_ports


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _fake_tool(bin_dir: Path, name: str, calls: Path) -> None:
    """A stand-in for ``name`` on PATH that records its arguments and succeeds."""
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_a_taken_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    ports = free_ports()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((HOST, ports.alertmanager))
        squatter.listen()
        code, _, err = _run(
            "stack", "up", "--port-base", str(ports.prometheus), "--run-dir", str(tmp_path / "run")
        )
    assert code == 2
    assert err.strip().splitlines() == [
        f"ce-drill: port {ports.alertmanager} (alertmanager) on {HOST} is already in use by another process"
    ]
    assert not (tmp_path / "run" / "state.json").exists()


@pytest.mark.parametrize("scale", ["0.5", "0", "-3", "nan", "inf", "fast"])
def test_a_time_scale_below_one_is_refused(tmp_path: Path, scale: str) -> None:
    code, _, err = _run("stack", "up", "--time-scale", scale, "--run-dir", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [f"ce-drill: --time-scale: expected a number >= 1 (got {scale})"]
    assert not (tmp_path / "state.json").exists()


def test_install_without_apt_get_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code, _, err = _run("stack", "install")
    assert code == 2
    assert err.strip().startswith("ce-drill: no apt-get on this system; install postgresql")
    assert len(err.strip().splitlines()) == 1


def test_install_when_everything_is_installed_calls_no_apt_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    _fake_tool(tmp_path / "bin", "apt-get", calls)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, out, _ = _run("stack", "install")
    assert code == 0, "this host has the stack's packages (scripts/setup.sh installs them)"
    assert "already installed" in out
    assert not calls.exists()


def test_install_fetches_only_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls"
    _fake_tool(tmp_path / "bin", "apt-get", calls)
    _fake_tool(tmp_path / "bin", "sudo", calls)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(install_module, "is_installed", lambda package: package != "stress-ng")
    code, _, _ = _run("stack", "install")
    assert code == 0
    lines = calls.read_text().splitlines()
    assert lines[0] == "apt-get update -qq"
    assert lines[1] == "apt-get install -y -qq --no-install-recommends stress-ng"
    # not root: the same through sudo
    calls.unlink()
    monkeypatch.setattr("ce_drill.stack.install.os.geteuid", lambda: 1000)
    code, _, _ = _run("stack", "install")
    assert code == 0
    first = calls.read_text().splitlines()[0]
    assert first.startswith("sudo ")
    assert first.endswith("apt-get update -qq")


def test_rollback_needs_a_confirmation_when_not_interactive(tmp_path: Path) -> None:
    code, _, err = _run("stack", "rollback", "-r", "error_rate_high", "--run-dir", str(tmp_path))
    assert code == 2
    assert err.strip() == "ce-drill: refusing to roll back without confirmation; pass --force or --yes"
    code, _, err = _run("stack", "rollback", "-r", "x", "-f", "-y", "--run-dir", str(tmp_path))
    assert code == 2
    assert "choose one" in err


def test_status_without_a_stack_fails_and_down_has_nothing_to_do(tmp_path: Path) -> None:
    code, out, _ = _run("stack", "status", "--run-dir", str(tmp_path))
    assert code == 1
    assert "no stack is up" in out
    code, out, _ = _run("stack", "down", "--run-dir", str(tmp_path))
    assert code == 0
    assert "nothing was running" in out
    code, _, err = _run("stack", "rollback", "-r", "x", "-f", "--run-dir", str(tmp_path))
    assert code == 1
    assert "no stack is up" in err
