"""What keyframes, audio drives, masks and drift control add to a dreamed video's frame."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from scripts.benchmark.common import ROOT, alternated, paired_ratio, table

CLIP = ROOT / "assets" / "chelsea_pan.mp4"
BEAT = ROOT / "assets" / "beat.m4a"
MASK = ROOT / "assets" / "chelsea_pan_mask.png"
KEYFRAMES = {
    0: {"model.lr": 0.012, "data.carry": 0.7, "model.jitter.roll": 16},
    "1s": {"model.lr": 0.02, "data.carry": 0.8},
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
        carry=0.9,
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
        args += ["--data.resize=64", "--octaves.count=2", "--octaves.iterations=2", "--data.frame_iterations=1"]
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
        "the command as a user runs it, alternated. The parts: each option's own work, timed alone against "
        "the preset's frame above.\n\n" + in_process + "\n\n" + whole + "\n\n" + parts()
    )


def parts(reps: int = 50) -> str:
    """Milliseconds of what each option adds to a continued frame, timed alone (256×170, CPU)."""
    import numpy as np
    import torch

    from dreamer.engine.contract.batch import DreamBatch, Frame, Pace, Position
    from dreamer.engine.contract.octaves import OctaveWalk, renewed_step_weights
    from dreamer.engine.image.pyramid import gaussian_pyramid
    from dreamer.files.masks import read_mask
    from dreamer.motion.drift import anchored
    from dreamer.motion.timeline import Timeline
    from dreamer.motion.tracks import SourceTrack
    from dreamer.motion.videoio import read_frames
    from dreamer.motion.warp import consistent, dis_flow, warp
    from scripts.benchmark.common import model_for

    frames = list(read_frames(CLIP))[:3]
    size = frames[0].shape[:2]
    backward = dis_flow(frames[1], frames[0])
    valid = consistent(backward, dis_flow(frames[0], frames[1]))
    timeline = Timeline(keyframes=KEYFRAMES, audio=AUDIO)
    curves = {"onsets": np.random.rand(48), "loudness": np.random.rand(48)}
    model = model_for("mobilenet_v2", 11, octaves=3, iterations=8, lr=0.012, jitter=16).model
    track = SourceTrack(size, max_age=24, seed=0, mask=read_mask(MASK, size), feather=4.0)
    pixels = torch.from_numpy(frames[1]).permute(2, 0, 1)[None].float() / 255
    sizes = [(round(size[0] / 1.4**k), round(size[1] / 1.4**k)) for k in (2, 1, 0)]
    start = frames[1].astype(np.float32) / 255

    def timed(work: object) -> float:
        work()  # type: ignore[operator]  # warm-up
        began = time.perf_counter()
        for _ in range(reps):
            work()  # type: ignore[operator]
        return 1000 * (time.perf_counter() - began) / reps

    def keyframes() -> None:
        values, adds = timeline.at(20, 24.0, curves).under("model")
        model.retune(values, adds)

    track.advance(None, None)  # the first frame
    schedule = OctaveWalk(scale=1.4)
    position = Position(0, 4, 2, 0, 4, 3)
    mask = torch.from_numpy(track.mask())[None, None]
    plain = DreamBatch(pixels=pixels, pace=Pace(2, 4, 3), position=position)
    masked = replace(plain, mask=mask)

    def mask_track() -> None:
        track.advance(lambda values: warp(values, backward), valid)
        torch.from_numpy(track.mask())[None, None]

    def mask_steps() -> None:
        dream = schedule._start_dream(model, masked)
        step = schedule._step(dream)
        image = pixels.clone()
        for _ in range(4):
            step.confine(image)

    def unmasked() -> None:
        schedule._start_dream(model, plain)

    def drift() -> None:
        anchored(start, start.reshape(-1, 3).mean(0), 1.0)

    def renewal() -> None:
        frame = Frame(0, 1, 2, True, None, Path("x.png"), renewed=1 - valid.astype(np.float32))
        batch = DreamBatch(pixels=pixels, frame=frame, pace=Pace(2, 4, 3, lr=0.006))
        renewed_step_weights(batch, gaussian_pyramid(pixels, sizes), model.base_lr / 0.006)

    rows = [
        ["keyframes and audio: the frame's settings, handed to the model", f"{timed(keyframes):.3f}"],
        ["a carried mask: moved along the flow and feathered", f"{timed(mask_track):.3f}"],
        ["a mask: its and the source's top level, 4 confined steps", f"{timed(mask_steps) - timed(unmasked):.3f}"],
        ["keep_colors: the start's means moved", f"{timed(drift):.3f}"],
        ["max_age / frame_lr: the step weights of renewed pixels", f"{timed(renewal):.3f}"],
    ]
    return table(rows, ["what a continued frame does besides the preset (256×170, timed alone)", "ms"])
