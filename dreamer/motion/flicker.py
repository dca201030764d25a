"""The flicker scorecard: how much each dreamed video changes beyond what its motion explains."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.accounts import Findings
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.files.gather import everyone
from dreamer.files.imageio import to_bytes
from dreamer.motion.warp import warping_error


class FlickerMeter(pl.Callback, DreamListener, Findings):
    """Measures every continued video frame's warping error: the mean ``|frame_t − warp(frame_{t−1})|``
    (in 8-bit levels) over the pixels visible in both frames, with the optical flow the frame was
    carried by, for the dream and for its source. A flickering dream scores far above its source; a
    dream that moves with the picture scores near it.

    Each frame's pair goes to the loggers (``flicker/dream``, ``flicker/source``); ``findings()``
    gives one line per video for the run's end, over all processes.
    """

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.totals: dict[int, list[float]] = {}  # sequence → [dream error sum, source error sum, pairs]
        self._previous: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # sequence → (frame, dream, source)

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        batch, frame = dream.batch, dream.batch.frame
        if frame is None or not batch.names or batch.pixels is None:
            return
        picture = to_bytes(images[0]).permute(1, 2, 0).numpy()
        source = to_bytes(batch.pixels[0]).permute(1, 2, 0).numpy()
        before = self._previous.get(frame.sequence)
        self._previous[frame.sequence] = (frame.number, picture, source)
        if before is None or before[0] != frame.number - 1 or frame.backward is None or frame.valid is None:
            return
        dreamed = warping_error(picture, before[1], frame.backward, frame.valid)
        original = warping_error(source, before[2], frame.backward, frame.valid)
        totals = self.totals.setdefault(frame.sequence, [0.0, 0.0, 0])
        totals[0] += dreamed
        totals[1] += original
        totals[2] += 1
        self.names.setdefault(frame.sequence, batch.names[0])
        for logger in trainer.loggers:
            logger.log_metrics({"flicker/dream": dreamed, "flicker/source": original}, step=trainer.global_step)

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            gathered = everyone((self.totals, self.names), trainer.world_size)
            totals: dict[int, list[float]] = {}
            for part, names in gathered:
                self.names.update(names)
                for sequence, (dreamed, original, pairs) in part.items():
                    sums = totals.setdefault(sequence, [0.0, 0.0, 0])
                    sums[0], sums[1], sums[2] = sums[0] + dreamed, sums[1] + original, sums[2] + pairs
            self.totals = totals

    def scores(self) -> dict[str, tuple[float, float]]:
        """Per video: (dream, source) mean warping error in 8-bit levels."""
        return {
            self.names.get(sequence, str(sequence)): (dreamed / pairs, original / pairs)
            for sequence, (dreamed, original, pairs) in sorted(self.totals.items())
            if pairs
        }

    @override
    def findings(self) -> list[str]:
        lines = []
        for name, (dreamed, original) in self.scores().items():
            ratio = f" ({dreamed / original:.1f}x)" if original > 0 else ""
            lines.append(f"{name}: flicker (warping error) {dreamed:.2f}/255, the source's {original:.2f}/255{ratio}")
        return lines
