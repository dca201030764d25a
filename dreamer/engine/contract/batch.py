"""What flows from the data to the dream: a typed batch that knows where in its dream each step is."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Position:
    """Where a step lies in its dream: computed once, where the steps are made (``DreamSteps``)."""

    step: int  # within the dream
    steps: int
    octave: int  # pyramid level, 0 the smallest
    iteration: int  # within the octave
    iterations: int
    levels: int  # pyramid levels of the dream

    @property
    def dream_start(self) -> bool:
        return self.step == 0

    @property
    def dream_end(self) -> bool:
        return self.step == self.steps - 1

    @property
    def octave_start(self) -> bool:
        return self.iteration == 0

    @property
    def octave_end(self) -> bool:
        return self.iteration == self.iterations - 1


@dataclass(frozen=True)
class Pace:
    """How a dream walks its pyramid when it differs from the model's: from ``first_octave`` up, for
    ``iterations`` steps per octave (``None``: the model's), over ``levels`` levels (``None``: as
    many as the model gives its size), with steps of ``lr`` (``None``: the model's). A frame that
    continues a video dreams only the top octaves, often with smaller steps."""

    first_octave: int = 0
    iterations: Optional[int] = None
    levels: Optional[int] = None
    lr: Optional[float] = None


IDLE = Pace(first_octave=0, iterations=1, levels=1)  # one step that dreams nothing


@dataclass(frozen=True)
class Frame:
    """A frame of a video or zoom: which sequence, which frame, and everything its start needs to
    carry the previous frame's dream into it (the data side computes it; the carry only applies it)."""

    sequence: int  # the sequence's index in the plan
    number: int
    count: int  # frames of the sequence
    continues: bool  # its dream starts from the previous frame's
    previous: Optional[Path]  # the previous frame's PNG (read back when a run resumes)
    target: Path  # where this frame's PNG goes
    backward: Optional[np.ndarray] = None  # video: flow from this frame to the previous one
    valid: Optional[np.ndarray] = None  # video: pixels the flow carries reliably
    carried: Optional[np.ndarray] = None  # [H, W]: how much of the previous dream each pixel's start keeps
    renewed: Optional[np.ndarray] = None  # [H, W]: 1 where the start has no dream to carry (hidden before, renewed)
    zoom: Optional[tuple[float, float, tuple[float, float]]] = None  # zoom: (zoom, rotate, translate) into it
    colours: Optional[np.ndarray] = None  # [3]: the means a start is pulled to (``None``: the frame's own)
    keep_colors: float = 0.0  # how far the start is pulled to ``colours``
    settings: Any = None  # the frame's animated settings (``motion.timeline.FrameSettings``)


@dataclass
class DreamBatch:
    """One batch of images, dreamed together: the pixels at its first step, and what each image is.

    ``DreamSteps`` repeats it once per gradient step with its ``position``; later steps carry no
    pixels, so nothing is copied to the device again.
    """

    pixels: Optional[Tensor]  # [B, 3, H, W] in [0, 1], first step only
    names: list[str] = field(default_factory=list)  # identities (relative paths)
    seeds: list[int] = field(default_factory=list)  # each image's jitter and noise
    targets: list[Path] = field(default_factory=list)  # where each dream goes (frames: ``frame.target``)
    sidecars: list[Optional[Path]] = field(default_factory=list)  # configs beside the dreams
    sources: list[Optional[Path]] = field(default_factory=list)  # each image's input file (None: in memory)
    remakes: list[dict[str, Any]] = field(default_factory=list)  # data settings that make only this image
    alphas: list[Optional[Tensor]] = field(default_factory=list)  # alpha channels to re-attach
    mask: Optional[Tensor] = None  # [B, 1, H, W] in [0, 1]: where the dream may act (first step only)
    channels: Optional[list[int]] = None  # each image's own channel (an atlas)
    init: Optional[Literal["photo", "noise"]] = None  # overrides ``octaves.init`` for this batch
    failed: list[str] = field(default_factory=list)  # inputs of this batch that could not be read
    damaged: Optional[tuple[int, int]] = None  # (sequence, frames readable): a stream that broke off
    frame: Optional[Frame] = None
    pace: Optional[Pace] = None
    position: Position = Position(0, 1, 0, 0, 1, 1)

    @classmethod
    def idle(cls, **fields: object) -> DreamBatch:
        """A one-step batch without images: a process waiting for the others, or a report."""
        return cls(pixels=torch.empty(0, 3, 1, 1), pace=IDLE, **fields)  # type: ignore[arg-type]

    def pin_memory(self) -> DreamBatch:
        """The batch with its pixels in page-locked memory (a DataLoader with ``pin_memory`` calls
        this), so that their copy to a GPU runs without stopping the host."""
        if self.pixels is None:
            return self
        return replace(
            self, pixels=self.pixels.pin_memory(), mask=self.mask.pin_memory() if self.mask is not None else None
        )

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the images, known at the first step."""
        if self.pixels is None:
            raise ValueError("a batch's size is known at its first step only")
        height, width = self.pixels.shape[-2:]
        return height, width
