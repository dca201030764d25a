"""GPU checks, one command on a machine with CUDA: ``pytest -m gpu -v tests/test_gpu.py``.

Skipped without CUDA (every test here), and the ``ddp_independent`` check without two GPUs. Each test
prints what it measured, so that ``-s`` shows the numbers behind the verdicts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model
from tests.test_many import dream_with_processes, float_dreams, folder_of

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

GPU = dict(accelerator="gpu", devices=1)


@pytest.fixture(autouse=True)
def exact_fp32():
    """fp32 means fp32: no TF32 in convolutions or matmuls, so the comparisons below measure precision."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def dream(tmp_path, photo, name: str, model_kwargs: dict | None = None, **trainer_kwargs) -> np.ndarray:
    target = tmp_path / "out" / name
    model = tiny_model(octaves=2, iterations=5, **(model_kwargs or {}))
    run_dream(model, DreamDataModule(images=str(photo), output=str(target)), **{**GPU, **trainer_kwargs})
    assert torch.isfinite(model.image).all()
    return np.asarray(Image.open(target), dtype=np.float32) / 255


@pytest.fixture
def gpu_photo(tmp_path):
    return make_photo(tmp_path / "in" / "photo.png", size=(160, 128))


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_dreams_are_finite_and_close_to_fp32(tmp_path, gpu_photo, precision):
    reference = dream(tmp_path, gpu_photo, "fp32.png")
    mixed = dream(tmp_path, gpu_photo, f"{precision}.png", precision=precision)
    difference = np.abs(mixed - reference).mean()
    print(f"{precision} vs fp32: mean abs difference {difference:.4f}")
    assert difference < 0.03


def test_channels_last_gives_the_same_dream_on_gpu(tmp_path, gpu_photo):
    reference = dream(tmp_path, gpu_photo, "a.png")
    last = dream(tmp_path, gpu_photo, "b.png", {"channels_last": True})
    difference = np.abs(last - reference).mean()
    print(f"channels_last vs contiguous: mean abs difference {difference:.5f}")
    assert difference < 0.01


def test_compiled_backbone_is_not_recompiled_every_step_on_gpu(tmp_path, gpu_photo):
    from torch._dynamo.testing import CompileCounterWithBackend

    import dreamer.extractor

    counter = CompileCounterWithBackend("inductor")
    real_compile = torch.compile
    torch._dynamo.reset()
    dreamer.extractor.torch.compile = lambda module, **kwargs: real_compile(module, backend=counter, **kwargs)
    try:
        model = tiny_model(compile=True, octaves=3, scale=1.3, iterations=4)
        run_dream(model, DreamDataModule(images=str(gpu_photo), output=str(tmp_path / "c.png")), **GPU)
    finally:
        dreamer.extractor.torch.compile = real_compile
    print(f"compiled frames: {counter.frame_count} for 3 octaves × 4 steps")
    assert 1 <= counter.frame_count <= 3 and torch.isfinite(model.image).all()


def test_tiled_4096_dream_stays_within_a_memory_bound(tmp_path):
    """Untiled, a 4096² dream through MobileNetV2 ``features.11`` needs about 26 GiB; tiles of 512 px
    bound it by the tile (the image, its gradient and its pyramid: about 0.6 GiB of the total)."""
    photo = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (4096, 4096, 3), dtype=np.uint8)).save(photo)
    torch.cuda.reset_peak_memory_stats()
    model = tiny_model(layers=11, octaves=1, iterations=2, tile_size=512)
    run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / "big-dream.png")), **GPU)
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"tiled 4096² peak GPU memory: {peak:.2f} GiB")
    assert peak < 3.0 and (tmp_path / "big-dream.png").is_file()


def test_cpu_and_gpu_dreams_of_the_same_photo_agree(tmp_path, gpu_photo):
    settings = {"octaves": 1, "iterations": 3}
    on_gpu = dream(tmp_path, gpu_photo, "gpu.png", settings)
    on_cpu = dream(tmp_path, gpu_photo, "cpu.png", settings, accelerator="cpu")
    difference = np.abs(on_gpu - on_cpu).mean()
    print(f"CPU vs GPU, 3 steps: mean abs difference {difference:.5f}")
    assert difference < 2e-3


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_ddp_independent_on_two_gpus_dreams_every_photo_exactly_once(tmp_path):
    photos = folder_of(tmp_path, 5)
    done = dream_with_processes(tmp_path, photos, 2, "gpus", accelerator="gpu")
    assert done.stdout.count("5 dreamed, 0 skipped, 0 failed") == 1
    assert sorted(p.name for p in (tmp_path / "out-gpus").glob("*.png")) == [f"img{i:02d}.png" for i in range(5)]
    assert len(float_dreams(tmp_path / "floats-gpus")) == 5
