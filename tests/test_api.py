import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer import dream
from tests.conftest import make_photo

FAST = dict(octaves=2, iterations=3, enable_progress_bar=False)


def test_dream_takes_a_path_and_returns_a_changed_pil_image(tmp_path):
    photo = make_photo(tmp_path / "p.png", size=(72, 56))
    result = dream(photo, "quickstart", **FAST)
    assert isinstance(result, Image.Image)
    assert result.size == (72, 56)
    assert np.abs(np.asarray(result, float) - np.asarray(Image.open(photo), float)).mean() > 1.0
    assert not list(tmp_path.glob("lightning_logs"))


def test_dream_takes_pil_and_tensor_and_same_settings_give_the_same_dream(tmp_path):
    photo = Image.open(make_photo(tmp_path / "p.png", size=(64, 64)))
    from_pil = dream(photo, **FAST)
    from_tensor = dream(torch.from_numpy(np.asarray(photo)).permute(2, 0, 1).float() / 255, **FAST)
    assert np.array_equal(np.asarray(from_pil), np.asarray(from_tensor))


def test_overrides_reach_the_model(tmp_path):
    photo = make_photo(tmp_path / "p.png", size=(64, 64))
    gentle = dream(photo, **FAST, lr=0.001)
    strong = dream(photo, **FAST, lr=0.05)
    original = np.asarray(Image.open(photo), float)
    assert np.abs(np.asarray(strong, float) - original).mean() > 2 * np.abs(np.asarray(gentle, float) - original).mean()


def test_unknown_preset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="--config nope: no such file or preset.*quickstart"):
        dream(make_photo(tmp_path / "p.png"), "nope")


def test_dream_in_a_notebook_is_silent(tmp_path, monkeypatch, capfd):
    """A Jupyter kernel always has arguments in ``sys.argv``; they are the kernel's, not dreamer's."""
    monkeypatch.setattr("sys.argv", ["ipykernel_launcher.py", "-f", "/run/user/kernel-1234.json"])
    photo = make_photo(tmp_path / "p.png", size=(64, 64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dream(photo, **FAST)
    messages = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    assert messages == []
    assert "warn" not in capfd.readouterr().err.lower()


def test_a_picture_in_memory_is_handed_to_the_run_never_written_and_dreams_as_the_same_file_would(
    tmp_path, monkeypatch
):
    import contextlib
    import tempfile

    photo = make_photo(tmp_path / "input.png", size=(64, 48))  # the name an in-memory picture dreams under
    from_file = dream(photo, **FAST)
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    monkeypatch.setattr(tempfile, "TemporaryDirectory", lambda **kwargs: contextlib.nullcontext(str(run_folder)))
    from_memory = dream(Image.open(photo), **FAST)
    assert np.array_equal(np.asarray(from_memory), np.asarray(from_file))
    assert sorted(path.name for path in run_folder.iterdir()) == ["dream.png", "dream.yaml"]  # no input written
