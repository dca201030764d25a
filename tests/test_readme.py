"""The Python examples of the README and the documentation run as written, at a tiny size (one
octave of two steps: the examples' own settings otherwise), from a folder holding ``assets/``."""

from __future__ import annotations

import re

from PIL import Image

from tests.conftest import REPO


def test_the_documented_python_examples_run_as_written_at_a_tiny_size(tmp_path, monkeypatch, capsys):
    import dreamer.command.spec as spec
    import dreamer.engine.contract.octaves as octaves

    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    blocks = [block for page in pages for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)]
    assert len(blocks) >= 2
    tiny = {"count": 1, "iterations": 2}
    spec_of, walk = spec.spec_of, octaves.Octaves
    monkeypatch.setattr(
        spec, "spec_of", lambda *a, **k: spec_of(*a, **k).set({f"octaves.{k}": v for k, v in tiny.items()})
    )
    monkeypatch.setattr(octaves, "Octaves", lambda **settings: walk(**{**settings, **tiny}))
    (tmp_path / "assets").symlink_to(REPO / "dreamer" / "assets")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Image.Image, "show", lambda self, *args, **kwargs: None)  # no viewer here
    for block in blocks:
        exec(compile(block, "docs", "exec"), {})
    assert (tmp_path / "cat.png").is_file()  # the first example's dream
    assert "['chelsea.jpg']" in capsys.readouterr().out  # the listener of the second heard the dream
