"""Lightning's progress bar, saying which image and which octave is being dreamed."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar
from typing_extensions import override

from dreamer.dream.octaves import dream_position


class DreamProgressBar(TQDMProgressBar):
    """``chelsea.jpg · octave 3/8`` (``clip.mp4 · frame 12/240 · octave 4/4``) as the bar's
    description; the rest is Lightning's bar."""

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
        octave, iteration, _ = dream_position(batch, pl_module.hparams.iterations)
        if iteration or self.train_progress_bar is None:
            return  # the description changes only when the octave does
        names = batch["names"]
        label = (
            (names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")) if names else "waiting for other processes"
        )
        if names and "frame" in batch:
            label += f" · frame {batch['frame'] + 1}/{batch['frames']}"
        self.train_progress_bar.set_description(f"{label} · octave {octave + 1}/{pl_module.levels}")

    @override
    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the log version means nothing next to a dream
        return metrics
