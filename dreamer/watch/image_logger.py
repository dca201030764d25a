"""TensorBoard images of each dream as it grows through the pyramid."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchvision.utils import make_grid
from typing_extensions import override

from dreamer.dream.octaves import dream_position
from dreamer.dream.pyramid import fit_within


class DreamImageLogger(pl.Callback):
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
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if batch["step"] == 0 and "frame" not in batch and self._experiment(trainer) is not None:
            self._originals = [fit_within(p, self.max_side).cpu() for p in batch["pixels"][: self.max_images]]

    @rank_zero_only
    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        experiment = self._experiment(trainer)
        if experiment is None or not batch["names"] or not pl_module.octave_active:
            return
        if "frame" in batch:  # a frame of a video or zoom: the finished frame, every n-th
            if (
                self.every_n_frames
                and batch["step"] == batch["steps"] - 1
                and batch["frame"] % self.every_n_frames == 0
            ):
                frame = fit_within(pl_module.image.detach()[0], self.max_side).float().cpu()
                experiment.add_image(f"{batch['names'][0]}/frames", frame, batch["frame"])
            return
        octave, iteration, iterations = dream_position(batch, pl_module.hparams.iterations)
        octave_end = iteration == iterations - 1
        periodic = self.every_n_steps and (iteration + 1) % self.every_n_steps == 0
        if not (octave_end or periodic):
            return
        dreams = [fit_within(d, self.max_side).float().cpu() for d in pl_module.image.detach()[: self.max_images]]
        for name, dream in zip(batch["names"], dreams):
            if periodic:
                experiment.add_image(f"{name}/octave{octave}", dream, iteration + 1)
            if octave_end:
                experiment.add_image(f"{name}/octaves", dream, octave)
        if octave_end and batch["step"] == batch["steps"] - 1:
            pairs = [image for pair in zip(self._originals, dreams) for image in pair]
            grid = make_grid(pairs, nrow=2, padding=self.padding, pad_value=self.pad_value)
            experiment.add_image("originals|dreams", grid, trainer.global_step)
