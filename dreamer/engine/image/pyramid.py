"""Pure functions of the image pyramid: level sizes, Gaussian resizing and octave blending."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2.functional import gaussian_blur

from dreamer.errors import ConfigError

Blend = Literal["alpha", "detail"]


def octave_sizes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Sizes of ``octaves`` pyramid levels with ratio ``scale``, smallest first, last = ``(height, width)``.

    Levels are rounded to whole pixels and never smaller than 1 px; deciding which levels are too
    small for a network is the caller's job.
    """
    if octaves < 1:
        raise ConfigError(f"octaves must be >= 1, got {octaves}")
    if scale <= 1:
        raise ConfigError(f"scale must be > 1, got {scale}")
    return [
        (max(1, round(height / scale**level)), max(1, round(width / scale**level)))
        for level in reversed(range(octaves))
    ]


def auto_octaves(height: int, width: int, scale: float, smallest: int) -> int:
    """As many levels as make the smallest one's long side about ``smallest`` px (at least one): the
    size of the dreamed forms is set by the smallest level, so they then look alike at any photo size."""
    side = max(height, width)
    return 1 if side <= smallest else 1 + round(math.log(side / smallest) / math.log(scale))


def stretched(octave: int, octaves: int, entries: int) -> int:
    """The schedule entry (of ``entries``) for pyramid level ``octave`` of ``octaves``: the first level
    takes the first entry, the last the last, the others spread evenly in between."""
    if octave < 0:
        octave += octaves
    return entries - 1 if octaves == 1 else int(octave * (entries - 1) / (octaves - 1) + 0.5)


def blur(images: Tensor, sigma: float) -> Tensor:
    """Gaussian blur of ``[B, C, H, W]`` with standard deviation ``sigma`` px (kernel ±3σ, reflect
    padding, shrunk to fit small images); ``sigma <= 0`` returns the input."""
    if sigma <= 0:
        return images
    kernel = min(2 * math.ceil(3 * sigma) + 1, 2 * ((min(images.shape[-2:]) - 1) // 2) + 1)
    if kernel < 3:
        return images
    return gaussian_blur(images, [kernel, kernel], [sigma, sigma])


def gaussian_resize(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``[B, C, H, W]`` to ``size``; shrinking first blurs with a Gaussian that removes what the
    smaller grid cannot hold (σ = ½·√(f² − 1) for a shrink factor f), so levels do not alias."""
    height, width = images.shape[-2:]
    if (height, width) == tuple(size):
        return images
    factor = max(height / size[0], width / size[1])
    if factor > 1:
        images = blur(images, 0.5 * math.sqrt(factor**2 - 1))
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def fit_within(images: Tensor, max_side: int) -> Tensor:
    """``[..., H, W]`` shrunk (Gaussian-filtered) so its long side is at most ``max_side``."""
    height, width = images.shape[-2:]
    scale = max_side / max(height, width)
    if scale >= 1:
        return images
    flat = images.reshape(-1, *images.shape[-3:]) if images.dim() >= 3 else images[None, None]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return gaussian_resize(flat, size).reshape(*images.shape[:-2], *size)


def gaussian_pyramid(images: Tensor, sizes: list[tuple[int, int]]) -> list[Tensor]:
    """The image at every size of ``sizes``."""
    return [gaussian_resize(images, size) for size in sizes]


def blend_octave(
    dream: Tensor, original_before: Tensor, original_next: Tensor, alpha: float, blend: Blend = "alpha"
) -> Tensor:
    """The start image of the next octave.

    ``alpha``:  ``(1 − alpha) · original_next + alpha · upscaled dream`` (alpha 0 restarts from the
    photo, alpha 1 keeps the whole dream).
    ``detail``: ``original_next + upscaled(dream − original_before)`` (Google's notebook: only the
    detail the dream added travels up the pyramid).
    """
    size = original_next.shape[-2:]
    if blend == "alpha":
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be within [0, 1], got {alpha}")
        upscaled = F.interpolate(dream, size=size, mode="bilinear", align_corners=False)
        return ((1 - alpha) * original_next + alpha * upscaled).clamp(0, 1)
    if blend == "detail":
        detail = F.interpolate(dream - original_before, size=size, mode="bilinear", align_corners=False)
        return (original_next + detail).clamp(0, 1)
    raise ConfigError(f"Unknown blend {blend!r}; use 'alpha' or 'detail'")


def binomial_kernel(channels: int, like: Tensor) -> Tensor:
    """The 5×5 binomial low-pass ``[1, 4, 6, 4, 1]ᵀ[1, 4, 6, 4, 1] / 256``, one per channel."""
    row = like.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = torch.outer(row, row) / 256
    return kernel.expand(channels, 1, 5, 5)


def laplacian_split(images: Tensor, levels: int) -> list[Tensor]:
    """A Laplacian pyramid of ``[B, C, H, W]``: ``levels`` bands, finest first, the last the low-pass
    rest; ``laplacian_merge`` adds them back to ``images`` exactly. Levels stop early once a band
    would be smaller than 2 px."""
    if levels < 1:
        raise ConfigError(f"laplacian levels must be >= 1, got {levels}")
    bands, current = [], images
    for _ in range(levels - 1):
        if min(current.shape[-2:]) < 4:
            break
        channels = current.shape[1]
        padded = F.pad(current, (2, 2, 2, 2), mode="reflect")
        low = F.conv2d(padded, binomial_kernel(channels, current), stride=2, groups=channels)
        bands.append(current - _upsample(low, current.shape[-2:]))
        current = low
    return [*bands, current]


def _upsample(images: Tensor, size: torch.Size) -> Tensor:
    return F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)


def laplacian_merge(bands: list[Tensor]) -> Tensor:
    """The image whose ``laplacian_split`` is ``bands``."""
    image = bands[-1]
    for band in reversed(bands[:-1]):
        image = band + _upsample(image, band.shape[-2:])
    return image


def normalized_bands(gradient: Tensor, levels: int, eps: float = 1e-12) -> list[Tensor]:
    """The Laplacian bands of ``gradient``, each divided by its own standard deviation, per image."""
    return [band / band.std(dim=(1, 2, 3), keepdim=True).clamp_min(eps) for band in laplacian_split(gradient, levels)]


def laplacian_normalize(gradient: Tensor, levels: int) -> Tensor:
    """TensorFlow's DeepDream ``lap_normalize``: every scale of the gradient gets an equal say, so fine
    detail cannot drown the large forms at high resolutions (and vice versa)."""
    return laplacian_merge(normalized_bands(gradient, levels))
