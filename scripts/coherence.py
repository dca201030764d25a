"""How much a dreamed video flickers: the warping error of ``configs/video.yaml`` against frames dreamed alone.

    python scripts/coherence.py                 # 48 frames of 256×170 (about 3 min on 2 CPU cores)
    python scripts/coherence.py --frames 12     # quicker
    python scripts/coherence.py --chunk 12      # chunks of 12 frames: the error across seams vs within chunks
    python scripts/coherence.py --frames 48 --sample assets/chelsea_pan.mp4   # the bundled sample clip

The clip is made from the bundled photo (a real photograph) filmed by a virtual camera that pans
across it and slowly zooms in, with a cut-out of the photo sliding the other way in front (so
parts of the picture are hidden and uncovered). It is dreamed twice with the preset, once as it is
(each frame starts from the previous dream carried along the optical flow) and once with
``--data.carry 0`` (every frame a fresh dream of its own, in full). The warping error is the mean
``|dream_t − warp(dream_{t−1})|`` over the pixels visible in both frames, with the flow of the
source frames, in 8-bit levels.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dreamer.motion.frames import video_pictures
from dreamer.motion.videoio import encode_video, read_frames
from dreamer.motion.warp import mean_warping_error

ROOT = Path(__file__).resolve().parents[1]


def camera_clip(path: Path, frames: int, width: int = 256, height: int = 170, crf: int = 12) -> Path:
    """A clip of the bundled photo: pan left to right, zoom in by 15 %, a cut-out moving right to left."""
    photo = np.asarray(Image.open(ROOT / "assets" / "chelsea.jpg").convert("RGB"))
    cut = photo[60:140, 150:230].copy()

    def frame(t: float) -> np.ndarray:
        zoom = 1.0 + 0.15 * t
        scale = zoom * height / photo.shape[0] * 1.2
        x0 = t * (photo.shape[1] - width / scale)
        matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -0.1 * photo.shape[0] * scale]], np.float32)
        picture = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        left = int(round((1 - t) * (width - 60)))
        picture[50:110, left : left + 60] = cv2.resize(cut, (60, 60), interpolation=cv2.INTER_AREA)
        return picture

    encode_video((frame(i / max(1, frames - 1)) for i in range(frames)), path, Fraction(24), crf=crf)
    return path


def dream(clip: Path, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dreamer.cli",
            "fit",
            "--config",
            str(ROOT / "configs" / "video.yaml"),
            "--data.video",
            str(clip),
            "--data.output",
            str(out),
            "--data.resize",
            "null",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger",
            "false",
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def warping_error_of(folder: Path, clip: Path) -> float:
    dreams = (np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png")))
    return mean_warping_error(dreams, read_frames(clip))


def pair_errors(folder: Path, clip: Path) -> list[float]:
    """The warping error of every frame pair (t−1, t), t = 1 …, of the video as encoded (seams cross-faded)."""
    sources = list(read_frames(clip))
    dreams = list(video_pictures(folder, len(sources)))
    return [mean_warping_error(dreams[t - 1 : t + 1], sources[t - 1 : t + 1]) for t in range(1, len(dreams))]


def seams(clip: Path, work: Path, chunk: int, extra: list[str]) -> None:
    """How well chunk seams hide: the warping error across a seam against within chunks."""
    for overlap in (8, 0):
        out = work / f"chunks{overlap}"
        dream(clip, out, *extra, "--data.chunk_frames", str(chunk), "--data.overlap", str(overlap))
        errors = pair_errors(out / "clip.frames", clip)
        at_seams = [e for t, e in enumerate(errors, start=1) if t % chunk == 0]
        inside = [e for t, e in enumerate(errors, start=1) if t % chunk != 0]
        print(
            f"chunks of {chunk} frames, overlap {overlap}: warping error across the {len(at_seams)} seams "
            f"{np.mean(at_seams):.2f}, within chunks {np.mean(inside):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--sample", type=Path, help="only write the clip (as assets/chelsea_pan.mp4 is made) and stop")
    parser.add_argument("--chunk", type=int, default=0, help="also dream in chunks of this many frames: seam errors")
    parser.add_argument("extra", nargs="*", help="more dreamer options for both runs, e.g. --data.carry=0.8")
    args = parser.parse_args()
    if args.sample:
        camera_clip(args.sample, args.frames, crf=20)
        return
    with tempfile.TemporaryDirectory(prefix="dreamer-coherence-") as folder:
        work = Path(folder)
        clip = camera_clip(work / "clip.mp4", args.frames)
        if args.chunk:
            seams(clip, work, args.chunk, args.extra)
            return
        source = mean_warping_error(read_frames(clip), read_frames(clip))
        carried_time = dream(clip, work / "carried", *args.extra)
        alone_time = dream(clip, work / "alone", *args.extra, "--data.carry", "0")
        carried = warping_error_of(work / "carried" / "clip.frames", clip)
        alone = warping_error_of(work / "alone" / "clip.frames", clip)
    print(f"clip: {args.frames} frames of 256x170; warping error of the source itself {source:.2f}")
    print(f"carried along the flow (configs/video.yaml): {carried:.2f}  ({carried_time:.0f} s)")
    print(f"every frame dreamed alone (--data.carry 0):  {alone:.2f}  ({alone_time:.0f} s)")
    print(f"ratio {carried / alone:.2f}")


if __name__ == "__main__":
    main()
