"""What keyframes, audio drives, masks and drift control add to a dreamed video's frame."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

from scripts.benchmark.common import ROOT, alternated, paired_ratio, table

CLIP = ROOT / "assets" / "chelsea_pan.mp4"
BEAT = ROOT / "assets" / "beat.m4a"
MASK = ROOT / "assets" / "chelsea_pan_mask.png"
KEYFRAMES = {
    0: {"model.lr": 0.012, "data.blend": 0.7, "model.jitter.roll": 16},
    "1s": {"model.lr": 0.02, "data.blend": 0.8},
}
AUDIO = [{"setting": "model.lr", "envelope": "onsets", "range": [0.0, 0.004]}]

# variant → (data options, timeline options)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "the preset (configs/video.yaml)": ({}, {}),
    "+ keyframes (lr, blend, jitter) and an audio drive (lr)": (
        {"soundtrack": str(BEAT)},
        {"keyframes": KEYFRAMES, "audio": AUDIO},
    ),
    "+ a first-frame mask carried along the flow": ({"mask": str(MASK)}, {}),
    "+ drift control (max_age 24, keep_colors 0.2)": ({"max_age": 24, "keep_colors": 0.2}, {}),
    "+ keyframed layers (a cross-fade 11 → 14: two layers climbed)": (
        {},
        {"keyframes": {0: {"model.layers": 11}, "2s": {"model.layers": 14}}},
    ),
}


def frame_seconds(out: Path, data_options: dict[str, Any], timeline_options: dict[str, Any], frames: int) -> float:
    """Median seconds between the ends of two continued frames, in-process (``configs/video.yaml``'s
    settings, frames at their own size)."""
    from dreamer.command.memory import keep_freed_memory
    from dreamer.motion.timeline import Timeline, fading_layers
    from dreamer.motion.video import VideoDataModule
    from scripts.benchmark.common import model_for
    from scripts.benchmark.motion import frame_ends

    keep_freed_memory()
    fades = fading_layers(timeline_options.get("keyframes"))
    model = model_for(
        "mobilenet_v2",
        11,
        octaves=3,
        iterations=8,
        lr=0.012,
        alpha=1.0,
        jitter=16,
        tile_size=1024,
        animated_layers=fades,
    )
    data = VideoDataModule(
        video=str(CLIP),
        output=str(out),
        resize=None,
        blend=0.9,
        frame_octaves=1,
        frame_iterations=4,
        frame_lr=0.006,
        **data_options,
    )
    # frame 0 (3 octaves of 8 steps), then 4 steps a frame
    ends = frame_ends(model, data, Timeline(**timeline_options), max_steps=8 * 3 + 4 * (frames + 1))
    intervals = [b - a for a, b in zip(ends[1:frames], ends[2:frames])]
    return statistics.median(intervals)


def whole_command(
    out: Path, data_options: dict[str, Any], timeline_options: dict[str, Any], smoke: bool = False
) -> list[str]:
    args = [sys.executable, "-m", "dreamer.cli", "fit", "--config", "video", f"--data.output={out}"]
    if smoke:  # tiny frames, few steps: only that the commands run
        args += ["--data.resize=64", "--model.octaves=2", "--model.iterations=2", "--data.frame_iterations=1"]
    args += ["--data.overwrite=true", "--trainer.logger=false", "--trainer.enable_progress_bar=false"]
    args += [f"--data.{key}={value}" for key, value in data_options.items()]
    args += [f"--animation.{key}={value}" for key, value in timeline_options.items()]
    return args


def animated(work: Path, smoke: bool, reps: int) -> str:
    frames = 8 if smoke else 48
    names = list(VARIANTS)
    rounds: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(1 if smoke else max(reps, 3)):
        for index, name in enumerate(names):
            data_options, timeline_options = VARIANTS[name]
            rounds[name].append(frame_seconds(work / f"f{rep}-{index}", data_options, timeline_options, frames))
    base = names[0]
    rows = []
    for name in names:
        ratio = statistics.median(x / y for x, y in zip(rounds[name], rounds[base]))
        rows.append(
            [name, f"{1000 * statistics.median(rounds[name]):.0f}", f"{ratio:.3f}", f"{100 * (ratio - 1):+.1f} %"]
        )
    in_process = table(rows, ["a continued frame of the bundled clip (256×170), in-process", "ms", "÷ preset", "added"])
    commands = {name: whole_command(work / f"w{index}", *VARIANTS[name]) for index, name in enumerate(names[:3])}
    runs = alternated(commands, 1 if smoke else max(reps, 3), warm_up=not smoke)
    whole_rows = [
        [name, f"{statistics.median(r[0] for r in runs[name]):.1f}", f"{paired_ratio(runs, name, names[0]):.3f}"]
        for name in commands
    ]
    whole = table(whole_rows, ["`dreamer fit --config video` (48 frames at 384 px), whole process", "s", "÷ preset"])
    return (
        "## Motion settings\n\nWhat keyframes, audio drives, masks and drift control add to a frame of "
        "`configs/video.yaml` on the bundled clip. In-process: the median time between the ends of two continued "
        "frames (everything a frame costs in the run), rounds alternated, ratios within a round. Whole process: "
        "the command as a user runs it, alternated.\n\n" + in_process + "\n\n" + whole
    )
