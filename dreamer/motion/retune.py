"""Handing each frame's animated model settings to the module as its dream starts."""

from __future__ import annotations

import lightning.pytorch as pl
from typing_extensions import override

from dreamer.engine.events import Dream, DreamListener


class Retune(DreamListener):
    """At each frame's first step, the model takes the frame's keyframed and audio-driven settings
    (``DreamModule.retune``); settings nothing animates keep their configured values."""

    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        frame = dream.batch.frame
        if frame is not None and frame.settings is not None:
            values, adds = frame.settings.under("model")
            trainer.lightning_module.retune(values, adds)
