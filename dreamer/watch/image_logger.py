"""TensorBoard images of each dream as it grows through the pyramid."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid
from typing_extensions import override

from dreamer.engine.events import Dream, DreamListener
from dreamer.engine.pyramid import fit_within


class DreamImageLogger(pl.Callback, DreamListener):
    """Logs the dream at the end of every octave (and every ``every_n_steps``), tagged
    ``<image>/octaves`` (the slider walks the pyramid) and ``<image>/octave<k>`` (steps within it),
    and at the end a grid of original | dream pairs (``originals|dreams``). Frames of videos and
    zooms are logged once finished, every ``every_n_frames``-th, as ``<video>/frames`` (the step
    slider walks the frames). Rank zero only: the
    images of other processes are not logged (their files are written all the same).

    Args:
        every_n_steps: Also log every this many steps within an octave (0: only at octave ends).
        max_side: Long side of logged images, in pixels.
        max_images: Images of a batch that are logged.
        padding: ``make_grid`` padding between the pairs of the final grid.
        pad_value: ``make_grid`` padding colour.
        every_n_frames: Log every this many frames of a video or zoom (0: none).
    """

    def __init__(
        self,
        every_n_steps: int = 0,
        max_side: int = 512,
        max_images: int = 4,
        padding: int = 4,
        pad_value: float = 1.0,
        every_n_frames: int = 10,
    ) -> None:
        if every_n_steps < 0 or max_side < 8 or max_images < 1 or every_n_frames < 0:
            raise ValueError("every_n_steps and every_n_frames must be >= 0, max_side >= 8 and max_images >= 1")
        self.every_n_frames = every_n_frames
        self.every_n_steps, self.max_side, self.max_images = every_n_steps, max_side, max_images
        self.padding, self.pad_value = padding, pad_value
        self._originals: list[Tensor] = []

    def _experiment(self, trainer: pl.Trainer) -> Any:
        experiment = getattr(trainer.logger, "experiment", None)
        return experiment if hasattr(experiment, "add_image") else None

    @rank_zero_only
    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        pixels = dream.batch.pixels
        if dream.batch.frame is None and pixels is not None and self._experiment(trainer) is not None:
            self._originals = [fit_within(p, self.max_side).cpu() for p in pixels[: self.max_images]]

    @rank_zero_only
    @override
    def on_step_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        position = dream.position
        experiment = self._experiment(trainer)
        if experiment is None or dream.batch.frame is not None or not self.every_n_steps:
            return
        if (position.iteration + 1) % self.every_n_steps == 0:
            for name, picture in zip(dream.batch.names, self._view(images)):
                experiment.add_image(f"{name}/octave{position.octave}", picture, position.iteration + 1)

    @rank_zero_only
    @override
    def on_octave_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        experiment = self._experiment(trainer)
        if experiment is None or dream.batch.frame is not None:
            return
        dreams = self._view(images)
        for name, picture in zip(dream.batch.names, dreams):
            experiment.add_image(f"{name}/octaves", picture, dream.octave)
        if dream.position.dream_end:
            pairs = [image for pair in zip(self._originals, dreams) for image in pair]
            grid = make_grid(pairs, nrow=2, padding=self.padding, pad_value=self.pad_value)
            experiment.add_image("originals|dreams", grid, trainer.global_step)

    @rank_zero_only
    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        experiment, frame = self._experiment(trainer), dream.batch.frame
        if experiment is None or frame is None or not dream.batch.names or not self.every_n_frames:
            return
        if frame.number % self.every_n_frames == 0:  # a finished frame of a video or zoom, every n-th
            experiment.add_image(f"{dream.batch.names[0]}/frames", self._view(images[:1])[0], frame.number)

    def _view(self, images: Tensor) -> list[Tensor]:
        return [fit_within(image, self.max_side).float().cpu() for image in images[: self.max_images]]
