"""GPU checks, one command on a machine with CUDA: ``pytest -m gpu -v tests/test_gpu.py``.

Skipped without CUDA (every test here), and the ``ddp_independent`` check without two GPUs. Each test
prints what it measured, so that ``-s`` shows the numbers behind the verdicts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.module import DreamModule
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves
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
    model = tiny_model(**(model_kwargs or {}))
    data = DreamDataModule(images=str(photo), output=str(target))
    run_dream(model, data, tiny_octaves(iterations=5), **{**GPU, **trainer_kwargs})
    assert torch.isfinite(model.image).all()
    return np.asarray(Image.open(target), dtype=np.float32) / 255


def pixels_of(photo) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float32) / 255).permute(2, 0, 1)[None].cuda()


def gradient(model: DreamModule, image: torch.Tensor, autocast: torch.dtype | None = None) -> torch.Tensor:
    """The objective's gradient on ``image``: one dream step's direction."""
    image = image.clone().requires_grad_(True)
    with torch.autocast("cuda", dtype=autocast or torch.float32, enabled=autocast is not None):
        model.objective(image, DreamBatch(None), 0).sum().backward()
    return image.grad.float()


def gain(photo, precision: str) -> float:
    """How much a whole dream at ``precision`` raises its last layer's objective, measured in fp32."""
    model = tiny_model()
    run_dream(
        model,
        DreamDataModule(images=str(photo), output=str(photo.parent / f"{precision}.png")),
        tiny_octaves(iterations=5),
        **GPU,
        precision=precision,
    )
    judge = tiny_model().cuda()
    with torch.no_grad():
        return (
            judge.objective(model.image.detach().float(), DreamBatch(None), 1)
            / judge.objective(pixels_of(photo), DreamBatch(None), 1)
        ).item()


@pytest.fixture
def gpu_photo(tmp_path):
    return make_photo(tmp_path / "in" / "photo.png", size=(160, 128))


# Whole dreams are not compared pixel by pixel: ascent amplifies rounding. Two identical fp32 runs on an
# H200 (cuDNN's non-deterministic kernels) ended 0.027 apart (mean abs, 2 octaves × 5 steps), as far
# as bf16 ends from fp32 on a CPU (0.043, with the dream 0.051 from its photo). What precision must
# keep is the step's direction and the dream's strength.
@pytest.mark.parametrize(("precision", "dtype"), [("bf16-mixed", torch.bfloat16), ("16-mixed", torch.float16)])
def test_mixed_precision_steps_point_where_fp32_does_and_dream_as_strongly(tmp_path, gpu_photo, precision, dtype):
    model = tiny_model().cuda()
    exact, mixed = gradient(model, pixels_of(gpu_photo)), gradient(model, pixels_of(gpu_photo), dtype)
    cosine = torch.nn.functional.cosine_similarity(exact.flatten(), mixed.flatten(), dim=0).item()
    reference, lowered = gain(gpu_photo, "32-true"), gain(gpu_photo, precision)
    print(f"{precision}: gradient cosine to fp32 {cosine:.4f}; dream gain {lowered:.2f}x vs fp32 {reference:.2f}x")
    assert cosine > 0.9  # bf16 on a CPU: 0.96
    assert lowered > 0.85 * reference  # bf16 on a CPU: 0.96 of fp32's gain


def test_channels_last_changes_no_math_on_gpu(gpu_photo):
    contiguous, last = tiny_model(channels_last=False).cuda(), tiny_model(channels_last=True).cuda()
    a, b = gradient(contiguous, pixels_of(gpu_photo)), gradient(last, pixels_of(gpu_photo))
    relative = ((a - b).abs().max() / a.abs().max()).item()
    print(f"channels_last vs contiguous, one step's gradient: max relative difference {relative:.2e}")
    assert relative < 1e-4  # on a CPU: 7e-7


