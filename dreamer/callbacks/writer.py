"""Writes each finished dream (and, when known, the config that made it) beside nothing half-done."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch

from dreamer.imageio import save_image, save_text, to_image


class DreamWriter(pl.Callback):
    """At the last step of each dream, saves every image of the batch to its ``targets`` path.

    Files are written under a temporary name and renamed, so a killed run leaves no partial file.
    A dream holding NaN or inf is never written; it is reported in ``failed``. The resolved config
    (``config_text``, set by the CLI) is saved beside each dream as ``<name>.yaml``.
    """

    def __init__(self) -> None:
        self.config_text: Optional[str] = None
        self.written: list[Path] = []
        self.failed: list[str] = []

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if batch["step"] != batch["steps"] - 1 or not batch.get("targets"):
            return
        finite = torch.isfinite(pl_module.image.detach()).flatten(1).all(dim=1).tolist()
        for image, target, ok, name in zip(pl_module.image.detach(), batch["targets"], finite, batch["names"]):
            if not ok:
                self.failed.append(f"{name}: the dream diverged (NaN or inf); nothing written")
                continue
            target = Path(target)
            save_image(to_image(image), target)
            if self.config_text is not None:
                save_text(self.config_text, target.with_suffix(".yaml"))
            self.written.append(target)
