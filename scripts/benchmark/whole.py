"""The whole command a user waits for, start-up included, against the plain script."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Optional

from PIL import Image

from scripts.benchmark.common import (
    DREAMER_NAMES,
    ROOT,
    alternated,
    paired_ratio,
    table,
)


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
        b += [f"--model.{DREAMER_NAMES.get(key, key)}={value}" for key, value in settings.items() if key != "layer"]
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