def test_compiled_backbone_is_not_recompiled_every_step_on_gpu(tmp_path, gpu_photo):
    from torch._dynamo.testing import CompileCounterWithBackend

    import dreamer.engine.networks.extractor

    counter = CompileCounterWithBackend("inductor")
    real_compile = torch.compile
    torch._dynamo.reset()
    dreamer.engine.networks.extractor.torch.compile = lambda module, **kwargs: real_compile(
        module, backend=counter, **kwargs
    )
    try:
        model = tiny_model(compile=True)
        data = DreamDataModule(images=str(gpu_photo), output=str(tmp_path / "c.png"))
        run_dream(model, data, tiny_octaves(count=3, scale=1.3, iterations=4), **GPU)
    finally:
        dreamer.engine.networks.extractor.torch.compile = real_compile
    print(f"compiled frames: {counter.frame_count} for 3 octaves × 4 steps")
    assert 1 <= counter.frame_count <= 3
    assert torch.isfinite(model.image).all()


def test_the_steps_between_logging_steps_never_wait_for_the_gpu(tmp_path, gpu_photo):
    """``torch.cuda.set_sync_debug_mode("warn")`` over every step that is not an octave's first or
    last (whose ends read results: metrics, the written dream), with a logger and the progress bar on."""
    import warnings

    import lightning.pytorch as pl

    class Watch(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            position = batch.position
            plain = not (position.octave_start or position.octave_end or position.dream_end)
            torch.cuda.set_sync_debug_mode("warn" if plain else "default")

    model = tiny_model(jitter=4)
    data = DreamDataModule(images=str(gpu_photo), output=str(tmp_path / "out"))
    logged = dict(logger=pl.loggers.TensorBoardLogger(str(tmp_path / "logs")), log_every_n_steps=1000)
    try:
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            run_dream(
                model, data, tiny_octaves(iterations=6), **GPU, **logged, enable_progress_bar=True, callbacks=[Watch()]
            )
    finally:
        torch.cuda.set_sync_debug_mode("default")
    caught = [str(r.message) for r in records if "synchroniz" in str(r.message).lower()]
    print(f"synchronising calls inside the steps: {len(caught)}", *caught[:5], sep="\n")
    assert caught == []


def test_reduce_overhead_captures_the_step_and_dreams_as_eager_does(tmp_path, gpu_photo):
    """CUDA graphs per octave size: the dream's gain matches the eager one, and the step time is printed."""
    import time

    eager = tiny_model()
    captured = tiny_model(compile="reduce-overhead")
    gains = {}
    for name, model in (("eager", eager), ("reduce-overhead", captured)):
        started = time.perf_counter()
        data = DreamDataModule(images=str(gpu_photo), output=str(tmp_path / f"{name}.png"))
        run_dream(model, data, tiny_octaves(iterations=5), **GPU)
        torch.cuda.synchronize()
        image = pixels_of(tmp_path / f"{name}.png")
        with torch.no_grad():
            base = float(eager.objective.measure(pixels_of(gpu_photo), DreamBatch(None)).mean())
            gains[name] = float(eager.objective.measure(image, DreamBatch(None)).mean()) / base
        print(
            f"{name}: whole dream {time.perf_counter() - started:.2f} s (compilation included), gain {gains[name]:.2f}"
        )
    assert gains["reduce-overhead"] > 0.8 * gains["eager"]
    assert torch.isfinite(captured.image).all()


def test_tiled_4096_dream_stays_within_a_memory_bound(tmp_path):
    """Untiled, a 4096² dream through MobileNetV2 ``features.11`` needs about 26 GiB; tiles of 512 px
    bound it by the tile (the image, its gradient and its pyramid: about 0.6 GiB of the total)."""
    photo = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (4096, 4096, 3), dtype=np.uint8)).save(photo)
    torch.cuda.reset_peak_memory_stats()
    model = tiny_model(layers=11, tile_size=512)
    data = DreamDataModule(images=str(photo), output=str(tmp_path / "big-dream.png"))
    run_dream(model, data, tiny_octaves(count=1, iterations=2), **GPU)
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"tiled 4096² peak GPU memory: {peak:.2f} GiB")
    assert peak < 3.0
    assert (tmp_path / "big-dream.png").is_file()


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
