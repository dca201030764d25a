"""Dreamed video: frames per second, what a frame costs beyond its dream, memory against length."""

from __future__ import annotations

import fractions
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

if TYPE_CHECKING:
    from dreamer.motion.timeline import Timeline
    from dreamer.motion.video import VideoDataModule
    from scripts.benchmark.common import Setup

from scripts.benchmark.common import (
    ROOT,
    table,
    whole_run,
)


def motion(work: Path, smoke: bool, reps: int) -> str:
    """Dreamed video: frames per second, what the frames cost beyond dreaming, memory vs length."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from coherence import camera_clip

    from dreamer.files.imageio import save_image, to_image
    from dreamer.motion.encoder import encode_frames
    from dreamer.motion.frames import frame_path
    from dreamer.motion.videoio import read_frames
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
        carry_over(
            previous.astype(np.float32) / 255,
            picture.astype(np.float32) / 255,
            backward,
            0.7 * valid.astype(np.float32),
        )
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
    alone = frame_dream_alone(pictures[0].shape[:2], reps)
    beyond = steady - alone  # what the whole run spends on a continued frame beyond its dream
    interval = frame_interval(clip, work / "inproc", reps)
    rows = [[name, f"{seconds * 1000:.1f}", f"{100 * seconds / dream:.1f} %"] for name, seconds in parts.items()]
    rows.append(["**all of the above**", f"**{overhead * 1000:.1f}**", f"**{100 * overhead / dream:.1f} %**"])
    # Peak memory against length: light settings so that 240 frames take a minute.
    light = ["--octaves.count", "1", "--octaves.iterations", "1", "--data.frame_iterations", "1"]
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
        f"A continued frame's dream alone (1 octave × 4 steps of the same network on a {pictures[0].shape[1]}×"
        f"{pictures[0].shape[0]} image, timed in-process) takes {alone * 1000:.0f} ms: the whole run spends "
        f"**{beyond * 1000:.1f} ms ({100 * beyond / alone:.1f} %) more per frame** on everything else (the whole "
        "run's frame, less its dream alone). Timed in-process, where start-up noise does not divide into the "
        f"frames (the median time between two continued frames' ends, same settings, median of {max(reps, 3)} runs): "
        f"**{interval * 1000:.0f} ms, {100 * (interval - alone) / alone:.1f} % beyond the dream alone**. "
        "On a GPU decoding and optical flow run a frame ahead on a thread and "
        "the PNGs are written on another; on a CPU they run in turn with the dream, whose threads use every core "
        "(``files.background.overlaps``). Each part timed alone on the same frames, as a share of the frame's "
        "time less "
        f"these parts (the encoder's start, {start_up * 1000:.0f} ms, is paid once per video and not counted "
        "here):\n\n"
        + table(rows, ["part", "ms per frame", "share of the dream"])
        + "\n\nPeak memory (RSS, whole process) against the length of the video, with 1 step per frame:\n\n"
        + table(
            [[f"{count} frames", f"{seconds:.1f}", f"{mib:.0f}"] for count, (seconds, mib) in peaks.items()],
            ["video", "seconds", "peak MiB"],
        )
        + f"\n\n{long} frames take {peaks[long][1] / peaks[short][1]:.3f}× the memory of {short}: decoding is streamed."
    )


def frame_dream_alone(size: tuple[int, int], reps: int) -> float:
    """Seconds of a continued frame's dream with ``configs/video.yaml``'s network and pace (1 octave
    × 4 steps), the steps alone: jitter, forward, backward, update."""
    from dreamer.engine.contract.batch import DreamBatch
    from scripts.benchmark.common import median_seconds, model_for

    model = model_for("mobilenet_v2", 11, octaves=1, iterations=4, jitter=16).model
    start = torch.rand(1, 3, *size)

    def dream() -> None:
        image = start.clone()
        for _ in range(4):
            image = torch.roll(image, (3, -5), dims=(-2, -1)).detach().requires_grad_(True)
            model.objective(image, DreamBatch(None), 0).sum().backward()
            with torch.no_grad():
                image = (image + 0.012 * image.grad / image.grad.abs().mean()).clamp(0, 1)

    return median_seconds(dream, max(reps, 5))


def frame_ends(
    setup: Setup, data: VideoDataModule, timeline: Optional[Timeline] = None, **trainer_kwargs
) -> list[float]:
    """When each frame's dream ended (``perf_counter``), in a fit of ``data`` on the CPU."""
    import lightning.pytorch as pl

    from dreamer import wire
    from dreamer.engine.contract.events import DreamListener

    class FrameEnds(pl.Callback, DreamListener):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_dream_end(self, trainer: pl.Trainer, dream: object, images: object) -> None:
            self.ends.append(time.perf_counter())

    ends = FrameEnds()
    wiring = wire(setup.model, data, setup.octaves, timeline, given=[ends], progress_bar=False)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=wiring.callbacks,
        **trainer_kwargs,
    )
    trainer.fit(setup.model, datamodule=data)
    return ends.ends


def frame_interval(clip: Path, out: Path, reps: int) -> float:
    """Median seconds between the ends of two continued frames of ``configs/video.yaml``'s dream of
    ``clip`` (frames at their own size), in-process: everything a frame costs in the run."""
    from dreamer.command.memory import keep_freed_memory
    from dreamer.motion.video import VideoDataModule
    from scripts.benchmark.common import model_for

    keep_freed_memory()  # as the command line runs
    medians = []
    for rep in range(max(reps, 3)):
        model = model_for("mobilenet_v2", 11, octaves=3, iterations=8, lr=0.012, alpha=1.0, jitter=16, tile_size=1024)
        data = VideoDataModule(
            video=str(clip),
            output=str(out / str(rep)),
            resize=None,
            carry=0.9,
            frame_octaves=1,
            frame_iterations=4,
            frame_lr=0.006,
        )
        ends = frame_ends(model, data)
        medians.append(statistics.median(b - a for a, b in zip(ends[1:], ends[2:])))
    return statistics.median(medians)
