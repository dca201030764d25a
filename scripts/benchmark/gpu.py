"""The GPU: ms per step by size, batch and precision; whole runs and whole commands."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Optional

import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from dreamer.engine.contract.batch import DreamBatch
from scripts.benchmark.common import (
    DREAMER_NAMES,
    ROOT,
    alternated,
    dreamer_run,
    median_seconds,
    model_for,
    paired_ratio,
    photo,
    table,
)

# Dense peak TFLOP/s (no sparsity) of the cards a user may run on, from their vendors' data sheets. "fp32"
# convolutions run as TF32 on these cards unless torch.backends.cudnn.allow_tf32 is turned off.
PEAK_TFLOPS = {
    "H100": {"tf32": 494.7, "bf16": 989.4},
    "H200": {"tf32": 494.7, "bf16": 989.4},
    "A100": {"tf32": 156.0, "bf16": 312.0},
    "L4": {"tf32": 60.0, "bf16": 121.0},
}


def card_peak(precision: str) -> Optional[float]:
    name = torch.cuda.get_device_name(0)
    return next((peaks[precision] for card, peaks in PEAK_TFLOPS.items() if card in name), None)


def gpu(work: Path, smoke: bool, reps: int) -> str:
    """VGG-16 on the GPU: ms per step by size, batch and precision; throughput by batch; peak memory."""
    if not torch.cuda.is_available():
        return "## GPU\n\nNot measured: no CUDA device on the machine that ran this section."
    torch.backends.cudnn.benchmark = True
    models = {
        layout: model_for("vgg16", 29, octaves=1, channels_last=layout == "channels-last").model.cuda()
        for layout in ("contiguous", "channels-last")
    }
    rows = []
    for side in (64, 128) if smoke else (512, 1024):
        for batch in (1, 8):
            for precision, layout in [(p, f) for p in ("fp32", "bf16") for f in models]:
                model = models[layout]
                image = torch.rand(batch, 3, side, side, device="cuda", requires_grad=True)

                def step() -> None:
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
                        loss = model.objective(image, DreamBatch(None), 0).sum()
                    loss.backward()

                with FlopCounterMode(display=False) as counter:
                    step()
                torch.cuda.reset_peak_memory_stats()
                seconds = median_seconds(step, reps)
                achieved = counter.get_total_flops() / seconds / 1e12
                peak = card_peak("tf32" if precision == "fp32" else precision)
                share = f"{100 * achieved / peak:.0f} % of {peak:.0f}" if peak else "card's peak unknown"
                print("gpu step:", side, batch, precision, layout, f"{seconds * 1000:.1f} ms", flush=True)
                rows.append(
                    [
                        f"{side}²",
                        batch,
                        precision,
                        layout,
                        f"{seconds * 1000:.1f}",
                        f"{achieved:.1f}",
                        share,
                        f"{torch.cuda.max_memory_allocated() / 2**30:.2f}",
                    ]
                )
    # Whole runs through the Trainer: decode, dream, write, at growing batch sizes.
    count, side = (4, 64) if smoke else (8, 512)
    folder = work / "gpu-batch"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        photo(folder / f"{i}.png", side, seed=i)
    throughput = []
    for batch_size in (1, 2, 4) if smoke else (1, 2, 4, 8):
        dream_model = model_for("vgg16", 29, octaves=1, iterations=2 if smoke else 10)
        seconds = median_seconds(lambda: dreamer_run(dream_model, folder, work / "gout", batch_size=batch_size), reps)
        throughput.append([batch_size, f"{count / seconds:.2f}"])
        print("gpu throughput:", throughput[-1], flush=True)
    base = float(throughput[0][1])
    for row in throughput:
        row.append(f"{float(row[1]) / base:.2f}x")
    whole_rows = gpu_whole_commands(work, smoke, reps)
    capture_rows = gpu_capture(work, smoke, reps)
    return (
        f"## GPU\n\n{torch.cuda.get_device_name(0)}. VGG-16 up to `features.29`, one forward + backward of the "
        "objective (a dream step without the optimiser's few element-wise operations); median after a warm-up; "
        "bf16 under `torch.autocast`; fp32 with PyTorch's defaults, so its convolutions run as TF32 and its share "
        "is of the card's TF32 peak.\n\n"
        + table(
            rows,
            [
                "image",
                "batch",
                "precision",
                "memory format",
                "ms / step",
                "TFLOP/s achieved",
                "share of the card's peak",
                "peak GPU GiB",
            ],
        )
        + f"\n\nWhole runs through the Trainer ({count} photos of {side}², 1 octave × {2 if smoke else 10} steps, "
        "fp32, decode and write included):\n\n"
        + table(throughput, ["batch size", "images / s", "vs batch 1"])
        + "\n\nWhole commands on the GPU, start-up included: `scripts/plain_deepdream.py --device cuda` against "
        "`dreamer fit --trainer.accelerator gpu` (VGG-16 `features.22`, random weights, scale 1.8, jitter 32, fp32; "
        "fresh processes, alternated after a warm-up round; ratio paired within each round; *lean*: no "
        "TensorBoard logger, metrics or progress bar):\n\n"
        + table(
            whole_rows,
            ["workload", "plain s", "dreamer s", "dreamer lean s", "dreamer ÷ plain", "lean ÷ plain"],
        )
        + "\n\nSmall images, where launching kernels can take longer than running them: MobileNetV2 `features.11`, "
        "batch 1, 1 octave, per step as (long run − short run) ÷ the extra steps, in-process after a warm-up "
        "(compilation not counted); `--model.compile reduce-overhead` replays the backbone as CUDA graphs:\n\n"
        + table(capture_rows, ["image", "eager ms / step", "compile ms / step", "reduce-overhead ms / step"])
    )


def gpu_capture(work: Path, smoke: bool, reps: int) -> list[list]:
    """Per-step time of eager, compiled and CUDA-graph (``reduce-overhead``) dreams of small images."""
    short, long = (2, 6) if smoke else (10, 110)
    rows = []
    for side in (64,) if smoke else (128, 256):
        image = photo(work / f"capture{side}.png", side)
        per_step = []
        for mode in (False, True, "reduce-overhead"):
            seconds = {}
            for steps in (short, long):
                model = model_for("mobilenet_v2", 11, octaves=1, iterations=steps, compile=mode)
                seconds[steps] = median_seconds(lambda: dreamer_run(model, image, work / "cap.png"), reps)
            per_step.append(f"{(seconds[long] - seconds[short]) / (long - short) * 1000:.2f}")
        rows.append([f"{side}²", *per_step])
        print("gpu capture:", rows[-1], flush=True)
    return rows


def gpu_whole_commands(work: Path, smoke: bool, reps: int) -> list[list]:
    """The plain script and ``dreamer fit`` as whole processes on the GPU, at a size the GPU is for."""
    side = 128 if smoke else 1024
    square = work / f"gpu-photo{side}.png"
    sample = Image.open(ROOT / "assets" / "chelsea.jpg").convert("RGB")
    sample.crop((60, 0, 360, 300)).resize((side, side), Image.Resampling.LANCZOS).save(square)
    settings = dict(octaves=4, scale=1.8, iterations=10, lr=0.2, alpha=0.2, jitter=32)
    rows = []
    for name, changes in [("4 octaves × 10 steps", {}), ("1 octave × 100 steps", dict(octaves=1, iterations=100))]:
        chosen = {**settings, **changes}
        if smoke:
            chosen.update(iterations=min(chosen["iterations"], 5))
        plain = [sys.executable, str(ROOT / "scripts" / "plain_deepdream.py"), str(square), str(work / "p.png")]
        plain += ["--device=cuda", "--layer=22", *(f"--{key}={value}" for key, value in chosen.items())]
        dreamer = [sys.executable, "-m", "dreamer.cli", "fit", "--data.overwrite", "true"]
        dreamer += ["--trainer.default_root_dir", str(work / "logs"), "--trainer.accelerator", "gpu"]
        dreamer += ["--data.images", str(square), "--data.output", str(work / "d.png"), "--model.weights", "null"]
        dreamer += ["--model.backbone", "vgg16", "--model.layers", "22"]
        dreamer += [f"--model.{DREAMER_NAMES.get(key, key)}={value}" for key, value in chosen.items()]
        lean = [*dreamer, "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
        runs = alternated({"plain": plain, "dreamer": dreamer, "lean": lean}, reps, warm_up=not smoke)
        a, b, c = (statistics.median(r[0] for r in runs[k]) for k in ("plain", "dreamer", "lean"))
        ratios = [f"{paired_ratio(runs, k, 'plain'):.3f}" for k in ("dreamer", "lean")]
        rows.append([f"{side}², {name}", f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", *ratios])
        print("gpu whole:", rows[-1], flush=True)
    return rows
