"""How far each dream moved from its photo, and how much more it excites the layers."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import lightning.pytorch as pl
import torch
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.engine.image.pyramid import fit_within

SSIM_KERNEL = 7
METRIC_SIDE = 1024  # PSNR and SSIM are measured on views at most this long: SSIM of a 12 MP photo costs GiBs


def psnr_per_image(dream: Tensor, original: Tensor) -> Tensor:
    """PSNR in dB of each image of ``[B, C, H, W]`` in [0, 1]."""
    return peak_signal_noise_ratio(dream, original, data_range=1.0, dim=(1, 2, 3), reduction="none")


def ssim_per_image(dream: Tensor, original: Tensor) -> Tensor:
    """SSIM of each image of ``[B, C, H, W]`` in [0, 1] (images of at least ``SSIM_KERNEL`` px)."""
    return structural_similarity_index_measure(
        dream, original, data_range=1.0, kernel_size=SSIM_KERNEL, reduction="none"
    )


class DreamMetrics(pl.Callback, DreamListener):
    """Dream metrics with ``torchmetrics``, per octave and for the whole run.

    * ``psnr``/``ssim``: the dream against the original at the same size (lower = moved further),
      both shrunk to at most ``METRIC_SIDE`` px; SSIM of the finished dream only (it costs as much as
      a few small steps).
    * ``gain``: the octave's objective at its last step ÷ at its first step; overall, the objective
      at the dream's last step ÷ that of the original photo, with the last octave's layers. The
      objectives are the training steps' own; the only extra forward pass is the photo's, once.

    Per-octave values of rank 0's batches are logged at each octave's end (``metrics/psnr_octave2``
    …), read from the device once per octave; the run's values are kept in ``results`` (averaged
    over every image of every process: torchmetrics syncs its state across processes at
    ``compute()``) and logged at the end.

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
        # SSIM costs as much as a few small steps: measured once per dream, on the finished one.
        finished = dream.position.dream_end
        ssim = ssim_per_image(dreamed, view) if finished and min(dreamed.shape[-2:]) >= SSIM_KERNEL else None
        if trainer.logger is not None and trainer.is_global_zero:
            # Logged directly: an octave's end rarely falls on the Trainer's log_every_n_steps cadence.
            # One transfer for all values: on a GPU each .item() would wait for the device.
            names = [f"metrics/psnr_octave{octave}", f"metrics/gain_octave{octave}"]
            values = [psnr.mean(), (end / start).mean()]
            if ssim is not None:
                names.append(f"metrics/ssim_octave{octave}")
                values.append(ssim.mean())
            trainer.logger.log_metrics(dict(zip(names, torch.stack(values).tolist())), step=trainer.global_step)
        if finished:  # the finished dream, at full size
            self.psnr.update(psnr)
            if ssim is not None:
                self.ssim.update(ssim)
            base = self.measure(original, dream.batch)
            # A ratio to a non-positive start (noise under the ``mean`` objective) says nothing: weight 0
            # (chosen on the device: no wait for it).
            rising = base > 0
            self.gain.update(torch.where(rising, end / base.where(rising, 1), 0), weight=rising.to(end.dtype))

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
