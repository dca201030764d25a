"""Lightning's progress bar, saying which image and which octave is being dreamed."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.watch.scalars import logging_step


class DreamProgressBar(TQDMProgressBar, DreamListener):
    """``chelsea.jpg · octave 3/8`` (``clip.mp4 · frame 12/240 · octave 4/4``) as the bar's
    description and the objective, read from the device every ``log_every_n_steps`` steps, as its
    postfix; the rest is Lightning's bar."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.objective: dict[str, str] = {}

    @override
    def on_step_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        if dream.objective is not None and logging_step(trainer):
            self.objective = {"objective": f"{dream.objective.mean().item():.3f}"}

    @override
    def on_octave_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        if self.train_progress_bar is None:
            return
        names, frame = dream.batch.names, dream.batch.frame
        label = (
            (names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")) if names else "waiting for other processes"
        )
        if names and frame is not None:
            label += f" · frame {frame.number + 1}/{frame.count}"
        self.train_progress_bar.set_description(f"{label} · octave {dream.octave + 1}/{dream.levels}")

    @override
    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the log version means nothing next to a dream
        return {**metrics, **self.objective}
