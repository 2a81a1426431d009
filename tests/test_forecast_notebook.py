"""The SLA forecast notebook runs from top to bottom; any cell that raises fails the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "sla-forecast.ipynb"


def test_the_notebook_runs_without_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # jupyter_core warns about its directory layout unless told which one to use.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    read: Any = nbformat.read  # untyped
    notebook = read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "a cell wrote to stderr (a warning?)"
    assert any("image/png" in o.get("data", {}) for o in outputs), "the charts cell should draw"
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "P(all availability targets met)" in text
    assert "api_gateway" in text
