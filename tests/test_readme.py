"""The README's Python examples run as written, from a folder holding the bundled ``assets/``
(marked slow: the first dreams the quickstart preset at its full length twice)."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.conftest import REPO


@pytest.mark.slow
def test_the_readmes_python_examples_run_as_written(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    (tmp_path / "assets").symlink_to(REPO / "dreamer" / "assets")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Image.Image, "show", lambda self, *args, **kwargs: None)  # no viewer here
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "cat.png").is_file()  # the first example's dream
    assert "['chelsea.jpg']" in capsys.readouterr().out  # the listener of the second heard the dream
