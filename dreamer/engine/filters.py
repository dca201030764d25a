"""The filters of every step: on the gradient before the update, on the image after it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dreamer.engine.pyramid import blur, laplacian_normalize
from dreamer.errors import ConfigError


@dataclass(frozen=True)
class StepFilters:
    """``grad_blur``: Gaussian σ (px) of a blur of the gradient; ``laplacian_levels``: normalise the
    gradient band by band over that many Laplacian levels; ``image_blur``: Gaussian σ of a blur of
    the image after the update, which is then clamped to [0, 1]. 0 turns a filter off.

    Raises:
        ConfigError: a negative number of levels.
    """

    grad_blur: float = 0.0
    laplacian_levels: int = 0
    image_blur: float = 0.0

    def __post_init__(self) -> None:
        if self.laplacian_levels < 0:
            raise ConfigError(f"model.laplacian_levels must be >= 0, got {self.laplacian_levels}")

    @torch.no_grad()
    def gradient(self, gradient: Tensor) -> None:
        """Filter ``gradient`` in place."""
        if self.grad_blur > 0:
            gradient.copy_(blur(gradient, self.grad_blur))
        if self.laplacian_levels > 0:
            gradient.copy_(laplacian_normalize(gradient, self.laplacian_levels))

    @torch.no_grad()
    def image(self, image: Tensor) -> None:
        """Filter ``image`` in place and keep it a picture."""
        if self.image_blur > 0:
            image.copy_(blur(image, self.image_blur))
        image.clamp_(0, 1)
