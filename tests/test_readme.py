"""The Python examples of the README and the documentation run as written, from a folder holding the
bundled ``assets/`` (marked slow: one dreams the quickstart preset at its full length twice)."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.conftest import REPO


@pytest.mark.slow
def test_the_documented_python_examples_run_as_written(tmp_path, monkeypatch, capsys):
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    blocks = [block for page in pages for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)]
    assert len(blocks) >= 2
    (tmp_path / "assets").symlink_to(REPO / "dreamer" / "assets")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Image.Image, "show", lambda self, *args, **kwargs: None)  # no viewer here
    for block in blocks:
        exec(compile(block, "docs", "exec"), {})
    assert (tmp_path / "cat.png").is_file()  # the first example's dream
    assert "['chelsea.jpg']" in capsys.readouterr().out  # the listener of the second heard the dream
