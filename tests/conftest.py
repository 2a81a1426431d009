"""Shared fixtures: the shipped manual and playbook, and a way to write mutated copies."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sim.playbook import Playbook, bundled_path

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test touches a user's stack: ce-drill's home (``CE_DRILL_HOME``) is the session's own."""
    before = os.environ.get("CE_DRILL_HOME")
    os.environ["CE_DRILL_HOME"] = str(tmp_path_factory.mktemp("ce-drill-home"))
    yield
    if before is None:
        os.environ.pop("CE_DRILL_HOME", None)
    else:
        os.environ["CE_DRILL_HOME"] = before


MANUAL = ROOT / "docs" / "manual" / "claude-enhancer-5.1-emergency-response.md"


@pytest.fixture(scope="session")
def manual_lines() -> list[str]:
    return MANUAL.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def playbook() -> Playbook:
    return Playbook.default()


MutatePlaybook = Callable[[Callable[[Any], None]], Path]


@pytest.fixture
def mutated_playbook(tmp_path: Path) -> MutatePlaybook:
    """Write a copy of the bundled playbook after ``edit`` changed its YAML tree in place."""

    def write(edit: Callable[[Any], None]) -> Path:
        yaml = YAML(typ="rt")
        data = yaml.load(bundled_path().read_text(encoding="utf-8"))
        edit(data)
        out = io.StringIO()
        yaml.dump(data, out)
        path = tmp_path / "playbook.yaml"
        path.write_text(out.getvalue(), encoding="utf-8")
        return path

    return write
