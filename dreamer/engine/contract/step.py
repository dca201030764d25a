"""The one-way boundary between the owner of a dream (``OctaveWalk``) and the module that climbs it.

The owner asks the module only what ``Dreamable`` declares, and hands it one immutable ``DreamStep``
per step; the module reads that record and never reads or writes the owner's state (the ``Dream``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass(frozen=True)
class DreamStep:
    """What the module needs for one step of a dream, made by the owner at the step's start."""

    octave: int  # pyramid level, 0 the smallest
    levels: int
    dreaming: bool  # whether the step changes the images (images to dream, a level big enough)
    jitter: tuple[torch.Generator, ...] = ()  # one per image (they advance as the jitter draws)
    step_weights: Optional[Tensor] = None  # [1, 1, h, w]: each pixel's step factor at this level
    confinement: Optional[tuple[Tensor, Tensor]] = None  # (source, mask) at this level: where the dream may act

    def confine(self, images: Tensor) -> None:
        """Undo, in place, what the step did outside the mask: there the image stays the source (a soft
        edge lets the dream fade out); at full size the dream then equals the source outside."""
        if self.confinement is not None:
            source, mask = self.confinement
            images.sub_(source).mul_(mask).add_(source)


NO_STEP = DreamStep(octave=0, levels=1, dreaming=False)  # before a dream, or a step that changes nothing


@runtime_checkable
class Dreamable(Protocol):
    """What the owner of a dream may ask of the module that climbs it, and nothing more."""

    @property
    def device(self) -> torch.device: ...

    @property
    def base_lr(self) -> float:
        """The settings' step size (a dream's pace may ask for smaller steps)."""
        ...

    @property
    def spatial(self) -> bool:
        """Whether the image is climbed in pixels (a per-pixel step size has meaning)."""
        ...

    def min_side(self, octave: int, levels: int) -> int:
        """The smallest image side the layers of level ``octave`` of ``levels`` can work on."""
        ...

    def noise(self, shape: torch.Size, seeds: Sequence[int]) -> Tensor:
        """A noise start of ``shape``, each image seeded by its seed."""
        ...

    def set_lr(self, lr: float) -> None:
        """The step size of the steps to come."""
        ...

    def take(self, step: DreamStep) -> None:
        """The record of the step about to run."""
        ...

    def restart(self, start: Tensor, original: Optional[Tensor] = None) -> None:
        """Start an octave from the picture ``start`` (``original``: the photo at this level)."""
        ...

    def picture(self) -> Tensor:
        """The dream's pixels ``[B, 3, H, W]`` now (detached)."""
        ...

    def gradient(self) -> Optional[Tensor]:
        """The latest step's gradient, as the optimiser used it."""
        ...
