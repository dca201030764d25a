"""The tutorial notebook (``examples/tutorial.ipynb``) runs, every cell, as a reader runs it: executed
by nbclient in a folder of its own, shortened only by its own variable (``DREAMER_TUTORIAL_STEPS``)."""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import REPO

nbclient = pytest.importorskip("nbclient", reason="the test extra runs the notebook: pip install -e '.[test]'")
nbformat = pytest.importorskip("nbformat")


def test_the_tutorial_runs_every_cell_and_shows_what_it_made(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMER_TUTORIAL_STEPS", "2")
    notebook = nbformat.read(REPO / "examples" / "tutorial.ipynb", as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    print(f"the tutorial ran in {time.perf_counter() - started:.0f} s")
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    shown = " ".join(str(output.get("data", {}).get("text/html", "")) for output in outputs)
    pictures = [output for output in outputs if "image/jpeg" in output.get("data", {})]
    assert len(pictures) >= 3  # the dream, the layers side by side, the sweep sheet
    assert shown.count("<img") >= 3  # the atlas sheet, the class dreams, the tiny network's classes
    assert "<video" in shown  # the zoom plays inline
    assert (tmp_path / "zoom" / "chelsea.mp4").is_file()
    assert "head" in "".join(str(output.get("text", "")) for output in outputs)  # dreamer layers listed TinyNet's
    size = sum(len(str(output)) for output in outputs)
    assert size < 3_000_000, f"the executed notebook's outputs weigh {size} bytes"
    assert os.environ["DREAMER_TUTORIAL_STEPS"] == "2"
