"""The octave pyramid: which size the image has, and how it starts, at every step of a dream."""

from __future__ import annotations

from typing import Any, Literal, Optional

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from dreamer.dream.pyramid import Blend, blend_octave, gaussian_pyramid, octave_sizes
from dreamer.errors import ConfigError
from dreamer.quiet import warn


def noise_like(images: Tensor, seeds: list[int]) -> Tensor:
    """Grey-centred uniform noise in [0.4, 0.6], one seeded stream per image."""
    noise = [torch.rand(images.shape[1:], generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    return (0.4 + 0.2 * torch.stack(noise)).to(images.device, images.dtype)


def dream_position(batch: dict[str, Any], iterations: int) -> tuple[int, int, int]:
    """``(octave, iteration, iterations)`` of a batch's step within its dream.

    A dream walks all octaves with ``iterations`` steps each unless its batch says otherwise: a
    frame that continues a video dreams only the top octaves from ``first_octave`` on, for its own
    ``iterations``."""
    iterations = batch.get("iterations", iterations)
    octave, iteration = divmod(batch["step"], iterations)
    return batch.get("first_octave", 0) + octave, iteration, iterations


class OctaveSchedule(pl.Callback):
    """Walks each batch through the Gaussian pyramid, smallest level first.

    At a dream's first step it builds the pyramid of the original (the photo, or seeded noise)
    and decides which levels are large enough for their layers; smaller ones are skipped with a
    warning. A batch may start its dream above the smallest level (``first_octave``) and keep its
    pixels although ``init`` is noise (``init: photo``): frames that continue a video do. At the
    first step of every octave it sets the image parameter to the level's start
    image (blended from the previous octave's dream) and **clears the optimizer state**: the
    parameter keeps its identity, so the optimizer needs no rebuilding, but moments such as Adam's
    belong to the old size and would be wrong (or fail) at the new one.

    The number of levels is the model's for the batch's size (``levels_for``: ``model.octaves``, or
    with ``auto`` as many as the photo's size asks).

    Args:
        scale: Size ratio between neighbouring levels.
        iterations: Steps per octave.
        alpha: Weight of the dream when blending into the next level (``blend='alpha'``).
        blend: ``alpha`` or ``detail``.
        init: ``photo`` or ``noise``.
    """

    def __init__(
        self,
        scale: float,
        iterations: int,
        alpha: float = 0.2,
        blend: Blend = "alpha",
        init: Literal["photo", "noise"] = "photo",
    ) -> None:
        octave_sizes(64, 64, 1, scale)  # validates scale
        if iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {iterations}")
        if blend not in ("alpha", "detail"):
            raise ConfigError(f"blend must be 'alpha' or 'detail', got {blend!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be within [0, 1], got {alpha}")
        if init not in ("photo", "noise"):
            raise ConfigError(f"init must be 'photo' or 'noise', got {init!r}")
        self.octaves, self.scale, self.iterations = 1, scale, iterations  # octaves: of the dream under way
        self.alpha, self.blend, self.init = alpha, blend, init
        self.originals: list[Tensor] = []
        self.active: list[bool] = []
        self._dreamed: Optional[int] = None  # the last octave that was dreamed

    @override
    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        octave, iteration, _ = dream_position(batch, self.iterations)
        if batch["step"] == 0:
            self._start_dream(pl_module, batch)
        if iteration == 0:
            self._enter_octave(trainer, pl_module, octave)

    def _start_dream(self, pl_module: pl.LightningModule, batch: dict[str, Any]) -> None:
        pixels = batch["pixels"]
        height, width = pixels.shape[-2:]
        self.octaves = pl_module.levels_for((height, width))
        # First: the dream's levels decide which layers (and so which minimum size) each level has.
        pl_module.start_dream(batch["seeds"], batch.get("channels"), batch["names"], self.octaves)
        if pixels.shape[0] == 0:  # every file of this batch failed to decode
            self.active = [False] * self.octaves
            pl_module.image.data = pixels.new_empty(0, 3, 1, 1)
            return
        if batch.get("init", self.init) == "noise":
            pixels = noise_like(pixels, batch["seeds"])
        sizes = octave_sizes(height, width, self.octaves, self.scale)
        self.active = [min(size) >= pl_module.min_input_size(octave) for octave, size in enumerate(sizes)]
        if not self.active[-1]:
            raise ConfigError(
                f"{', '.join(batch['names'])}: {height}x{width} px is smaller than the "
                f"{pl_module.min_input_size(self.octaves - 1)} px that the last octave's layers need"
            )
        if not all(self.active):
            skipped = sum(not active for active in self.active)
            warn(
                f"{', '.join(batch['names'])} ({width}×{height}): {skipped} of {self.octaves} octaves skipped, "
                "too small for their layers"
            )
        self.originals = gaussian_pyramid(pixels, sizes)
        self._dreamed = None

    def _enter_octave(self, trainer: pl.Trainer, pl_module: pl.LightningModule, octave: int) -> None:
        pl_module.octave, pl_module.octave_active = octave, self.active[octave]
        if not self.active[octave]:
            return
        if self._dreamed is None:
            start = self.originals[octave]
        else:
            dream = pl_module.image.detach()
            start = blend_octave(dream, self.originals[self._dreamed], self.originals[octave], self.alpha, self.blend)
        pl_module.image.data = start.to(pl_module.image.dtype).contiguous().clone()
        self._dreamed = octave
        for optimizer in trainer.optimizers:
            optimizer.state.clear()
