"""The Trainer's fast paths (precision, memory format, compilation) and the achieved FLOP rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from dreamer.engine.contract.batch import DreamBatch
from scripts.benchmark.common import (
    dreamer_run,
    median_seconds,
    model_for,
    photo,
    table,
)


def fast_paths(work: Path, smoke: bool, reps: int) -> str:
    side = 64 if smoke else 224
    image = photo(work / "fast.png", side)
    settings = dict(octaves=2, iterations=2 if smoke else 10)
    variants = [
        ("fp32", {}, {}),
        ("bf16-mixed", {}, {"precision": "bf16-mixed"}),
        ("channels_last", {"channels_last": True}, {}),
    ]
    if torch.cuda.is_available():
        variants.append(("16-mixed", {}, {"precision": "16-mixed"}))
    if not smoke:  # compiling takes minutes on a small CPU
        variants.append(("torch.compile", {"compile": True}, {}))
    rows, reference, base = [], None, None
    for name, model_kwargs, trainer_kwargs in variants:
        model = model_for("mobilenet_v2", 11, **{"channels_last": False, **settings, **model_kwargs})
        out = work / f"fast-{name}.png"
        try:
            seconds = median_seconds(lambda: dreamer_run(model, image, out, **trainer_kwargs), reps)
        except Exception as error:  # a fast path this machine cannot take is reported, not hidden
            rows.append([name, "failed", f"{type(error).__name__}: {str(error)[:60]}", ""])
            continue
        result = np.asarray(Image.open(out), dtype=np.float32) / 255
        reference = result if reference is None else reference
        base = base or seconds
        rows.append(
            [
                name,
                f"{seconds * 1000 / (settings['octaves'] * settings['iterations']):.1f}",
                f"{base / seconds:.2f}x",
                f"{np.abs(result - reference).mean():.4f}",
            ]
        )
    text = (
        f"## Fast paths\n\nMobileNetV2 `features.11`, {side}², 2 octaves × {settings['iterations']} steps "
        "(median after a warm-up run, so compilation is not counted); every variant but `channels_last` in "
        "contiguous memory, so each row shows one change against fp32.\n\n"
        + table(rows, ["variant", "ms / step", "speed-up vs fp32", "mean abs difference vs fp32"])
    )
    return text + "\n\n" + flops(64 if smoke else 512)


def flops(side: int) -> str:
    """Achieved throughput of the backbone's forward + backward (VGG-16 up to features.29)."""
    model = model_for("vgg16", 29).model
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    image = torch.rand(1, 3, side, side, device=device, requires_grad=True)

    def step() -> None:
        model.objective(image, DreamBatch(None), 0).sum().backward()

    with FlopCounterMode(display=False) as counter:
        step()
    seconds = median_seconds(step, 3)
    return (
        f"VGG-16 to `features.29` at {side}², batch 1, fp32 (channels-last, the default) forward + backward "
        f"on {device}: "
        f"{counter.get_total_flops() / 1e9:.1f} GFLOP per step, {seconds * 1000:.0f} ms, "
        f"**{counter.get_total_flops() / seconds / 1e12:.3f} TFLOP/s** achieved."
    )
