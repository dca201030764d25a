"""TensorBoard images of each dream as it grows through the pyramid."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid
from typing_extensions import override

from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.engine.image.pyramid import fit_within
from dreamer.files.background import Background, overlaps


class DreamImageLogger(pl.Callback, DreamListener):
    """TensorBoard pictures of each dream as it grows, octave by octave.

    Logs the dream at the end of every octave (and every ``every_n_steps``), tagged
    ``<image>/octaves`` (the slider walks the pyramid) and ``<image>/octave<k>`` (steps within it),
    and at the end a grid of original | dream pairs (``originals|dreams``), for the first batch and
    every ``every_n_dreams``-th after it. Frames of videos and zooms are logged once finished, every
    ``every_n_frames``-th, as ``<video>/frames`` (the step slider walks the frames). The loop only
    shrinks and copies the pictures; on a GPU TensorBoard's PNG encoding runs on a background thread. Rank
    zero only: the images of other processes are not logged (their files are written all the same).

    Args:
        every_n_steps: Also log every this many steps within an octave (0: only at octave ends).
        max_side: Long side of logged images, in pixels.
        max_images: Images of a batch that are logged.
        padding: ``make_grid`` padding between the pairs of the final grid.
        pad_value: ``make_grid`` padding colour.
        every_n_frames: Log every this many frames of a video or zoom (0: none).
        every_n_dreams: Log the first batch of photos and every this many after it (1: all of them;
            TensorBoard shows 10 images of a tag by default, and encoding each costs as much as a few
            small steps).
    """

    def __init__(
        self,
        every_n_steps: int = 0,
        max_side: int = 512,
        max_images: int = 4,
        padding: int = 4,
        pad_value: float = 1.0,
        every_n_frames: int = 10,
        every_n_dreams: int = 10,
    ) -> None:
        if every_n_steps < 0 or max_side < 8 or max_images < 1 or every_n_frames < 0 or every_n_dreams < 1:
            raise ValueError(
                "every_n_steps and every_n_frames must be >= 0, every_n_dreams >= 1, max_side >= 8 and max_images >= 1"
            )
        self.every_n_frames, self.every_n_dreams = every_n_frames, every_n_dreams
        self.every_n_steps, self.max_side, self.max_images = every_n_steps, max_side, max_images
        self.padding, self.pad_value = padding, pad_value
        self._originals: list[Tensor] = []
        self._dreams = 0  # batches of photos started so far
        self._logging = False  # whether the current batch of photos is logged
        self.background = Background("dreamer-image-log")

    def _experiment(self, trainer: pl.Trainer) -> Any:
        experiment = getattr(trainer.logger, "experiment", None)
        return experiment if hasattr(experiment, "add_image") else None

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.background.threaded = overlaps(trainer.strategy.root_device)

    def _add(self, experiment: Any, tag: str, picture: Tensor, step: int) -> None:
        """``add_image`` through ``background`` (its thread on a GPU; ``picture`` is a copy on the CPU)."""
        self.background.submit(lambda: experiment.add_image(tag, picture, step))

    @rank_zero_only
    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        pixels = dream.batch.pixels
        self._logging = False
        if dream.batch.frame is None and pixels is not None and len(pixels) > 0:
            self._logging = self._dreams % self.every_n_dreams == 0 and self._experiment(trainer) is not None
            self._dreams += 1
        if self._logging:
            assert pixels is not None
            self._originals = self._view(pixels)

    @rank_zero_only
    @override
    def on_step_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        position = dream.position
        experiment = self._experiment(trainer)
        if experiment is None or not self._logging or not self.every_n_steps:
            return
        if (position.iteration + 1) % self.every_n_steps == 0:
            for name, picture in zip(dream.batch.names, self._view(images)):
                self._add(experiment, f"{name}/octave{position.octave}", picture, position.iteration + 1)

    @rank_zero_only
    @override
    def on_octave_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        experiment = self._experiment(trainer)
        if experiment is None or not self._logging:
            return
        dreams = self._view(images)
        for name, picture in zip(dream.batch.names, dreams):
            self._add(experiment, f"{name}/octaves", picture, dream.octave)
        if dream.position.dream_end:
            pairs = [image for pair in zip(self._originals, dreams) for image in pair]
            grid = make_grid(pairs, nrow=2, padding=self.padding, pad_value=self.pad_value)
            self._add(experiment, "originals|dreams", grid, trainer.global_step)

    @rank_zero_only
    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        experiment, frame = self._experiment(trainer), dream.batch.frame
        if experiment is None or frame is None or not dream.batch.names or not self.every_n_frames:
            return
        if frame.number % self.every_n_frames == 0:  # a finished frame of a video or zoom, every n-th
            self._add(experiment, f"{dream.batch.names[0]}/frames", self._view(images[:1])[0], frame.number)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.background.drain()

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.background.settle()

    def _view(self, images: Tensor) -> list[Tensor]:
        """Copies on the CPU, shrunk to ``max_side``: the dream goes on changing the images."""
        return [
            fit_within(image, self.max_side).to(device="cpu", dtype=torch.float32, copy=True)
            for image in images[: self.max_images]
        ]
