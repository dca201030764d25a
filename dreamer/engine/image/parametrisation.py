"""Image parametrisations: the space in which the dream's parameter lives, and the way back to pixels.

``pixel`` climbs the pixels themselves (DeepDream's own). ``fft`` climbs Fourier coefficients scaled
by 1/frequency, so that every frequency band moves at the same rate and the picture grows coarse to
fine; ``decorrelated`` climbs colours in a decorrelated basis of ImageNet's colour statistics (Olah
et al., "Feature Visualization", Distill 2017). Both map to pixels through a sigmoid, so pictures
always lie in (0, 1). Every map is per image: a batch's images never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from dreamer.errors import ConfigError

ParametrisationName = Literal["pixel", "fft", "decorrelated", "fft+decorrelated"]
NAMES: tuple[str, ...] = ("pixel", "fft", "decorrelated", "fft+decorrelated")

# Square root of ImageNet's colour covariance (Lucid's ``color_correlation_svd_sqrt``), its columns
# scaled so the largest has unit norm: a decorrelated colour of unit size stays a plausible colour.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=torch.float64)
COLOUR = (_COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()).float()
COLOUR_INVERSE = torch.linalg.inv(_COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()).float()
_FFT_GAIN = 4.0  # the spectrum's image is divided by this, as Lucid does, so a unit step is a gentle one
_EDGE = 1e-3  # photos are clamped to [_EDGE, 1 − _EDGE] before the sigmoid's inverse


def frequency_scale(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """``[H, W//2 + 1]``: 1/frequency of every coefficient of a real 2-D FFT (at least 1/max side away
    from zero, so the mean colour keeps a finite weight)."""
    fy = torch.fft.fftfreq(height, device=device)[:, None]
    fx = torch.fft.rfftfreq(width, device=device)[None, :]
    return 1.0 / torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / max(height, width))


def _colours(images: Tensor, matrix: Tensor) -> Tensor:
    """Every pixel's colour of ``[B, 3, H, W]`` multiplied by a 3×3 ``matrix``."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(images.device, images.dtype), images)


@dataclass(frozen=True)
class Parametrisation:
    """How the dream's parameter maps to pixels (``decode``) and back (``encode``).

    Args:
        fft: The parameter is the 1/f-scaled spectrum ``[B, 3, H, W//2+1, 2]`` (real, imaginary).
        decorrelated: Colours live in ImageNet's decorrelated colour basis.
    """

    fft: bool = False
    decorrelated: bool = False

    @classmethod
    def named(cls, name: str) -> Parametrisation:
        """``pixel``, ``fft``, ``decorrelated`` or ``fft+decorrelated``."""
        parts = set(name.replace(" ", "").split("+"))
        if name not in NAMES and not (parts <= {"fft", "decorrelated"} and parts):
            raise ConfigError(f"model.parametrisation: {name!r} is not one of {', '.join(NAMES)}")
        return cls(fft="fft" in parts, decorrelated="decorrelated" in parts)

    @property
    def name(self) -> str:
        return "+".join(part for part, on in (("fft", self.fft), ("decorrelated", self.decorrelated)) if on) or "pixel"

    @property
    def pixel(self) -> bool:
        return not (self.fft or self.decorrelated)

    @property
    def spatial(self) -> bool:
        """Whether the parameter is laid out like the picture (per-pixel filters and weights apply)."""
        return not self.fft

    def decode(self, parameter: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        """Pixels ``[B, 3, H, W]`` in (0, 1) of ``parameter`` (``size``: the picture's, for ``fft``)."""
        if self.pixel:
            return parameter
        latent = parameter.float()
        if self.fft:
            height, width = size if size is not None else (latent.shape[-3], 2 * (latent.shape[-2] - 1))
            if latent.shape[0] == 0:  # no images (an idle process): FFTs take no empty tensors
                return parameter.new_zeros(0, 3, height, width)
            spectrum = torch.view_as_complex(latent.contiguous()) * frequency_scale(height, width, latent.device)
            latent = torch.fft.irfft2(spectrum, s=(height, width), norm="ortho") / _FFT_GAIN
        if self.decorrelated:
            latent = _colours(latent, COLOUR)
        return torch.sigmoid(latent).to(parameter.dtype)

    def encode(self, pixels: Tensor) -> Tensor:
        """The parameter whose picture is ``pixels`` ``[B, 3, H, W]`` (exactly, within [0.001, 0.999])."""
        if self.pixel:
            return pixels
        latent = torch.logit(pixels.float().clamp(_EDGE, 1 - _EDGE))
        if self.decorrelated:
            latent = _colours(latent, COLOUR_INVERSE)
        if self.fft:
            height, width = latent.shape[-2:]
            if latent.shape[0] == 0:  # no images (an idle process): FFTs take no empty tensors
                return pixels.new_zeros(0, 3, height, width // 2 + 1, 2)
            spectrum = torch.fft.rfft2(latent * _FFT_GAIN, norm="ortho") / frequency_scale(height, width, latent.device)
            latent = torch.view_as_real(spectrum)
        return latent.to(pixels.dtype)

    def noise(self, shape: Sequence[int], seeds: Sequence[int]) -> Tensor:
        """Seeded start pictures ``[B, 3, H, W]`` for a dream from noise, one stream per image: grey
        with uniform noise in [0.4, 0.6] for ``pixel``; for the others the picture of a faint random
        parameter (Lucid's start: N(0, 0.01²) coefficients), which keeps the climb's coarse-to-fine order."""
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        if self.pixel:
            return 0.4 + 0.2 * torch.stack([torch.rand(tuple(shape[1:]), generator=rng) for rng in generators])
        height, width = shape[-2:]
        latent_shape = (3, height, width // 2 + 1, 2) if self.fft else (3, height, width)
        latent = torch.stack([0.01 * torch.randn(latent_shape, generator=rng) for rng in generators])
        return self.decode(latent, (height, width))
