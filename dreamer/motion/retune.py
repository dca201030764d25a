"""Handing each frame's animated model settings to the module as its dream starts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Protocol

import lightning.pytorch as pl
from typing_extensions import override

from dreamer.engine.contract.events import Dream, DreamListener


class Retunable(Protocol):
    """A module that takes a frame's animated settings (``DreamModule.retune``)."""

    def retune(self, values: Mapping[str, Any], adds: Mapping[str, float]) -> None: ...


class Retune(pl.Callback, DreamListener):
    """At each frame's first step, the model takes the frame's keyframed and audio-driven settings
    (``Retunable.retune``); settings nothing animates keep their configured values. The Trainer hands
    it the model at ``setup``."""

    def __init__(self) -> None:
        self.model: Optional[Retunable] = None

    @override
    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        self.model = pl_module

    @override
    def on_dream_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        frame = dream.batch.frame
        if frame is not None and frame.settings is not None:
            if self.model is None:
                raise RuntimeError("Retune hears a dream before the Trainer set it up")
            values, adds = frame.settings.under("model")
            self.model.retune(values, adds)
