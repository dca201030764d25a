"""Carrying one frame's dream into the next frame's start: the previous dream moved as the data side
said (``Frame``: along the optical flow, or one zoom step), its colours held, and, for a target
flicker, the carried share tuned frame by frame from what the carry itself saw."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.files.background import Background
from dreamer.files.imageio import to_bytes
from dreamer.motion.drift import anchored
from dreamer.motion.frames import read_picture
from dreamer.motion.warp import carry_over, warping_error, zoom_step


def quantised(image: Tensor) -> np.ndarray:
    """A dream ``[3, H, W]`` as the 8-bit ``[H, W, 3]`` picture its PNG holds."""
    return to_bytes(image).permute(1, 2, 0).numpy()


class CarryTuner:
    """Tunes, frame by frame, how much of the carried dream each start keeps so that the dream's
    warping error comes near ``target`` times its source's (``data.target_flicker``).

    The weights the data gives (``carry`` × visibility × age) are scaled by a factor per sequence
    (at most ``HIGHEST`` carried anywhere): up by ``(ratio / target) ** RATE`` after a frame that
    flickered more than the target, down after one that flickered less. A fresh dream (a video's
    or chunk's first frame, or a resumed run's) starts again from the factor 1.
    """

    RATE = 0.25
    HIGHEST = 0.98

    def __init__(self, target: float) -> None:
        self.target = target
        self.factors: dict[int, float] = {}

    def restart(self, sequence: int) -> None:
        self.factors[sequence] = 1.0

    def observe(self, sequence: int, dreamed: float, original: float) -> None:
        ratio = dreamed / max(original, 0.05)
        factor = self.factors.get(sequence, 1.0) * (ratio / self.target) ** self.RATE
        self.factors[sequence] = float(np.clip(factor, 0.1, 1 / (1 - self.HIGHEST)))

    def carried(self, sequence: int, carried: np.ndarray) -> np.ndarray:
        """``carried`` (the data's weights) tuned for ``sequence``."""
        return np.minimum(carried * self.factors.get(sequence, 1.0), self.HIGHEST).astype(np.float32)


class FrameCarry(DreamListener):
    """The start of a frame that continues its sequence, which ``OctaveWalk`` asks for at the
    frame's first step: the previous dream moved into the frame (``Frame.zoom``: one zoom step; else
    warped along ``Frame.backward`` and blended with the frame by ``Frame.carried``), then pulled
    ``Frame.keep_colors`` of the way to ``Frame.colours`` (``None``: the frame's own means).

    The previous dream is the 8-bit picture that was written, kept in memory from its dream's end
    (by its PNG's path, a few at a time: frames of several spans may interleave), or read back from
    that PNG when a run resumes, so a resumed video is the same as an uninterrupted one; frames
    still queued on ``writes`` (the writer's background thread) are written before one is read.
    With a ``tuner`` it also measures each continued frame's flicker and tunes the next carry.
    """

    KEPT = 8  # finished pictures kept in memory (frames of up to this many spans interleaved)

    def __init__(self, writes: Optional[Background] = None, tuner: Optional[CarryTuner] = None) -> None:
        self.writes, self.tuner = writes, tuner
        self._kept: dict[Path, np.ndarray] = {}  # a finished frame's PNG path → its picture
        self._sources: dict[int, tuple[int, np.ndarray]] = {}  # tuning: sequence → (frame, its source)

    def keep(self, previous: Path, picture: np.ndarray) -> None:
        """Hold ``picture`` (8-bit ``[H, W, 3]``) as the dream of the frame whose PNG would be ``previous``."""
        self._kept[previous] = picture

    def __call__(self, batch: DreamBatch, device: torch.device) -> Tensor:
        frame = batch.frame
        assert frame is not None and frame.previous is not None  # only continued frames are carried
        previous = self._kept.get(frame.previous)
        if previous is None:
            if self.writes is not None:
                self.writes.drain()
            previous = read_picture(frame.previous)
        start = self.start(previous.astype(np.float32) / 255, batch, frame)
        return torch.from_numpy(np.ascontiguousarray(start)).permute(2, 0, 1)[None].to(device)

    def start(self, previous: np.ndarray, batch: DreamBatch, frame: Frame) -> np.ndarray:
        """``float32 [H, W, 3]``: the previous dream (in [0, 1]) moved into ``frame``, colours held."""
        if frame.zoom is not None:
            start = zoom_step(previous, *frame.zoom)
            colours = frame.colours if frame.colours is not None else start.reshape(-1, 3).mean(0)
            return anchored(start, colours, frame.keep_colors)
        assert batch.pixels is not None and frame.backward is not None and frame.carried is not None
        pixels = batch.pixels[0].permute(1, 2, 0).cpu().numpy()
        carried = self.tuner.carried(frame.sequence, frame.carried) if self.tuner else frame.carried
        start = carry_over(previous, pixels, frame.backward, carried)
        colours = frame.colours if frame.colours is not None else pixels.reshape(-1, 3).mean(0)
        return anchored(start, colours, frame.keep_colors)

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        frame = dream.batch.frame
        if frame is None or not dream.batch.names:
            return
        picture = quantised(images[0])
        if self.tuner is not None:
            self._tune(dream.batch, frame, picture)
        self._kept[frame.target] = picture
        while len(self._kept) > self.KEPT:
            del self._kept[next(iter(self._kept))]  # the oldest

    def _tune(self, batch: DreamBatch, frame: Frame, picture: np.ndarray) -> None:
        """Tell the tuner how much this frame flickered against its source (as the flicker meter measures)."""
        assert self.tuner is not None
        if batch.pixels is None:
            return
        source = to_bytes(batch.pixels[0]).permute(1, 2, 0).numpy()
        before = self._sources.get(frame.sequence)
        self._sources[frame.sequence] = (frame.number, source)
        if not frame.continues:
            self.tuner.restart(frame.sequence)
        if before is None or before[0] != frame.number - 1 or frame.backward is None or frame.valid is None:
            return
        previous = self._kept.get(frame.previous) if frame.previous is not None else None
        if previous is None:
            return
        dreamed = warping_error(picture, previous, frame.backward, frame.valid)
        original = warping_error(source, before[1], frame.backward, frame.valid)
        self.tuner.observe(frame.sequence, dreamed, original)
