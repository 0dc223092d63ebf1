"""The notebook in notebooks/, run top to bottom in a real Jupyter kernel on the real MNIST."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "gdcli-tour.ipynb"


def test_the_notebook_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[dev]' brings nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_runs_in_a_kernel(data_dir, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[dev]' brings nbformat")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[dev]' brings nbclient")
    pytest.importorskip("ipykernel", reason="pip install -e '.[dev]' brings ipykernel")
    monkeypatch.setenv("GDCLI_DATA_DIR", str(data_dir))  # the kernel inherits it
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = {i: c.outputs for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    kinds = [{k for o in out for k in o.get("data", {})} for out in outputs.values()]
    assert sum("image/png" in k for k in kinds) >= 7  # curves, weights grids, the drawn digit
    assert any("text/html" in k for k in kinds)  # the report, inline
    text = "".join(o.get("text", "") for out in outputs.values() for o in out)
    assert "best reads it as 7" in text
    report = next(o for out in outputs.values() for o in out if "text/html" in o.get("data", {}))
    assert "<iframe srcdoc=" in report["data"]["text/html"]
