"""``octaves: auto``: as many pyramid levels as each photo's size asks, with the layer schedule stretched."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
from PIL import Image

from dreamer import dream
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.image.pyramid import auto_octaves, stretched
from dreamer.errors import ConfigError
from dreamer.photos.data import DreamDataModule
from tests.conftest import SAMPLE, make_photo, run_dream, tiny_model, tiny_octaves


def test_levels_follow_the_long_side():
    assert auto_octaves(300, 451, 1.4, 160) == 4  # the bundled photo: the quickstart's 4
    assert auto_octaves(2000, 3000, 1.4, 160) == 10  # a phone photo: the smallest level again ~160 px
    assert auto_octaves(100, 120, 1.4, 160) == 1


def test_a_schedule_stretches_from_the_first_entry_to_the_last():
    assert [stretched(octave, 2, 4) for octave in range(2)] == [0, 3]
    assert [stretched(octave, 7, 4) for octave in range(7)] == [0, 1, 1, 2, 2, 3, 3]
    assert [stretched(octave, 4, 4) for octave in range(4)] == [0, 1, 2, 3]
    assert [stretched(octave, 3, 1) for octave in range(3)] == [0, 0, 0]
    assert stretched(-1, 5, 4) == 3


class LayersSeen(pl.Callback):
    """Which layers each octave of each dream used."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[str, ...]]] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        position, objective = batch.position, pl_module.objective
        if batch.names and position.octave_start:
            entry = objective.schedule.layers[objective.entry(position.octave, position.levels)]
            self.seen.setdefault(batch.names[0], []).append(entry)


def test_each_photo_gets_its_own_number_of_levels_and_the_layers_stretch(tmp_path):
    make_photo(tmp_path / "in" / "small.png", size=(80, 60))  # 1 + round(log(80/48) / log(1.5)) = 2 levels
    make_photo(tmp_path / "in" / "large.png", size=(240, 180))  # 1 + round(log(240/48) / log(1.5)) = 5 levels
    model = tiny_model(layers=[4, 7, 11])
    seen = LayersSeen()
    data = DreamDataModule(images=str(tmp_path / "in"), output=str(tmp_path / "out"))
    octaves = tiny_octaves(count="auto", smallest=48, scale=1.5, iterations=2)
    trainer = run_dream(model, data, octaves, callbacks=[seen])
    assert trainer.global_step == (2 + 5) * 2
    assert seen.seen["small.png"] == [("features.4",), ("features.11",)]
    assert seen.seen["large.png"] == [
        ("features.4",),
        ("features.7",),
        ("features.7",),
        ("features.11",),
        ("features.11",),
    ]
    assert {p.name for p in (tmp_path / "out").glob("*.png")} == {"small.png", "large.png"}


def test_auto_gives_the_quickstart_its_own_dream_on_the_bundled_photo():
    """The preset says ``auto`` (smallest level 160 px): on its own photo that is the 4 levels it always had,
    the whole dream bit for bit."""
    fixed = dream(SAMPLE, "quickstart", octaves=4, enable_progress_bar=False)
    auto = dream(SAMPLE, "quickstart", enable_progress_bar=False)
    assert np.array_equal(np.asarray(fixed), np.asarray(auto))


def spectral_centroid(change: np.ndarray) -> float:
    """Mean spatial frequency (cycles per pixel) of a grey image's power: lower = larger forms."""
    power = np.abs(np.fft.rfft2(change - change.mean())) ** 2
    fy = np.fft.fftfreq(change.shape[0])[:, None]
    fx = np.fft.rfftfreq(change.shape[1])[None, :]
    return float((np.hypot(fy, fx) * power).sum() / power.sum())


@pytest.mark.slow  # two dreams of a photo twice the bundled one's size: about 20 s
def test_on_a_larger_photo_auto_keeps_the_forms_large(tmp_path):
    """The bundled photo at twice its size: 4 fixed levels dream finer texture than ``auto``'s 6."""
    big = tmp_path / "big.png"
    photo = Image.open(SAMPLE).convert("RGB")
    photo.resize((photo.width * 2, photo.height * 2), Image.Resampling.LANCZOS).save(big)
    original = np.asarray(Image.open(big).convert("L"), dtype=np.float32)
    centroids = {}
    for name, octaves in (("fixed", 4), ("auto", "auto")):
        result = dream(big, "quickstart", octaves=octaves, enable_progress_bar=False)
        centroids[name] = spectral_centroid(np.asarray(result.convert("L"), dtype=np.float32) - original)
    print(
        f"mean spatial frequency of the change: fixed 4 levels {centroids['fixed']:.4f}, auto {centroids['auto']:.4f}"
    )
    assert centroids["auto"] < 0.85 * centroids["fixed"]


def test_videos_ask_for_a_number_of_octaves(tmp_path):
    from dreamer.motion.zoom import ZoomDataModule

    zoom = ZoomDataModule(images=str(make_photo(tmp_path / "p.png")), output=str(tmp_path / "z"))
    with pytest.raises(ConfigError, match="octaves.count: 'auto' is for photos and atlases"):
        run_dream(tiny_model(), zoom, tiny_octaves(count="auto"))


def test_octaves_must_be_a_positive_number_or_auto():
    with pytest.raises(ConfigError, match="octaves.count must be a number >= 1 or 'auto'"):
        Octaves(count=0)
    assert Octaves(count="auto").count == "auto"
