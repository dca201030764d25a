"""Tiled gradients, precision and the benchmark's smoke mode."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.dream.backbones import BACKBONES
from dreamer.dream.tiling import tile_bounds, tiled_gradient
from dreamer.photos.data import DreamDataModule
from tests.conftest import REPO, make_photo, run_dream, tiny_model


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
    model.objective(full, 0).sum().backward()
    tiled, _ = tiled_gradient(lambda x: model.objective(x, 0), images, tile=96)
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
        model = tiny_model(tile_size=tile, iterations=4, jitter=64)
        run_dream(model, DreamDataModule(images=str(photo), output=str(target), seed=seed))
        dreams[tile, seed] = np.asarray(Image.open(target), dtype=np.float32) / 255
    tiling = np.abs(dreams[None, 0] - dreams[128, 0]).mean()
    reseeding = np.abs(dreams[None, 0] - dreams[None, 1]).mean()
    print(f"tiled vs untiled {tiling:.4f}; untiled seed 0 vs 1 {reseeding:.4f}")
    assert tiling < reseeding
    roughness = lambda img: np.abs(np.diff(img, axis=0)).mean()  # noqa: E731  (dream texture strength)
    assert abs(roughness(dreams[128, 0]) / roughness(dreams[None, 0]) - 1) < 0.1


def test_bf16_mixed_precision_runs_on_cpu_without_nans(tmp_path, photo):
    target = tmp_path / "bf16.png"
    model = tiny_model()
    run_dream(model, DreamDataModule(images=str(photo), output=str(target)), precision="bf16-mixed")
    assert torch.isfinite(model.image).all() and target.is_file()
    assert model.image.dtype == torch.float32  # the image and its normalised step stay fp32


def test_channels_last_gives_the_same_dream(tmp_path, photo):
    plain, last = tiny_model(channels_last=False), tiny_model(channels_last=True)
    for model, name in ((plain, "a.png"), (last, "b.png")):
        run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / name)))
    assert (plain.image - last.image).abs().max() < 0.05


def test_channels_last_auto_follows_the_backbone(monkeypatch):
    assert tiny_model().extractor.memory_format == torch.channels_last
    monkeypatch.setitem(
        BACKBONES, "mobilenet_v2", dataclasses.replace(BACKBONES["mobilenet_v2"], channels_last_faster=False)
    )
    assert tiny_model().extractor.memory_format == torch.contiguous_format


@pytest.mark.slow  # about 16 whole processes: 2.5 min of the default suite's 10 on two cores
def test_benchmark_smoke_mode_prints_a_table(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--smoke", "--output", str(tmp_path / "B.md")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "B.md").read_text()
    for heading in ("Framework overhead", "Batching", "Big images", "Fast paths"):
        assert heading in table
    assert "dreamer / hand-written" in table


def test_compiled_backbone_is_not_recompiled_every_step(tmp_path, monkeypatch):
    """dynamic=True: a size change may cost a recompile when it crosses one of the compiler's
    shape guards, never one per step, and a second photo of the same size costs none."""
    from torch._dynamo.testing import CompileCounter

    import dreamer.dream.extractor

    counter = CompileCounter()
    real_compile = torch.compile
    monkeypatch.setattr(
        dreamer.dream.extractor.torch, "compile", lambda m, **kw: real_compile(m, backend=counter, **kw)
    )
    torch._dynamo.reset()
    model = tiny_model(compile=True, octaves=3, scale=1.3, iterations=4)
    first, second = make_photo(tmp_path / "a.png", seed=1), make_photo(tmp_path / "b.png", seed=2)
    run_dream(model, DreamDataModule(images=str(first), output=str(tmp_path / "a-out.png")))
    compiled = counter.frame_count
    assert 1 <= compiled <= 3  # 12 steps over 3 sizes
    run_dream(model, DreamDataModule(images=str(second), output=str(tmp_path / "b-out.png")))
    assert counter.frame_count == compiled
