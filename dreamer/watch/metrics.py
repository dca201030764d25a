"""How far each dream moved from its photo, and how much more it excites the layers."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import lightning.pytorch as pl
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure
from typing_extensions import override

from dreamer.engine.batch import DreamBatch
from dreamer.engine.events import Dream, DreamListener
from dreamer.engine.pyramid import fit_within

SSIM_KERNEL = 7
METRIC_SIDE = 1024  # PSNR and SSIM are measured on views at most this long: SSIM of a 12 MP photo costs GiBs


def psnr_per_image(dream: Tensor, original: Tensor) -> Tensor:
    """PSNR in dB of each image of ``[B, C, H, W]`` in [0, 1]."""
    return PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3), reduction="none").to(dream.device)(dream, original)


def ssim_per_image(dream: Tensor, original: Tensor) -> Tensor:
    """SSIM of each image of ``[B, C, H, W]`` in [0, 1] (images of at least ``SSIM_KERNEL`` px)."""
    metric = StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=SSIM_KERNEL, reduction="none")
    return metric.to(dream.device)(dream, original)


class DreamMetrics(pl.Callback, DreamListener):
    """Dream metrics with ``torchmetrics``, per octave and for the whole run.

    * ``psnr``/``ssim``: the dream against the original at the same size (lower = moved further),
      both shrunk to at most ``METRIC_SIDE`` px.
    * ``gain``: the octave's objective at its last step ÷ at its first step; overall, the objective
      at the dream's last step ÷ that of the original photo, with the last octave's layers. The
      objectives are the training steps' own; the only extra forward pass is the photo's, once.

    Per-octave values of rank 0's batches are logged at each octave's end (``metrics/psnr_octave2``
    …); the run's values are kept in ``results`` (averaged over every image of every process:
    torchmetrics syncs its state
    across processes at ``compute()``) and logged at the end.

    Args:
        measure: The objective ``[B]`` of images at a dream's last octave (``DreamObjective.measure``).
    """

    def __init__(self, measure: Callable[[Tensor, DreamBatch], Tensor]) -> None:
        self.measure = measure
        # Means of per-image values: sum and count states sync across processes even when one of
        # them dreamed nothing (torchmetrics' list states would not).
        self.psnr, self.ssim, self.gain = MeanMetric(), MeanMetric(), MeanMetric()
        self.results: dict[str, float] = {}

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for metric in (self.psnr, self.ssim, self.gain):
            metric.to(pl_module.device)

    @override
    def on_octave_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        octave, start, end = dream.octave, dream.first_objective, dream.objective
        assert start is not None and end is not None  # a dreamed octave has taken its steps
        original = dream.originals[octave]
        view, dreamed = fit_within(original.float(), METRIC_SIDE), fit_within(images.float(), METRIC_SIDE)
        psnr = psnr_per_image(dreamed, view)
        ssim = ssim_per_image(dreamed, view) if min(dreamed.shape[-2:]) >= SSIM_KERNEL else None
        if trainer.logger is not None and trainer.is_global_zero:
            # Logged directly: an octave's end rarely falls on the Trainer's log_every_n_steps cadence.
            octave_metrics = {
                f"metrics/psnr_octave{octave}": psnr.mean().item(),
                f"metrics/gain_octave{octave}": (end / start).mean().item(),
            }
            if ssim is not None:
                octave_metrics[f"metrics/ssim_octave{octave}"] = ssim.mean().item()
            trainer.logger.log_metrics(octave_metrics, step=trainer.global_step)
        if dream.position.dream_end:  # the finished dream, at full size
            self.psnr.update(psnr)
            if ssim is not None:
                self.ssim.update(ssim)
            base = self.measure(original, dream.batch)
            rising = base > 0  # a ratio to a non-positive start (noise under the ``mean`` objective) says nothing
            if rising.any():
                self.gain.update((end / base)[rising])

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = {"psnr": self.psnr, "ssim": self.ssim, "gain": self.gain}
        # Every process calls compute(), even one without images: torchmetrics gathers all their states.
        if trainer.world_size > 1 or self.gain.update_count:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r".*was called before the ``update`` method")
                self.results = {name: float(metric.compute()) for name, metric in metrics.items()}
        for metric in metrics.values():
            metric.reset()
        if trainer.logger is not None and self.results:
            trainer.logger.log_metrics({f"metrics/{k}": v for k, v in self.results.items()}, step=trainer.global_step)
            trainer.logger.log_metrics({"hp_metric": self.results["gain"]}, step=trainer.global_step)
