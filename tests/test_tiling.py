"""Tiled gradients: the same gradient as the whole image, in memory bounded by the tile."""

import numpy as np
import torch
from PIL import Image

from dreamer.engine.climb.tiling import tile_bounds, tiled_gradient
from dreamer.engine.contract.batch import DreamBatch
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves


def test_tile_bounds_cover_the_image_in_near_equal_spans():
    assert tile_bounds(100, 40) == [(0, 33), (33, 67), (67, 100)]
    assert tile_bounds(30, 64) == [(0, 30)]


def test_tiled_gradient_equals_the_full_one_for_pointwise_receptive_fields():
    weight = torch.randn(5, 3, 1, 1)
    objective = lambda x: torch.nn.functional.conv2d(x, weight).square().mean(dim=(1, 2, 3))  # noqa: E731
    images = torch.rand(2, 3, 96, 80)
    full = images.clone().requires_grad_(True)
    objective(full).sum().backward()
    tiled, value = tiled_gradient(objective, images, tile=32)
    assert torch.allclose(tiled, full.grad, rtol=1e-4, atol=1e-7)
    assert torch.allclose(value, objective(images), rtol=1e-5)


def test_tiled_gradient_matches_inside_tiles_for_a_real_network():
    model = tiny_model(layers=4)  # MobileNetV2 features[4]
    images = torch.rand(1, 3, 192, 192)
    full = images.clone().requires_grad_(True)
    model.objective(full, DreamBatch(None), 0).sum().backward()
    tiled, _ = tiled_gradient(lambda x: model.objective(x, DreamBatch(None), 0), images, tile=96)
    margin = 32  # beyond the layer's receptive-field radius from every tile edge
    inner = [slice(margin, 96 - margin), slice(96 + margin, 192 - margin)]
    for rows in inner:
        for cols in inner:
            a, b = tiled[..., rows, cols], full.grad[..., rows, cols]
            assert ((a - b).abs().max() / b.abs().max()).item() < 1e-3


def test_tiled_and_untiled_dreams_are_as_alike_as_two_untiled_ones(tmp_path):
    """Pixel-wise, a dream is chaotic in its jitter; tiling must change it less than a new seed does."""
    photo = make_photo(tmp_path / "p.png", size=(256, 192))
    dreams = {}
    for tile, seed in ((None, 0), (None, 1), (128, 0)):
        target = tmp_path / f"{tile}-{seed}.png"
        model = tiny_model(tile_size=tile, jitter=64)
        run_dream(model, DreamDataModule(images=str(photo), output=str(target), seed=seed), tiny_octaves(iterations=4))
        dreams[tile, seed] = np.asarray(Image.open(target), dtype=np.float32) / 255
    tiling = np.abs(dreams[None, 0] - dreams[128, 0]).mean()
    reseeding = np.abs(dreams[None, 0] - dreams[None, 1]).mean()
    print(f"tiled vs untiled {tiling:.4f}; untiled seed 0 vs 1 {reseeding:.4f}")
    assert tiling < reseeding
    roughness = lambda img: np.abs(np.diff(img, axis=0)).mean()  # noqa: E731  (dream texture strength)
    assert abs(roughness(dreams[128, 0]) / roughness(dreams[None, 0]) - 1) < 0.1
