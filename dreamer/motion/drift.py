"""Keeping long sequences from drifting: dreamed detail that ages out, colours anchored to the source.

Pure functions on ``numpy`` maps ``[H, W]``. The *age* of a pixel is how many frames its dream has
been carried along the motion. Past ``max_age`` frames a pixel's carried dream fades, over a quarter
of that again, back to the source frame (where this frame's steps start a fresh dream), and its age
starts over. Ages start staggered by a smooth random field, so the picture renews patch by patch
rather than all at once.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def fade_frames(max_age: int) -> int:
    """Frames over which a pixel past ``max_age`` fades to the source."""
    return max(1, max_age // 4)


def first_ages(size: tuple[int, int], max_age: int, seed: int) -> np.ndarray:
    """Ages at a sequence's first frame: a smooth random field in [0, max_age), seeded."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((4, 4)).astype(np.float32)
    field = cv2.resize(coarse, size[::-1], interpolation=cv2.INTER_CUBIC)
    low, high = field.min(), field.max()
    return ((field - low) / max(high - low, 1e-6) * (max_age - 1)).astype(np.float32)


def carried_share(ages: np.ndarray, max_age: int) -> np.ndarray:
    """How much of its carried dream each pixel keeps (1 up to ``max_age``, then down to 0)."""
    return np.clip(1 - (ages - max_age) / fade_frames(max_age), 0, 1).astype(np.float32)


def older(ages: np.ndarray, move: Callable[[np.ndarray], np.ndarray], valid: np.ndarray, max_age: int) -> np.ndarray:
    """The next frame's ages: moved with the picture (``move``) one frame older; pixels that were
    not seen before (not ``valid``) or have faded out entirely start at 0."""
    moved = move(ages)
    ages = np.where(valid, moved + 1, 0).astype(np.float32)
    return np.where(ages > max_age + fade_frames(max_age), 0, ages).astype(np.float32)


def anchored(start: np.ndarray, means: np.ndarray, strength: float) -> np.ndarray:
    """``start`` ``[H, W, 3]`` with its per-channel means moved ``strength`` of the way to ``means``
    (the source's): brightness and colour cast cannot creep from frame to frame."""
    if strength <= 0:
        return start
    shift = strength * (np.asarray(means, np.float32) - start.reshape(-1, 3).mean(0))
    return np.clip(start + shift, 0, 1).astype(np.float32)
