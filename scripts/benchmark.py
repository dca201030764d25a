"""Measure dreamer: the whole command against a plain script, framework overhead, batching, big images
with tiling, the Trainer's fast paths, the GPU, planning and motion.

    python scripts/benchmark.py                      # CPU sections (about 20 min on 2 cores); updates BENCHMARKS.md
    python scripts/benchmark.py --sections whole     # one section; the file's other sections are kept
    python scripts/benchmark.py --gpu                # the GPU section, on a machine with CUDA (a few minutes)
    python scripts/benchmark.py --smoke              # tiny sizes: checks that every section runs

Every figure of one table comes from one run, on the same machine, image and settings; times are
medians of ``--reps`` repetitions after one warm-up, commands compared in alternation.
"""

from __future__ import annotations

import argparse
import contextlib
import fractions
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from dreamer.dream.extractor import IMAGENET_MEAN, IMAGENET_STD
from dreamer.dream.module import DreamModule
from dreamer.photos.data import DreamDataModule
from dreamer.quiet import silence_known_noise

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- helpers
def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, lightning {pl.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_seconds(run: Callable[[], object], reps: int) -> float:
    run()  # warm-up: first-call allocations, graph tracing, compilation
    times = []
    for _ in range(reps):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(runs: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each run, the runs taken in turn (A B C A B C …) so that drift in the
    machine's speed hits all of them alike."""
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def photo(path: Path, side: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([x, y, 0.5 + 0.5 * np.sin(12 * x + seed)], axis=-1) * 200
    Image.fromarray(np.clip(base + rng.integers(0, 55, (side, side, 3)), 0, 255).astype(np.uint8)).save(path)
    return path


def trainer(lean: bool = True, **kwargs) -> pl.Trainer:
    settings = dict(
        accelerator="auto",
        devices=1,
        max_epochs=1,
        enable_checkpointing=False,
        enable_model_summary=False,
        logger=False,
        enable_progress_bar=False,
    )
    if not lean:  # what a user gets by default: TensorBoard logs and the progress bar
        settings.update(logger=True, enable_progress_bar=True, log_every_n_steps=10)
    settings.update(kwargs)
    return pl.Trainer(**settings)


def dreamer_run(model: DreamModule, images: Path, out: Path, batch_size: int = 1, lean: bool = True, **trainer_kwargs):
    data = DreamDataModule(images=str(images), output=str(out), overwrite=True, batch_size=batch_size)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # bar renders off-screen
        trainer(lean, default_root_dir=str(out.parent / "logs"), **trainer_kwargs).fit(model, datamodule=data)


def handwritten_run(
    model: DreamModule, image: Path, out: Path, octaves: int, scale: float, iterations: int, lr: float, jitter: int
) -> None:
    """The same dream as a plain PyTorch loop: same frozen graph, pyramid, jitter, naive GD, blend, clamp."""
    device = model.device
    extract = model.extractor._graph(model.layer_schedule[-1])
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    original = torch.from_numpy(np.asarray(Image.open(image).convert("RGB"))).permute(2, 0, 1)[None].float().div(255)
    original = original.to(device)
    height, width = original.shape[-2:]
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in reversed(range(octaves))]
    rng = torch.Generator().manual_seed(0)
    dream = None
    for size in sizes:
        base = F.interpolate(original, size=size, mode="bilinear", antialias=True, align_corners=False)
        if dream is not None:
            up = F.interpolate(dream, size=size, mode="bilinear", align_corners=False)
            base = (1 - model.hparams.alpha) * base + model.hparams.alpha * up
        dream = base.clone().requires_grad_(True)
        for _ in range(iterations):
            dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=rng).tolist()
            rolled = torch.roll(dream, (dy, dx), dims=(-2, -1))
            activations = extract((rolled - mean) / std)
            loss = -sum(a.square().mean() for a in activations.values())
            loss.backward()
            with torch.no_grad():
                grad = dream.grad
                dream -= lr * grad / grad.abs().mean().clamp_min(1e-30)
                dream.clamp_(0, 1)
                dream.grad = None
        dream = dream.detach()
    pixels = dream[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    Image.fromarray(pixels).save(out)


def model_for(backbone: str, layer: int, **kwargs) -> DreamModule:
    weights = "imagenet" if backbone == "mobilenet_v2" else None  # VGG weights are not offline; timing is the same
    settings = dict(
        backbone=backbone,
        weights=weights,
        layers=layer,
        octaves=3,
        scale=1.4,
        iterations=10,
        lr=0.01,
        alpha=0.2,
        jitter=8,
    )
    settings.update(kwargs)
    return DreamModule(**settings)


def table(rows: list[list[object]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- sections
def overhead(work: Path, smoke: bool, reps: int) -> str:
    cases = [("mobilenet_v2", 11, 64 if smoke else 224)] + ([] if smoke else [("vgg16", 22, 224)])
    rows = []
    for backbone, layer, side in cases:
        settings = dict(octaves=2 if smoke else 3, iterations=2 if smoke else 10)
        model = model_for(backbone, layer, **settings, channels_last=False)  # the same arithmetic as the loop
        image = photo(work / f"overhead-{side}.png", side)
        runs = {
            "lean": lambda: dreamer_run(model, image, work / "o.png"),
            "full": lambda: dreamer_run(model, image, work / "o.png", lean=False),
            "hand": lambda: handwritten_run(model, image, work / "h.png", scale=1.4, lr=0.01, jitter=8, **settings),
        }
        lean, full, hand = interleaved_medians(runs, reps).values()
        steps = settings["octaves"] * settings["iterations"]
        rows.append(
            [
                f"{backbone} `features.{layer}`",
                f"{side}²",
                steps,
                f"{hand * 1000 / steps:.1f}",
                f"{lean * 1000 / steps:.1f}",
                f"{full * 1000 / steps:.1f}",
                f"**{lean / hand:.3f}**",
                f"{full / hand:.3f}",
            ]
        )
    return (
        "## Framework overhead\n\nIn-process timings (a secondary view: the whole command is in *Whole process*). "
        "One whole dream (3 octaves of 1.4, 10 steps each, jitter 8; load, dream, write "
        "PNG). *lean*: no logger, no progress bar; *defaults*: TensorBoard logger and progress bar, as a user "
        "runs it. Both contiguous in memory, so that only the framing differs.\n\n"
        + table(
            rows,
            [
                "backbone",
                "image",
                "steps",
                "hand-written ms/step",
                "dreamer lean ms/step",
                "dreamer defaults ms/step",
                "dreamer / hand-written (lean)",
                "dreamer / hand-written (defaults)",
            ],
        )
        + "\n\n"
        + fixed_step_cost(work, smoke, reps)
    )


def fixed_step_cost(work: Path, smoke: bool, reps: int) -> str:
    """What a step costs beyond its arithmetic: a 32² image, where the network's work is tiny; the
    difference of a long and a short run, so loading and writing cancel out."""
    image = photo(work / "fixed-32.png", 32)
    short, long = (2, 6) if smoke else (20, 220)
    rows, cells = [], {}
    for steps in (short, long):
        settings = dict(octaves=1, iterations=steps)
        model = model_for("mobilenet_v2", 11, **settings, channels_last=False, jitter=0)
        runs = {
            "hand": lambda: handwritten_run(model, image, work / "h.png", scale=1.4, lr=0.01, jitter=0, **settings),
            "lean": lambda: dreamer_run(model, image, work / "o.png"),
            "full": lambda: dreamer_run(model, image, work / "o.png", lean=False),
        }
        cells[steps] = interleaved_medians(runs, reps)
    per_step = {k: (cells[long][k] - cells[short][k]) / (long - short) * 1000 for k in ("hand", "lean", "full")}
    rows.append(
        [
            "mobilenet_v2 `features.11`",
            "32²",
            f"{per_step['hand']:.2f}",
            f"{per_step['lean']:.2f}",
            f"{per_step['full']:.2f}",
            f"{per_step['lean'] - per_step['hand']:+.2f}",
        ]
    )
    return (
        f"Per step on a 32² image ({long}-step run less a {short}-step run, ÷ {long - short}), where the "
        "network's arithmetic is small and fixed per-step costs show:\n\n"
        + table(
            rows,
            [
                "backbone",
                "image",
                "hand-written ms/step",
                "dreamer lean ms/step",
                "dreamer defaults ms/step",
                "lean − hand-written",
            ],
        )
    )


def batching(work: Path, smoke: bool, reps: int) -> str:
    count, side = (4, 64) if smoke else (8, 256)
    sizes = [1, 2, 4] if smoke else [1, 2, 4, 8]
    folder = work / "batch"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        photo(folder / f"{i}.png", side, seed=i)
    rows = []
    for backbone, layer in [("mobilenet_v2", 11)] + ([] if smoke else [("vgg16", 22)]):
        model = model_for(backbone, layer, octaves=1, iterations=1 if smoke else 3)
        base = None
        for batch_size in sizes:
            seconds = median_seconds(lambda: dreamer_run(model, folder, work / "bout", batch_size=batch_size), reps)
            throughput = count / seconds
            base = base or throughput
            rows.append([backbone, batch_size, f"{throughput:.2f}", f"{throughput / base:.2f}x"])
    return (
        f"## Batching\n\n{count} images of {side}², 1 octave, {1 if smoke else 3} steps each, whole run "
        "(decode, dream, write).\n\n" + table(rows, ["backbone", "batch size", "images / s", "vs batch 1"])
    )


def peak_rss() -> int:
    """This process's peak resident memory in bytes. VmHWM, unlike getrusage's ru_maxrss, starts
    afresh at exec, so it does not include the parent's memory."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kib * 1024


def peak_child(side: int, tile: Optional[int], iterations: int) -> dict:
    """Run in a fresh process: one dream of ``side``² and its peak memory."""
    with tempfile.TemporaryDirectory() as folder:
        image = photo(Path(folder) / "big.png", side)
        model = model_for("mobilenet_v2", 11, octaves=1, iterations=iterations, tile_size=tile)
        start = time.perf_counter()
        dreamer_run(model, image, Path(folder) / "out.png")
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else peak_rss()
    return {
        "seconds": seconds,
        "peak_gib": peak / 2**30,
        "device": "GPU allocated" if torch.cuda.is_available() else "CPU RSS",
    }


def big_images(work: Path, smoke: bool, reps: int) -> str:
    sides = [128] if smoke else [1024, 2048, 4096]
    tile = 64 if smoke else 512
    iterations = 1 if smoke else 2
    budget = 18.0  # GiB: never start an untiled run predicted above this on a 24 GiB machine
    rows, untiled_peaks = [], {}
    for side in sides:
        for tile_size in (None, tile):
            predicted = untiled_peaks.get(side // 2, 0) * 4
            if tile_size is None and predicted > budget:
                rows.append(
                    [f"{side}²", "off", f"not run: predicted ≈ {predicted:.0f} GiB (4 × the {side // 2}² peak)", "—"]
                )
                continue
            args = [sys.executable, __file__, "--peak", str(side), str(tile_size or 0), str(iterations)]
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode != 0:
                rows.append(
                    [f"{side}²", tile_size or "off", "failed: " + done.stderr.strip().splitlines()[-1][:80], "—"]
                )
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if tile_size is None:
                untiled_peaks[side] = result["peak_gib"]
            rows.append(
                [
                    f"{side}²",
                    tile_size or "off",
                    f"{result['peak_gib']:.2f} GiB ({result['device']})",
                    f"{result['seconds']:.1f} s",
                ]
            )
    # Tiling on vs off on an image both can do: pixel difference, against the difference a new seed makes.
    side = 128 if smoke else 512
    image = photo(work / "equiv.png", side)
    outputs = {}
    for key, tile_size, seed in (("off", None, 0), ("off-seed1", None, 1), ("on", side // 2, 0)):
        model = model_for(
            "mobilenet_v2", 11, octaves=2, iterations=2 if smoke else 5, tile_size=tile_size, jitter=side // 4
        )
        data = DreamDataModule(images=str(image), output=str(work / f"eq-{key}.png"), overwrite=True, seed=seed)
        trainer().fit(model, datamodule=data)
        outputs[key] = np.asarray(Image.open(work / f"eq-{key}.png"), dtype=np.float32) / 255
    tiling = np.abs(outputs["off"] - outputs["on"]).mean()
    reseed = np.abs(outputs["off"] - outputs["off-seed1"]).mean()
    return (
        f"## Big images\n\nMobileNetV2 `features.11`, 1 octave, {iterations} steps; each row in a fresh "
        f"process; tiles of {tile} px.\n\n"
        + table(rows, ["image", "tile", "peak memory", "time"])
        + f"\n\nTiling on ({side // 2} px tiles) vs off on a {side}² image, same seed: mean abs pixel difference "
        f"**{tiling:.4f}**; two untiled dreams that differ only in their seed: {reseed:.4f}."
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
    model = model_for("vgg16", 29)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    image = torch.rand(1, 3, side, side, device=device, requires_grad=True)

    def step() -> None:
        model.objective(image, 0).sum().backward()

    with FlopCounterMode(display=False) as counter:
        step()
    seconds = median_seconds(step, 3)
    return (
        f"VGG-16 to `features.29` at {side}², batch 1, fp32 (channels-last, the default) forward + backward "
        f"on {device}: "
        f"{counter.get_total_flops() / 1e9:.1f} GFLOP per step, {seconds * 1000:.0f} ms, "
        f"**{counter.get_total_flops() / seconds / 1e12:.3f} TFLOP/s** achieved."
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
        layout: model_for("vgg16", 29, octaves=1, channels_last=layout == "channels-last").cuda()
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
                        loss = model.objective(image, 0).sum()
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
    )


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
        dreamer += [f"--model.{key}={value}" for key, value in chosen.items()]
        lean = [*dreamer, "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
        runs = alternated({"plain": plain, "dreamer": dreamer, "lean": lean}, reps, warm_up=not smoke)
        a, b, c = (statistics.median(r[0] for r in runs[k]) for k in ("plain", "dreamer", "lean"))
        ratios = [f"{paired_ratio(runs, k, 'plain'):.3f}" for k in ("dreamer", "lean")]
        rows.append([f"{side}², {name}", f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", *ratios])
        print("gpu whole:", rows[-1], flush=True)
    return rows


def planning(work: Path, smoke: bool, reps: int) -> str:
    """Planning a big folder: every process lists the files and reads the headers of its share only."""
    import pickle

    from dreamer.photos.data import RunSummary

    count = 200 if smoke else 20_000
    folder = work / "many"
    folder.mkdir(exist_ok=True)
    tiny = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(tiny, format="PNG")
    for i in range(count):
        (folder / f"{i:06d}.png").write_bytes(tiny.getvalue())
    data = DreamDataModule(images=str(folder), output=str(work / "many-out"), batch_size=8)
    rows = []
    for world_size in (1, 4, 16):
        seconds, exchanged = [], []
        for rank in range(world_size):
            seconds.append(median_seconds(lambda: data.make_plan(1, rank, world_size), reps))
            plan = data.make_plan(1, rank, world_size)
            data.plan = plan
            exchanged.append(len(pickle.dumps(RunSummary.of(plan, len(data.batches())))))
        whole_plan = len(pickle.dumps(data.make_plan(1, 0, 1))) if world_size == 1 else None
        rows.append(
            [
                world_size,
                f"{max(seconds):.2f} s",
                f"{max(exchanged) / 1024:.1f} KiB",
                f"{whole_plan / 2**20:.1f} MiB" if whole_plan else "—",
            ]
        )
    return (
        f"## Planning\n\n{count:,} photos in one folder (header reads only; no pixel is decoded). Each process "
        "lists the folder and reads the headers of its own share; what it sends the others is a summary (its "
        "failures, notes, skip count and batch count). The last column is what a plan made on rank 0 alone would "
        "have had to broadcast.\n\n"
        + table(rows, ["processes", "planning time (slowest process)", "sent per process", "whole plan, pickled"])
    )


def process(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and minor page faults of one command run as a fresh process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} … failed:\n{errors.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_minflt


def whole_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a whole ``dreamer`` command."""
    seconds, mib, _ = process([sys.executable, "-m", "dreamer.cli", *args])
    return seconds, mib


def alternated(
    commands: dict[str, list[str]], reps: int, warm_up: bool = True
) -> dict[str, list[tuple[float, float, int]]]:
    """Every command ``reps`` times as a fresh process, taken in turn (A B A B …) after a warm-up
    round (disk caches), so that drift in the machine's speed hits all of them alike."""
    for command in commands.values() if warm_up else []:
        process(command)
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            runs[name].append(process(command))
    return runs


def paired_ratio(runs: dict[str, list[tuple[float, float, int]]], a: str, b: str) -> float:
    """Median over repetitions of ``a``'s time ÷ ``b``'s time in the same round."""
    return statistics.median(x[0] / y[0] for x, y in zip(runs[a], runs[b]))


def whole(work: Path, smoke: bool, reps: int) -> str:
    """The whole command a user waits for, start-up included, against a plain PyTorch script."""
    sample = Image.open(ROOT / "assets" / "chelsea.jpg").convert("RGB")
    side = 64 if smoke else 256
    square = work / f"photo{side}.png"
    sample.crop((60, 0, 360, 300)).resize((side, side), Image.Resampling.LANCZOS).save(square)
    plain = [sys.executable, str(ROOT / "scripts" / "plain_deepdream.py")]
    dreamer = [
        sys.executable,
        "-m",
        "dreamer.cli",
        "fit",
        "--data.overwrite",
        "true",
        "--trainer.default_root_dir",
        str(work / "logs"),
    ]
    vgg = dict(backbone="vgg16", layer=22, octaves=4, scale=1.8, iterations=10, lr=0.2, alpha=0.2, jitter=32)
    if smoke:
        vgg.update(backbone="mobilenet_v2", layer=7, octaves=2, iterations=2, jitter=4)
    quick = dict(backbone="mobilenet_v2", layer=11, octaves=4, scale=1.4, iterations=10, lr=0.012, alpha=1.0, jitter=16)
    if smoke:
        quick.update(octaves=2, iterations=2)

    def pair(settings: dict, photo: Path, config: Optional[str] = None) -> dict[str, list[str]]:
        weights = settings["backbone"] == "mobilenet_v2"
        a = [*plain, str(photo), str(work / "plain.png"), *(["--weights"] if weights else [])]
        a += [f"--{key}={value}" for key, value in settings.items()]
        b = [
            *dreamer,
            *(["--config", config] if config else []),
            "--data.images",
            str(photo),
            "--data.output",
            str(work / "dreamer.png"),
            "--model.weights",
            "imagenet" if weights else "null",
            "--model.layers",
            str(settings["layer"]),
        ]
        b += [f"--model.{key}={value}" for key, value in settings.items() if key != "layer"]
        return {"plain": a, "dreamer": b}

    long = 4 if smoke else 40
    workloads = [
        (f"{vgg['octaves']} octaves × {vgg['iterations']} steps", pair(vgg, square)),
        ("1 octave × 1 step (start-up)", pair({**vgg, "octaves": 1, "iterations": 1}, square)),
        (f"1 octave × {long} steps", pair({**vgg, "octaves": 1, "iterations": long}, square)),
        (
            "quickstart preset, 451×300",
            pair(quick, ROOT / "assets" / "chelsea.jpg", str(ROOT / "configs" / "quickstart.yaml")),
        ),
    ]
    rows, results = [], {}
    for name, commands in workloads:
        runs = alternated(commands, reps, warm_up=not smoke)
        results[name] = runs
        time_a, time_b = (statistics.median(r[0] for r in runs[k]) for k in ("plain", "dreamer"))
        mem_a, mem_b = (statistics.median(r[1] for r in runs[k]) for k in ("plain", "dreamer"))
        faults_a, faults_b = (statistics.median(r[2] for r in runs[k]) for k in ("plain", "dreamer"))
        ratio = paired_ratio(runs, "dreamer", "plain")
        versus = f"{time_b - time_a:+.2f} s" if "start-up" in name else f"**{ratio:.3f}**"
        rows.append(
            [
                name,
                f"{time_a:.2f} s",
                f"{time_b:.2f} s",
                versus,
                f"{mem_a:.0f}",
                f"{mem_b:.0f}",
                f"{faults_a / 1e3:.0f} k",
                f"{faults_b / 1e3:.0f} k",
            ]
        )
    one, many = (results[name] for name, _ in workloads[1:3])
    per_step = {
        k: statistics.median((m[0] - o[0]) / (long - 1) for m, o in zip(many[k], one[k])) for k in ("plain", "dreamer")
    }
    rows.append(
        [
            f"per step: ({long}-step run − 1-step run) ÷ {long - 1}",
            f"{per_step['plain'] * 1000:.1f} ms",
            f"{per_step['dreamer'] * 1000:.1f} ms",
            f"{per_step['dreamer'] / per_step['plain']:.3f}",
            "",
            "",
            "",
            "",
        ]
    )
    described = ", ".join(f"{key} {value}" for key, value in vgg.items())
    return (
        "## Whole process\n\nWhat a user waits for: the whole command, start-up included, as a fresh process; "
        f"`dreamer fit` with its defaults (TensorBoard logger, progress bar, metrics) against "
        f"`scripts/plain_deepdream.py`, a minimal hand-written PyTorch DeepDream doing the same math. Runs "
        f"alternated plain, dreamer, plain, dreamer … after a warm-up round; medians of {reps}, ratios paired within "
        f"a round. Workload: {described}, random weights, a {side}² photo (rows 1–3); the quickstart preset "
        "(MobileNetV2 ImageNet weights) on the bundled photo (row 4). Peak memory is the process's peak RSS.\n\n"
        + table(
            rows,
            [
                "workload",
                "plain script",
                "dreamer",
                "dreamer ÷ plain",
                "plain peak MiB",
                "dreamer peak MiB",
                "plain minor faults",
                "dreamer minor faults",
            ],
        )
    )


def motion(work: Path, smoke: bool, reps: int) -> str:
    """Dreamed video: frames per second, what the frames cost beyond dreaming, memory vs length."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from coherence import camera_clip

    from dreamer.files.imageio import save_image, to_image
    from dreamer.motion.videoio import encode_frames, frame_path, read_frames
    from dreamer.motion.warp import carry_over, consistent, dis_flow

    frames, short, long = (4, 4, 8) if smoke else (24, 24, 240)
    clip = camera_clip(work / "clip.mp4", frames)
    video = [
        "fit",
        "--config",
        str(ROOT / "configs" / "video.yaml"),
        "--data.video",
        str(clip),
        "--data.resize",
        "null",
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.logger",
        "false",
        "--data.overwrite",
        "true",
    ]
    one = camera_clip(work / "one.mp4", 1)
    walls, firsts = [], []
    for rep in range(reps):  # alternated: the whole clip, then its first frame alone (start-up + frame 0)
        walls.append(whole_run([*video, "--data.output", str(work / f"v{rep}")])[0])
        firsts.append(whole_run([*video[:4], str(one), *video[5:], "--data.output", str(work / f"o{rep}")])[0])
    wall, first = statistics.median(walls), statistics.median(firsts)
    steady = (wall - first) / (frames - 1)  # a continued frame, everything included
    # What a frame costs beyond its dream, each part timed alone over the same clip.
    pictures = list(read_frames(clip))
    parts = {}
    started = time.perf_counter()
    for _ in read_frames(clip):
        pass
    parts["decode"] = (time.perf_counter() - started) / frames
    started = time.perf_counter()
    flows = []
    for before, after in zip(pictures, pictures[1:]):
        backward = dis_flow(after, before)
        flows.append((backward, consistent(backward, dis_flow(before, after))))
    parts["optical flow + occlusion"] = (time.perf_counter() - started) / frames
    started = time.perf_counter()
    for (backward, valid), previous, picture in zip(flows, pictures, pictures[1:]):
        carry_over(previous.astype(np.float32) / 255, picture.astype(np.float32) / 255, backward, valid, 0.7)
    parts["warp + blend"] = (time.perf_counter() - started) / frames
    folder = work / "frames"
    started = time.perf_counter()
    for index, picture in enumerate(pictures):
        save_image(
            to_image(torch.from_numpy(picture).permute(2, 0, 1).float() / 255), frame_path(folder, index), png_level=1
        )
    parts["write PNG"] = (time.perf_counter() - started) / frames
    started = time.perf_counter()
    encode_frames(folder, 1, work / "one.mp4", fractions.Fraction(24))
    start_up = time.perf_counter() - started  # paid once per video: the encoding process's start
    started = time.perf_counter()
    encode_frames(folder, frames, work / "encoded.mp4", fractions.Fraction(24))
    parts["encode MP4"] = (time.perf_counter() - started - start_up) / (frames - 1)
    overhead = sum(parts.values())
    dream = steady - overhead
    rows = [[name, f"{seconds * 1000:.1f}", f"{100 * seconds / dream:.1f} %"] for name, seconds in parts.items()]
    rows.append(["**all of the above**", f"**{overhead * 1000:.1f}**", f"**{100 * overhead / dream:.1f} %**"])
    # Peak memory against length: light settings so that 240 frames take a minute.
    light = ["--model.octaves", "1", "--model.iterations", "1", "--data.frame_iterations", "1"]
    peaks = {}
    for count in (short, long):
        longer = camera_clip(work / f"clip{count}.mp4", count)
        video_n = [*video[:4], str(longer), *video[5:], "--data.output", str(work / f"m{count}"), *light]
        peaks[count] = whole_run(video_n)
    return (
        f"## Motion\n\n`dreamer fit --config configs/video.yaml` on a clip of {frames} frames of 256×170 (the "
        f"bundled photo filmed by a panning, zooming virtual camera; `scripts/coherence.py` makes it), whole "
        f"process, start-up included, median of {reps}: **{wall:.1f} s, {frames / wall:.2f} frames/s**. "
        f"Frame 0 dreams 3 octaves × 8 steps, every later frame 1 × 4: the clip's first frame alone takes "
        f"{first:.1f} s (start-up included), every later frame **{steady * 1000:.0f} ms ({1 / steady:.1f} frames/s)**, "
        "everything included.\n\n"
        "What a continued frame costs beyond its dream, each part timed alone on the same frames, as a share of "
        f"its dream (the frame's time less these parts); the encoder's start, {start_up * 1000:.0f} ms, is paid once "
        "per video and not counted here:\n\n"
        + table(rows, ["part", "ms per frame", "share of the dream"])
        + "\n\nPeak memory (RSS, whole process) against the length of the video, with 1 step per frame:\n\n"
        + table(
            [[f"{count} frames", f"{seconds:.1f}", f"{mib:.0f}"] for count, (seconds, mib) in peaks.items()],
            ["video", "seconds", "peak MiB"],
        )
        + f"\n\n{long} frames take {peaks[long][1] / peaks[short][1]:.3f}× the memory of {short}: decoding is streamed."
    )


TITLES = {
    "whole": "Whole process",
    "overhead": "Framework overhead",
    "batching": "Batching",
    "big": "Big images",
    "fast": "Fast paths",
    "gpu": "GPU",
    "planning": "Planning",
    "motion": "Motion",
}


def merged(path: Path, made: list[str]) -> str:
    """The benchmark file with the sections just made replaced, the others kept as they were."""
    blocks: dict[str, str] = {}
    if path.exists():
        for block in path.read_text().split("\n## ")[1:]:
            blocks[block.split("\n", 1)[0].strip()] = "## " + block.strip()
    for text in made:
        blocks[text.split("\n", 1)[0][3:].strip()] = text.strip()
    order = list(TITLES.values())
    titles = sorted(blocks, key=lambda title: order.index(title) if title in order else len(order))
    head = f"# Benchmarks\n\nMachine: {machine()}. Each section names the command that made it."
    return head + "\n\n" + "\n\n".join(blocks[title] for title in titles) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: seconds")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--sections", default="whole,overhead,batching,big,fast,planning,motion")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--gpu", action="store_true", help="only the GPU section (same as --sections gpu)")
    parser.add_argument("--peak", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    silence_known_noise()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no per-fit banners in the tables
    if args.peak:
        side, tile, iterations = args.peak
        print(json.dumps(peak_child(side, tile or None, iterations)))
        return
    reps = 1 if args.smoke else args.reps
    if args.gpu:
        args.sections = "gpu"
    sections = {
        "whole": whole,
        "overhead": overhead,
        "batching": batching,
        "big": big_images,
        "fast": fast_paths,
        "gpu": gpu,
        "planning": planning,
        "motion": motion,
    }
    command = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    stamp = f"_Made by `{command.strip()}` on {time.strftime('%Y-%m-%d')}; medians of {reps} runs._"
    made = []
    with tempfile.TemporaryDirectory(prefix="dreamer-bench-") as folder:
        for name in args.sections.split(","):
            started = time.perf_counter()
            made.append(sections[name](Path(folder), args.smoke, reps) + "\n\n" + stamp)
            print(made[-1] + f"\n\n({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)
    args.output.write_text(merged(args.output, made))
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
