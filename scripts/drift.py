"""Coherence, strength and drift of dreamed videos and zooms, as the closing figures measure them.

    python scripts/drift.py coherence [--frames 48] [--data.carry=0.9 …]        # carried vs alone
    python scripts/drift.py drift --frames 240 --data.max_age=24 …             # a clip and a zoom, off vs on

*Coherence*: the warping error (``motion.warp.mean_warping_error``: mean ``|dream_t −
warp(dream_{t−1})|`` over pixels visible in both frames, 8-bit levels) of the video preset's dream of
a clip (with the extra options given), against the same frames each dreamed alone by the preset
(``--data.carry 0``), on the bundled clip and on a generated one (``tests/videos.py``: a panning
texture with a square moving the other way in front).

*Strength*: the activation gain of each frame (the preset's layer objective of the dream ÷ of its
source frame); later frames against frame 0's.

*Drift*: per frame, the mean brightness and per-channel means of the dream minus the source frame's
(for a zoom, minus its first frame's), in 8-bit levels; a straight line fitted over the frames gives
the drift per 100 frames (its slope × 100), the worst channel's and the brightness's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from dreamer.engine.contract.batch import DreamBatch, Position
from dreamer.engine.module import DreamModule
from dreamer.motion.videoio import read_frames
from dreamer.motion.warp import mean_warping_error

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
from coherence import camera_clip  # noqa: E402


def run(config: str, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "dreamer.cli", "fit", "--config", config, "--data.output", str(out)]
    quiet = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
    subprocess.run([*command, *quiet, *extra], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def frames_in(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def gains(dreams: list[np.ndarray], sources: list[np.ndarray], preset: str) -> np.ndarray:
    """Each frame's activation gain at the preset's layer."""
    settings = yaml.safe_load((ROOT / "configs" / f"{preset}.yaml").read_text())["model"]
    objective = DreamModule(**settings).objective
    batch = DreamBatch(pixels=None, position=Position(0, 1, 0, 0, 1, 1))

    def measure(picture: np.ndarray) -> float:
        image = torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255
        return float(objective.measure(image, batch)[0])

    return np.array([measure(d) / measure(s) for d, s in zip(dreams, sources)])


def drift_per_100(differences: np.ndarray) -> tuple[float, float]:
    """(brightness, worst channel) slope × 100 of per-frame mean differences ``[T, 3]``."""
    frames = np.arange(len(differences))
    channels = [np.polyfit(frames, differences[:, c], 1)[0] * 100 for c in range(3)]
    brightness = np.polyfit(frames, differences.mean(1), 1)[0] * 100
    return float(brightness), float(max(channels, key=abs))


def means(pictures: list[np.ndarray]) -> np.ndarray:
    return np.array([p.reshape(-1, 3).mean(0) for p in pictures])


def coherence(frames: int, extra: list[str], work: Path) -> None:
    from tests.videos import make_video

    generated = make_video(work / "generated.mp4", frames=frames, size=(170, 256), fps=24)
    clips = {"bundled clip": ROOT / "assets" / "chelsea_pan.mp4", "generated clip": generated}
    for label, clip in clips.items():
        sources = list(read_frames(clip))[:frames]
        size = ["--data.resize", "null"]
        carried_time = run("video", work / "carried", f"--data.video={clip}", *size, *extra)
        alone_time = run("video", work / "alone", f"--data.video={clip}", *size, "--data.carry=0")  # the preset's dream
        name = clip.stem + ".frames"
        carried, alone = frames_in(work / "carried" / name), frames_in(work / "alone" / name)
        error_carried, error_alone = mean_warping_error(carried, sources), mean_warping_error(alone, sources)
        gain = gains(carried, sources, "video")
        print(
            f"{label} ({len(sources)} frames): warping error carried {error_carried:.2f} ({carried_time:.0f} s), "
            f"alone {error_alone:.2f} ({alone_time:.0f} s), ratio {error_carried / error_alone:.3f}; source "
            f"{mean_warping_error(sources, sources):.2f}; gain frame 0 {gain[0]:.2f}, later frames mean "
            f"{gain[1:].mean():.2f} (min {gain[1:].min():.2f}) = {gain[1:].mean() / gain[0]:.2f}x frame 0's"
        )
        for folder in ("carried", "alone"):
            subprocess.run(["rm", "-rf", str(work / folder)], check=True)


def drift(frames: int, extra: list[str], work: Path) -> None:
    clip = camera_clip(work / "clip.mp4", frames)
    sources = list(read_frames(clip))
    for label, options in (("off", ["--data.max_age=0", "--data.keep_colors=0"]), ("on", extra)):
        seconds = run("video", work / f"video-{label}", f"--data.video={clip}", "--data.resize=null", *options)
        dreams = frames_in(work / f"video-{label}" / "clip.frames")
        brightness, channel = drift_per_100(means(dreams) - means(sources))
        gain = gains(dreams, sources, "video")
        print(
            f"video {frames} frames, drift control {label} {options}: drift per 100 frames brightness "
            f"{brightness:+.2f}, worst channel {channel:+.2f} (8-bit levels); gain later/first "
            f"{gain[1:].mean() / gain[0]:.2f}; {seconds:.0f} s"
        )
        zoom_options = [option for option in options if not option.startswith("--data.max_age")]  # videos only
        seconds = run("zoom", work / f"zoom-{label}", f"--data.frames={frames}", "--data.gif=false", *zoom_options)
        dreams = frames_in(work / f"zoom-{label}" / "chelsea.frames")
        brightness, channel = drift_per_100(means(dreams) - means(dreams[:1]))
        print(
            f"zoom {frames} frames, drift control {label}: drift per 100 frames brightness {brightness:+.2f}, "
            f"worst channel {channel:+.2f}; {seconds:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["coherence", "drift"])
    parser.add_argument("--frames", type=int, default=48)
    args, extra = parser.parse_known_args()
    args.extra = [option for option in extra if option != "--"]  # dreamer options (for drift: the control)
    with tempfile.TemporaryDirectory(prefix="dreamer-drift-") as folder:
        (coherence if args.what == "coherence" else drift)(args.frames, args.extra, Path(folder))


if __name__ == "__main__":
    main()
