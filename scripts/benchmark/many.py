"""Many photos with a light network: where the network is fast, what else the whole command costs."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch
from PIL import Image, ImageOps

from dreamer.engine.contract.batch import DreamBatch
from scripts.benchmark.common import ROOT, alternated, median_seconds, model_for, paired_ratio, process, table


def photo_folder(folder: Path, count: int, side: int) -> Path:
    """``count`` different photos of ``side``² (crops of the bundled photo, every other one mirrored), as JPEGs."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = Image.open(ROOT / "assets" / "chelsea.jpg").convert("RGB")
    width, height = sample.size
    for index in range(count):
        x, y, crop = (index * 37) % (width - 200), (index * 23) % (height - 200), 200 + (index * 13) % 100
        picture = sample.crop((x, y, min(width, x + crop), min(height, y + crop)))
        picture = picture.resize((side, side), Image.Resampling.LANCZOS)
        (ImageOps.mirror(picture) if index % 2 else picture).save(folder / f"photo{index:03d}.jpg", quality=92)
    return folder


def network_seconds(side: int, octaves: int, scale: float, iterations: int, reps: int) -> float:
    """The network's share of one photo's dream: forward and backward of dreamer's own objective
    (MobileNetV2 to ``features.4``, channels-last as dreamer runs it) at each octave's size, in-process."""
    from dreamer.command.memory import keep_freed_memory

    keep_freed_memory()  # as the command line dreams: no page faults from freed activations
    model = model_for("mobilenet_v2", 4, weights=None, octaves=octaves, iterations=iterations, scale=scale).model
    sizes = [round(side / scale**k) for k in reversed(range(octaves))]
    images = [torch.rand(1, 3, s, s).contiguous(memory_format=torch.channels_last) for s in sizes]

    def dream() -> None:
        for image in images:
            for _ in range(iterations):
                image = image.detach().requires_grad_(True)
                model.objective(image, DreamBatch(None)).sum().backward()  # one layer for every octave

    return median_seconds(dream, max(reps, 3))


def many(work: Path, smoke: bool, reps: int) -> str:
    count, side = (6, 64) if smoke else (48, 256)
    octaves, scale, iterations, lr, alpha, jitter = 2, 1.4, 2 if smoke else 5, 0.05, 0.2, 8
    folder = photo_folder(work / "many", count, side)
    first = photo_folder(work / "first", 1, side)
    plain = [sys.executable, str(ROOT / "scripts" / "plain_deepdream.py")]
    plain_settings = ["--backbone", "mobilenet_v2", "--layer", "4", "--octaves", str(octaves), "--scale", str(scale)]
    plain_settings += ["--iterations", str(iterations), "--lr", str(lr), "--alpha", str(alpha), "--jitter", str(jitter)]
    dreamer = [sys.executable, "-m", "dreamer.cli", "fit", "--data.overwrite", "true"]
    dreamer += ["--trainer.default_root_dir", str(work / "logs"), "--model.backbone", "mobilenet_v2"]
    dreamer += ["--model.weights", "null", "--model.layers", "4", "--octaves.count", str(octaves)]
    dreamer += ["--octaves.scale", str(scale), "--octaves.iterations", str(iterations), "--model.lr", str(lr)]
    dreamer += ["--octaves.alpha", str(alpha), "--model.jitter.roll", str(jitter)]
    lean = ["--trainer.logger", "false"]

    def commands(photos: Path) -> dict[str, list[str]]:
        out = work / f"out-{photos.name}"
        return {
            "loop": [*plain, str(photos), str(out / "loop"), *plain_settings],
            "defaults": [*dreamer, "--data.images", str(photos), "--data.output", str(out / "defaults")],
            "lean": [*dreamer, *lean, "--data.images", str(photos), "--data.output", str(out / "lean")],
        }

    runs = alternated(commands(folder), reps, warm_up=not smoke)
    ones = alternated(commands(first), reps, warm_up=not smoke)
    median = {name: statistics.median(run[0] for run in runs[name]) for name in runs}
    peak = {name: statistics.median(run[1] for run in runs[name]) for name in runs}
    marginal = {  # per photo beyond the first: start-up and the first photo's warm-up cancel out
        name: statistics.median((r[0] - o[0]) / (count - 1) for r, o in zip(runs[name], ones[name])) for name in runs
    }
    network = network_seconds(side, octaves, scale, iterations, reps)
    labels = {
        "loop": "hand-written loop (`scripts/plain_deepdream.py FOLDER`)",
        "defaults": "dreamer, defaults",
        "lean": "dreamer, `--trainer.logger false`",
    }
    rows = [
        [
            labels[name],
            f"{median[name]:.2f} s",
            "1.000" if name == "loop" else f"**{paired_ratio(runs, name, 'loop'):.3f}**",
            f"{marginal[name] * 1000:.0f} ms",
            "" if name == "loop" else f"{(marginal[name] - network) * 1000:+.0f} ms",
            f"{peak[name]:.0f}",
        ]
        for name in ("loop", "defaults", "lean")
    ]
    memory = memory_rows(work, dreamer, smoke)
    return (
        f"## Many photos\n\n{count} photos of {side}² (JPEG crops of the bundled photo), MobileNetV2 to "
        f"`features.4`, random weights, {octaves} octaves of {scale} × {iterations} steps, lr {lr}, alpha {alpha}, "
        f"jitter {jitter}: a light network, where what is not the network shows. Whole processes, start-up "
        "included, alternated loop, defaults, lean after a warm-up round; medians of "
        f"{reps}, ratios paired within a round. The loop dreams the photos one after another in one process "
        "(decode, dream, write PNG), the same math as dreamer. *Per photo* is the marginal cost (the "
        f"{count}-photo run less a 1-photo run, ÷ {count - 1}); *outside the network* subtracts the "
        f"network's own forward and backward passes for one photo, timed in-process ({network * 1000:.0f} ms, "
        "channels-last and with freed memory kept for reuse, as dreamer runs it).\n\n"
        + table(
            rows,
            [
                "command",
                "whole process",
                "÷ loop",
                "per photo",
                "outside the network, per photo",
                "peak MiB",
            ],
        )
        + "\n\n"
        + memory
    )


def memory_rows(work: Path, dreamer: list[str], smoke: bool) -> str:
    """Peak memory against the number of photos: the writer's queue is bounded."""
    small, large = (5, 20) if smoke else (50, 500)
    folder = photo_folder(work / "memory", large, 96)
    subset = work / "memory-subset"
    subset.mkdir(exist_ok=True)
    for path in sorted(folder.iterdir())[:small]:
        (subset / path.name).write_bytes(path.read_bytes())
    quick = ["--octaves.count", "1", "--octaves.iterations", "1"]
    peaks = {}
    for count, photos in ((small, subset), (large, folder)):
        command = [*dreamer, *quick, "--data.images", str(photos), "--data.output", str(work / f"mem{count}")]
        seconds, mib, _ = process(command)
        peaks[count] = (seconds, mib)
    rows = [[f"{count} photos of 96²", f"{seconds:.1f} s", f"{mib:.0f}"] for count, (seconds, mib) in peaks.items()]
    ratio = peaks[large][1] / peaks[small][1]
    return (
        "Peak memory (RSS, whole process, dreamer's defaults, 1 octave × 1 step) against the number of photos:\n\n"
        + table(rows, ["run", "seconds", "peak MiB"])
        + f"\n\n{large} photos take **{ratio:.3f}×** the memory of {small}: on a CPU each dream is written as "
        "it ends; on a GPU the writer's queue holds 4 at most (``files.background.Background``)."
    )
