"""What every data module hands the dream, and what it is handed: the base of photos, motion and atlas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.octaves import Carry
from dreamer.engine.contract.outline import DreamOutline
from dreamer.errors import ConfigError
from dreamer.files.background import overlaps
from dreamer.files.plan import RunSummary


class DreamSource(pl.LightningDataModule):
    """A data module of dream batches (``DreamSteps`` of ``DreamBatch``).

    It is handed, before the run, the dream's ``outline`` (the octave walk and the model's facts)
    and the inputs it must never write to besides its own (``protected``: config files, weights,
    guides); it declares the callbacks its
    outputs need (``dream_callbacks``: writers, each an ``engine.accounts.Account``) and, for
    sequences, how a frame continues the previous one (``frame_carry``). After ``setup`` its ``summary``
    says what every process planned.
    """

    output: Path
    gives_classes = False  # whether its batches hand each picture its class (for a bare ``class`` objective)

    def __init__(self) -> None:
        super().__init__()
        self.outline: Optional[DreamOutline] = None
        self.protected: list[Path] = []
        self.summary: Optional[RunSummary] = None

    @property
    def current_outline(self) -> DreamOutline:
        if self.outline is None:
            raise RuntimeError("the dream's outline is handed to the data module before the run (dreamer.wire)")
        return self.outline

    def dream_callbacks(self) -> list[Account]:
        """The callbacks this data's outputs need (each an ``Account``: it reports what it wrote and
        what failed); the command line adds them to the Trainer."""
        return []

    def dream_listeners(self) -> list[Any]:
        """Listeners (``DreamListener``) this data's dreams need besides its writers: they account for
        nothing, and may offer lines for the run's end (``engine.accounts.Findings``)."""
        return []

    def animate(self, timeline: Any) -> None:
        """Take settings that change over a sequence (``motion.timeline.Timeline``); only sequences can."""
        raise ConfigError("animation: keyframes and audio drives are for zooms and videos (data.class_path)")

    def frame_carry(self) -> Optional[Carry]:
        """A continued frame's start from the previous dream (``None``: every dream starts afresh)."""
        return None

    @property
    def device(self) -> torch.device:
        """Where the run dreams (the CPU before a Trainer is attached)."""
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    @property
    def on_gpu(self) -> bool:
        """Whether the run dreams on a CUDA device (then loaders pin their pixels)."""
        return self.device.type == "cuda"

    def prefetch(self, num_workers: int) -> int:
        """Batches a loader prepares ahead on a background thread: 2 where that overlaps the dream
        (``overlaps``: on a GPU) and no worker processes prepare them ahead already."""
        return 2 if overlaps(self.device) and num_workers == 0 else 0

    @override
    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # Only the pixels and mask (first step of a dream) go to the device; names, paths and alpha
        # stay put. From pinned memory the copy does not stop the host.
        if isinstance(batch, DreamBatch) and batch.pixels is not None:
            mask = batch.mask.to(device, non_blocking=True) if batch.mask is not None else None
            return replace(batch, pixels=batch.pixels.to(device, non_blocking=True), mask=mask)
        return batch
