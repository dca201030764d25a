"""The octave pyramid and the one owner of the dream in progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Optional, Union

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch, Pace
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.engine.contract.step import Dreamable, DreamStep
from dreamer.engine.image.pyramid import Blend, blend_octave, gaussian_pyramid, gaussian_resize, octave_sizes
from dreamer.errors import ConfigError
from dreamer.quiet import warn

Carry = Callable[[DreamBatch, torch.device], Tensor]  # a continued frame's start from the previous dream


@dataclass(frozen=True)
class Octaves:
    """How every dream walks its image pyramid (the ``octaves`` section of a config).

    Args:
        count: Pyramid levels, smallest first, the last at full size (the seed's ``times``); ``auto``:
            per photo, as many as make the smallest level's long side about ``smallest`` px, so the
            dreamed forms have the same size on any photo; per-octave ``model.layers`` and
            ``model.channels`` then stretch over the levels (first entry on the smallest, last on the full size).
        smallest: With ``count: auto``, the long side of the smallest level, in pixels.
        scale: Size ratio between neighbouring levels (seed 1.8, Google 1.4).
        iterations: Gradient steps per octave (the seed's ``epochs``).
        alpha: At each new octave start from ``(1 - alpha) * photo + alpha * dream`` (``blend: alpha``).
        blend: ``alpha``, or ``detail`` to carry only the detail the dream added (Google's notebook).
        init: Start from the ``photo`` or from ``noise`` (shows what the layer or channel wants).

    Raises:
        ConfigError: a setting out of range.
    """

    count: Union[int, Literal["auto"]] = 8
    smallest: int = 160
    scale: float = 1.8
    iterations: int = 20
    alpha: float = 0.2
    blend: Blend = "alpha"
    init: Literal["photo", "noise"] = "photo"

    def __post_init__(self) -> None:
        if self.count != "auto" and (not isinstance(self.count, int) or self.count < 1):
            raise ConfigError(f"octaves.count must be a number >= 1 or 'auto', got {self.count!r}")
        if self.smallest < 8:
            raise ConfigError(f"octaves.smallest must be at least 8 px, got {self.smallest}")
        if self.iterations < 1:
            raise ConfigError(f"octaves.iterations must be >= 1, got {self.iterations}")
        if not self.scale > 1:
            raise ConfigError(f"octaves.scale must be > 1, got {self.scale}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"octaves.alpha must be within [0, 1], got {self.alpha}")
        if self.blend not in ("alpha", "detail"):
            raise ConfigError(f"octaves.blend must be 'alpha' or 'detail', got {self.blend!r}")
        if self.init not in ("photo", "noise"):
            raise ConfigError(f"octaves.init must be 'photo' or 'noise', got {self.init!r}")


DEFAULT_OCTAVES = Octaves()  # the seed's: 8 octaves of 1.8, 20 steps each, alpha 0.2


class OctaveWalk(pl.Callback):
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
        octaves: The walk: scale between levels, the blend into the next level, the start (a batch
            may say otherwise).
        listeners: Told of every dream, octave and step, in this order.
        carry: The start of a frame that continues the previous frame's dream.
    """

    def __init__(
        self, octaves: Octaves = DEFAULT_OCTAVES, listeners: Sequence[DreamListener] = (), carry: Optional[Carry] = None
    ) -> None:
        self.octaves, self.listeners, self.carry = octaves, list(listeners), carry
        self.dream: Optional[Dream] = None

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """The walk's settings join the model's and the data's among the loggers' hyperparameters."""
        for logger in trainer.loggers:
            logger.log_hyperparams({"octaves": asdict(self.octaves)})

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
        if (batch.init or self.octaves.init) == "noise":
            pixels = pl_module.noise(pixels.shape, batch.seeds).to(pixels.device, pixels.dtype)
        sizes = octave_sizes(height, width, position.levels, self.octaves.scale)
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
                previous,
                dream.originals[dream.dreamed],
                dream.originals[octave],
                self.octaves.alpha,
                self.octaves.blend,
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
