"""The filters of every step: on the gradient before the update, on the image after it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from dreamer.engine.image.pyramid import blur, laplacian_normalize
from dreamer.errors import ConfigError


@dataclass(frozen=True)
class StepFilters:
    """The filters of every step (the ``model.filters`` group); 0 turns a filter off.

    Args:
        grad_blur: Gaussian blur σ (px) of the gradient before each update.
        laplacian_levels: Normalise the gradient band by band over a Laplacian pyramid of this many
            levels (TensorFlow's DeepDream ``lap_normalize``, 4 there), so that no scale of detail
            drowns the others at high resolutions.
        image_blur: Gaussian blur σ (px) of the image after each update, which is then clamped to [0, 1].

    Raises:
        ConfigError: a negative blur or number of levels.
    """

    grad_blur: float = 0.0
    laplacian_levels: int = 0
    image_blur: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise ConfigError(f"model.filters.{name} must be >= 0, got {value}")

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


NO_FILTERS = StepFilters()
