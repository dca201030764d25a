"""A dreamed video's frame folder: where each frame's PNG is kept (a chunk's warm-up dreams apart),
and the finished video's pictures read back from it, with the seams between chunks cross-faded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image


def frame_path(folder: Path, frame: int) -> Path:
    """Where frame ``frame`` of a dreamed video is kept: ``<folder>/000012.png``."""
    return folder / f"{frame:06d}.png"


def warmup_path(folder: Path, frame: int) -> Path:
    """Where a chunk's warm-up dream of frame ``frame`` (the frame before the chunk) is kept."""
    return folder / "warmup" / f"{frame:06d}.png"


def read_picture(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def video_pictures(folder: Path, frames: int) -> Iterator[np.ndarray]:
    """The ``frames`` pictures of a finished video from its frame folder, one at a time.

    Where a chunk follows another, the chunk's warm-up dreams of the frames before it are there too
    (``warmup/``): over those frames the video cross-fades from the earlier chunk's dream to the later
    one's, the later one's weight rising 1/(n+1), 2/(n+1) … over a warm-up of n frames, so the seam
    is spread out instead of a jump."""
    warm = sorted(int(p.stem) for p in (folder / "warmup").glob("*.png")) if (folder / "warmup").is_dir() else []
    weights: dict[int, float] = {}
    run: list[int] = []
    for frame in [*warm, None]:
        if run and (frame is None or frame != run[-1] + 1):
            weights.update({f: (k + 1) / (len(run) + 1) for k, f in enumerate(run)})
            run = []
        if frame is not None:
            run.append(frame)
    for frame in range(frames):
        picture = read_picture(frame_path(folder, frame))
        if frame in weights:
            later = read_picture(warmup_path(folder, frame)).astype(np.float32)
            picture = np.clip((1 - weights[frame]) * picture + weights[frame] * later + 0.5, 0, 255).astype(np.uint8)
        yield picture
