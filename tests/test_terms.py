"""``engine.terms``: an objective's terms at one layer, checked against the network before any dreaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamer.engine.climb.terms import Terms
from dreamer.errors import ConfigError

ACTIVATION = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).view(2, 4, 3, 3) / 10  # [B, C, H, W]


def nothing(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
    raise AssertionError("no photo should be looked at")


def value(terms: Terms, channels=None, image_channels=None) -> torch.Tensor:
    return terms.value(ACTIVATION, "layer", channels, image_channels, nothing)


def test_deepdreams_objective_is_the_mean_square_of_the_layer():
    assert torch.allclose(value(Terms("mean_square", 0.0)), ACTIVATION.square().mean(dim=(1, 2, 3)))


def test_weighted_channel_terms_sum_their_channels_means():
    expected = ACTIVATION[:, 1].mean(dim=(1, 2)) - 0.5 * ACTIVATION[:, 3].mean(dim=(1, 2))
    assert torch.allclose(value(Terms("channel 1 - 0.5*channel 3", 0.0)), expected)


def test_diversity_lowers_the_objective_of_images_that_look_alike():
    plain, diverse = value(Terms("mean", 0.0)), value(Terms("mean", 1.0))
    assert (diverse < plain).all()


def test_a_caricature_climbs_towards_more_of_its_reference():
    terms = Terms("caricature", 0.0)
    terms.refer({"layer": ACTIVATION})
    same = value(terms)
    terms.refer({"layer": -ACTIVATION})
    assert (same > value(terms)).all()


def test_a_direction_file_must_have_one_number_per_channel(tmp_path):
    np.save(tmp_path / "v.npy", np.ones(5))
    terms = Terms(f"direction {tmp_path / 'v.npy'}", 0.0)
    with pytest.raises(ConfigError, match="has 5 numbers but layer has 4 channels"):
        terms.check({"layer": 4})


def test_a_channel_past_the_layers_width_is_refused():
    with pytest.raises(ConfigError, match="channel 9 is past layer's 4 channels"):
        Terms("channel 9", 0.0).check({"layer": 4})


def test_a_photos_direction_is_looked_at_once_and_kept(tmp_path):
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "red.png")
    looked = []

    def look(pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        looked.append(pixels.shape)
        return {"layer": ACTIVATION[:1]}

    terms = Terms(f"direction {tmp_path / 'red.png'}", 0.0)
    first = terms.value(ACTIVATION, "layer", None, None, look)
    second = terms.value(ACTIVATION, "layer", None, None, look)
    assert looked == [torch.Size([1, 3, 16, 16])]
    assert torch.equal(first, second)


def test_negative_diversity_is_refused():
    with pytest.raises(ConfigError, match="model.diversity must be >= 0"):
        Terms("mean", -1.0)
