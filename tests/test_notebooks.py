"""The notebooks run top to bottom on a fresh checkout (headless), so they never rot."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["01_corpus_exploration.ipynb", "02_eval_and_benchmark.ipynb"])
def test_notebook_runs(name, real_settings, monkeypatch):
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    # Point the notebook at the session's index so it does not rebuild one of its own.
    notebook.cells.insert(
        1, nbformat.v4.new_code_cell(f"import os\nos.environ['KEFU_MENTOR_INDEX'] = {str(real_settings.index_dir)!r}\n")
    )
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    images = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, "the notebook should draw its charts"
