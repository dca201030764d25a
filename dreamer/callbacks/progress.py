"""Lightning's progress bar, saying which image and which octave is being dreamed."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar


class DreamProgressBar(TQDMProgressBar):
    """``chelsea.jpg · octave 3/8`` as the bar's description; the rest is Lightning's bar."""

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
        if batch["step"] % pl_module.hparams.iterations or self.train_progress_bar is None:
            return  # the description changes only when the octave does
        names = batch["names"]
        label = (names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")) if names else "waiting for other processes"
        octave = batch["step"] // pl_module.hparams.iterations + 1
        self.train_progress_bar.set_description(f"{label} · octave {octave}/{pl_module.hparams.octaves}")

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the log version means nothing next to a dream
        return metrics
