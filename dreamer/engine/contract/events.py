"""The dream in progress, and what its owner (``OctaveWalk``) tells those who listen.

Writers, metrics, the image logger and the progress bar are handed each event with what it concerns
(the dream and its images), as Lightning's ``BasePredictionWriter`` is handed its predictions: none
reaches into the module or finds another callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import lightning.pytorch as pl
import torch
from torch import Tensor

from dreamer.engine.contract.batch import DreamBatch, Position


@dataclass
class Dream:
    """One batch's walk through its pyramid: everything that lives as long as the dream.

    Made and kept by ``OctaveWalk``, read by its listeners; the module never sees it (it is handed
    each step's ``engine.step.DreamStep``).
    """

    batch: DreamBatch  # as it arrived at its first step (pixels, names, targets, frame …)
    originals: list[Tensor]  # the start image at every level, smallest first (empty: no images)
    active: list[bool]  # levels large enough for their layers
    jitter: list[torch.Generator]  # one per image, seeded by its name
    position: Position  # of the latest step
    dreamed: Optional[int] = None  # the last octave dreamed so far
    first_objective: Optional[Tensor] = None  # per image, at the current octave's first step
    objective: Optional[Tensor] = None  # per image, at the latest step
    layer_objectives: Optional[dict[str, Tensor]] = None  # per layer and image, when several layers are summed
    gradient: Optional[Tensor] = None  # of the latest step, as the optimiser used it
    confinement: Optional[list[Optional[tuple[Tensor, Tensor]]]] = None  # per dreamed level: (source, mask)
    step_weights: Optional[list[Optional[Tensor]]] = None  # per dreamed level [1, 1, h, w]: each pixel's step factor

    @property
    def octave(self) -> int:
        return self.position.octave

    @property
    def levels(self) -> int:
        return self.position.levels

    @property
    def images(self) -> int:
        return len(self.originals[0]) if self.originals else 0

    @property
    def dreaming(self) -> bool:
        """Whether the current step changes the image (an image to dream, a level big enough)."""
        return self.images > 0 and self.active[self.octave]


class DreamListener:
    """Hears the events of every dream; override the ones you need. ``images`` are the dreams
    ``[B, 3, h, w]`` after the step (detached, on the device)."""

    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        """A batch starts its dream (also one without images: failed files, an idle process)."""

    def on_octave_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        """A level of the pyramid starts (also one skipped as too small)."""

    def on_step_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        """A step that changed the images ended."""

    def on_octave_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        """A level that was dreamed ended."""

    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        """The batch's dream is finished: ``images`` are the dreams at full size."""
