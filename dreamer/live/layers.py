"""A live dream's layer and channels, turned while it runs: taken at the next frame's first step,
through the network already built (no new run, nothing loaded again)."""

from __future__ import annotations

from typing import Any, Optional, Protocol, cast

import lightning.pytorch as pl
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.events import DreamListener
from dreamer.live.camera import Camera


def layer_value(text: str) -> Any:
    """A layer as the page's control gives it: ``"11"`` is the network's 11th documented layer (a
    number, as ``--model.layers 11`` reads it), anything else a layer's name."""
    return int(text) if text.strip().isdigit() else text.strip()


class Retargets(Protocol):
    """A model that climbs other layers from its next step on (``DreamModule.retarget``)."""

    def retarget(self, layers: Any, channels: Any) -> None: ...


class TakesLayers(pl.Callback, DreamListener):
    """Turns the dream to ``camera.tuning``'s layer and channels when they change."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.climbing: Optional[tuple[Any, Any]] = None  # (layer, channels) climbed now

    @override
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, index: int) -> None:
        tuning = self.camera.tuning
        if tuning is None or tuning.layer is None or not isinstance(batch, DreamBatch) or batch.frame is None:
            return
        wanted = (layer_value(tuning.layer), list(tuning.channels) if tuning.channels else None)
        if self.climbing is None:
            self.climbing = wanted  # what the run was built with
        elif wanted != self.climbing and batch.position.step == 0:
            cast(Retargets, pl_module).retarget(*wanted)  # the data side names no model class
            self.climbing = wanted
