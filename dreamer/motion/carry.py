"""Carrying one frame's dream into the next frame's start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.engine.batch import DreamBatch
from dreamer.engine.events import Dream, DreamListener
from dreamer.files.background import Background
from dreamer.files.imageio import to_bytes
from dreamer.motion.videoio import read_picture

Transition = Callable[[np.ndarray, DreamBatch], np.ndarray]


def quantised(image: Tensor) -> np.ndarray:
    """A dream ``[3, H, W]`` as the 8-bit ``[H, W, 3]`` picture its PNG holds."""
    return to_bytes(image).permute(1, 2, 0).numpy()


class FrameCarry(DreamListener):
    """The start of a frame that continues its sequence: ``transition(previous_dream, batch)``, a
    zoom step, or the previous dream warped along the optical flow and blended with the new frame.

    The previous dream is the 8-bit picture that was written, kept from its dream's end (by its
    PNG's path, a few at a time: frames of several spans may interleave), or read back from that PNG
    when a run resumes, so a resumed video is the same as an uninterrupted one; frames still queued
    on ``writes`` (the writer's background thread) are written before one is read. ``OctaveSchedule``
    calls it at a continued frame's first step.
    """

    KEPT = 8  # finished pictures kept in memory (frames of up to this many spans interleaved)

    def __init__(self, transition: Transition, writes: Optional[Background] = None) -> None:
        self.transition, self.writes = transition, writes
        self._kept: dict[Path, np.ndarray] = {}  # a finished frame's PNG path → its picture

    def __call__(self, batch: DreamBatch, device: torch.device) -> Tensor:
        frame = batch.frame
        assert frame is not None and frame.previous is not None  # only continued frames are carried
        previous = self._kept.get(frame.previous)
        if previous is None:
            if self.writes is not None:
                self.writes.drain()
            previous = read_picture(frame.previous)
        start = self.transition(previous, batch)
        return torch.from_numpy(np.ascontiguousarray(start)).permute(2, 0, 1)[None].to(device)

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        frame = dream.batch.frame
        if frame is not None and dream.batch.names:
            self._kept[frame.target] = quantised(images[0])
            while len(self._kept) > self.KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest
