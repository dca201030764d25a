"""The octave pyramid and the one owner of the dream in progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Optional

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.engine.batch import DreamBatch, Pace
from dreamer.engine.events import Dream, DreamListener
from dreamer.engine.pyramid import Blend, blend_octave, gaussian_pyramid, gaussian_resize, octave_sizes
from dreamer.engine.step import Dreamable, DreamStep
from dreamer.errors import ConfigError
from dreamer.quiet import warn

Carry = Callable[[DreamBatch, torch.device], Tensor]  # a continued frame's start from the previous dream


class OctaveSchedule(pl.Callback):
    """Owns the dream in progress: walks each batch through its Gaussian pyramid, smallest level
    first, and tells the ``listeners`` (writers, metrics, image logger, progress bar) what happens.

    At a dream's first step it builds the pyramid of the start image (the photo, seeded noise, or
    for a frame that continues a sequence ``carry(batch)``) and decides which levels are large
    enough for their layers; smaller ones are skipped with a warning. A batch with a ``mask`` also
    gets the pyramids of its source and mask, which confine every step, and a continued frame the
    step weights of its renewed pixels. Before every step it hands the module (``Dreamable``) an
    immutable ``DreamStep``; at the first step of every octave the level's start image (blended from
    the previous octave's dream), and it **clears the optimizer state**: the parameter keeps its
    identity, so the optimizer needs no rebuilding, but moments such as Adam's belong to the old size
    and would be wrong at the new one.

    Args:
        scale: Size ratio between neighbouring levels.
        alpha: Weight of the dream when blending into the next level (``blend='alpha'``).
        blend: ``alpha`` or ``detail``.
        init: ``photo`` or ``noise`` (a batch may say otherwise).
        listeners: Told of every dream, octave and step, in this order.
        carry: The start of a frame that continues the previous frame's dream.

    Raises:
        ConfigError: a setting out of range.
    """

    def __init__(
        self,
        scale: float,
        alpha: float = 0.2,
        blend: Blend = "alpha",
        init: Literal["photo", "noise"] = "photo",
        listeners: Sequence[DreamListener] = (),
        carry: Optional[Carry] = None,
    ) -> None:
        octave_sizes(64, 64, 1, scale)  # validates scale
        if blend not in ("alpha", "detail"):
            raise ConfigError(f"blend must be 'alpha' or 'detail', got {blend!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be within [0, 1], got {alpha}")
        if init not in ("photo", "noise"):
            raise ConfigError(f"init must be 'photo' or 'noise', got {init!r}")
        self.scale, self.alpha, self.blend, self.init = scale, alpha, blend, init
        self.listeners, self.carry = list(listeners), carry
        self.dream: Optional[Dream] = None

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: Dreamable, batch: DreamBatch, batch_idx: int
    ) -> None:
        if batch.position.dream_start:
            self.dream = self._start_dream(pl_module, batch)
            for listener in self.listeners:
                listener.on_dream_start(trainer, self.dream)
        dream = self._current()
        dream.position = batch.position
        pl_module.take(self._step(dream))
        if batch.position.octave_start:
            self._enter_octave(trainer, pl_module, dream)
            for listener in self.listeners:
                listener.on_octave_start(trainer, dream)

    @override
    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Dreamable, outputs: Any, batch: DreamBatch, batch_idx: int
    ) -> None:
        dream, position = self._current(), batch.position
        if dream.dreaming:
            dream.objective, dream.layer_objectives = outputs["objective"], outputs.get("layers")
            dream.gradient = pl_module.gradient()
            if position.octave_start:
                dream.first_objective = dream.objective
            images = pl_module.picture()
            for listener in self.listeners:
                listener.on_step_end(trainer, dream, images)
            if position.octave_end:
                for listener in self.listeners:
                    listener.on_octave_end(trainer, dream, images)
        if position.dream_end:
            images = pl_module.picture()
            for listener in self.listeners:
                listener.on_dream_end(trainer, dream, images)

    @staticmethod
    def _step(dream: Dream) -> DreamStep:
        """The record the module takes this step from (its level's step weights and confinement)."""
        octave, dreaming = dream.octave, dream.dreaming
        return DreamStep(
            octave,
            dream.levels,
            dreaming,
            tuple(dream.jitter),
            dream.step_weights[octave] if dreaming and dream.step_weights else None,
            dream.confinement[octave] if dreaming and dream.confinement else None,
        )

    def _current(self) -> Dream:
        if self.dream is None:
            raise RuntimeError("a step arrived before its dream's first step")
        return self.dream

    def _start_dream(self, pl_module: Dreamable, batch: DreamBatch) -> Dream:
        position = batch.position
        jitter = [torch.Generator().manual_seed(seed) for seed in batch.seeds]
        if batch.frame is not None and batch.frame.continues and self.carry is not None:
            pixels = self.carry(batch, pl_module.device)
        else:
            assert batch.pixels is not None  # a dream's first step carries its pixels
            pixels = batch.pixels
        pace = batch.pace or Pace()
        lr = pace.lr if pace.lr is not None else pl_module.base_lr
        pl_module.set_lr(lr)
        if pixels.shape[0] == 0:  # no images: every file of the batch failed, or an idle step
            return Dream(batch, [], [False] * position.levels, jitter, position)
        height, width = pixels.shape[-2:]
        if (batch.init or self.init) == "noise":
            pixels = pl_module.noise(pixels.shape, batch.seeds).to(pixels.device, pixels.dtype)
        sizes = octave_sizes(height, width, position.levels, self.scale)
        sides = [pl_module.min_side(octave, position.levels) for octave in range(position.levels)]
        active = [min(size) >= side for size, side in zip(sizes, sides)]
        if not active[-1]:
            raise ConfigError(
                f"{', '.join(batch.names)}: {height}x{width} px is smaller than the "
                f"{sides[-1]} px that the last octave's layers need"
            )
        if not all(active):
            skipped = sum(not level for level in active)
            warn(
                f"{', '.join(batch.names)} ({width}×{height}): {skipped} of {position.levels} octaves skipped, "
                "too small for their layers"
            )
        dream = Dream(batch, gaussian_pyramid(pixels, sizes), active, jitter, position)
        if batch.mask is not None:
            assert batch.pixels is not None
            dreamed = sizes[pace.first_octave :]  # a continued frame: the top levels only
            sources = gaussian_pyramid(batch.pixels.to(pixels.dtype), dreamed)
            masks = gaussian_pyramid(batch.mask.to(pixels.device, pixels.dtype), dreamed)
            dream.confinement = [*[None] * (len(sizes) - len(dreamed)), *zip(sources, masks)]
        if pl_module.spatial and lr < pl_module.base_lr:  # a per-pixel step size has no meaning for frequencies
            dream.step_weights = renewed_step_weights(batch, dream.originals, pl_module.base_lr / lr)
        return dream

    def _enter_octave(self, trainer: pl.Trainer, pl_module: Dreamable, dream: Dream) -> None:
        if not dream.images:
            pl_module.restart(torch.empty(0, 3, 1, 1, device=pl_module.device))
            for optimizer in trainer.optimizers:
                optimizer.state.clear()  # moments such as Adam's belong to the last batch's images
            return
        octave = dream.octave
        if not dream.active[octave]:
            return
        if dream.dreamed is None:
            start = dream.originals[octave]
        else:
            previous = pl_module.picture()
            start = blend_octave(
                previous, dream.originals[dream.dreamed], dream.originals[octave], self.alpha, self.blend
            )
        pl_module.restart(start, dream.originals[octave])
        dream.dreamed = octave
        for optimizer in trainer.optimizers:
            optimizer.state.clear()


def renewed_step_weights(batch: DreamBatch, originals: list[Tensor], full: float) -> Optional[list[Optional[Tensor]]]:
    """Per level ``[1, 1, h, w]``: ``full`` where a continued frame's start has no dream to carry
    (``Frame.renewed``: uncovered, or renewed past its age), 1 where it tends the carried dream; ``None``
    on levels a frame does not dream, and none at all for a dream that is no such frame."""
    frame, pace = batch.frame, batch.pace or Pace()
    if frame is None or frame.renewed is None or not originals:
        return None
    renewed = torch.from_numpy(frame.renewed)[None, None].to(originals[-1].device, originals[-1].dtype)
    weights = 1 + renewed * (full - 1)
    return [
        gaussian_resize(weights, (level.shape[-2], level.shape[-1])) if k >= pace.first_octave else None
        for k, level in enumerate(originals)
    ]
