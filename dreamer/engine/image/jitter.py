"""Jitter (transformation robustness): a grey border, random rolls, small rotations, scalings and
mirror flips of each image per step.

Each image draws its own transform from its own generator, so a dream never depends on its batch
mates. The transform is differentiable (``grid_sample``), so autograd carries the gradient back
through it: the step lands on the untransformed image, undone exactly as a roll's is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dreamer.errors import ConfigError


def random_affine(
    images: Tensor, generators: Sequence[torch.Generator], rotate: float = 0.0, scale: float = 0.0, flip: bool = False
) -> Tensor:
    """``[B, C, H, W]`` each turned by up to ``±rotate`` degrees, scaled by up to ``1 ± scale`` and,
    with ``flip``, mirrored left-right half of the time; borders reflect. With nothing to do it
    returns ``images`` itself."""
    if rotate <= 0 and scale <= 0 and not flip:
        return images
    height, width = images.shape[-2:]
    rows = []
    for generator in generators:
        draw = torch.rand(3, generator=generator).tolist()
        angle = math.radians(rotate * (2 * draw[0] - 1))
        factor = 1 + scale * (2 * draw[1] - 1)
        mirror = -1.0 if flip and draw[2] < 0.5 else 1.0
        cos, sin = math.cos(angle) / factor, math.sin(angle) / factor
        # A rotation in pixels, written in grid_sample's [-1, 1] coordinates of a width × height image.
        rows.append([[mirror * cos, -sin * height / width, 0.0], [mirror * sin * width / height, cos, 0.0]])
    theta = torch.tensor(rows, dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def roll_each(images: Tensor, shifts: Sequence[tuple[int, int]]) -> Tensor:
    """Roll every image of ``[B, C, H, W]`` by its own ``(dy, dx)``; autograd rolls gradients back."""
    if all(shift == shifts[0] for shift in shifts):
        return torch.roll(images, shifts=shifts[0], dims=(-2, -1))
    return torch.stack([torch.roll(image, shifts=shift, dims=(-2, -1)) for image, shift in zip(images, shifts)])


@dataclass(frozen=True)
class Jitter:
    """What each image goes through before the network at every step (the ``model.jitter`` group).

    Lucid's transformation robustness: autograd undoes the transforms on the gradient, and each image
    draws from its own generator. In order: pad, turn/scale/mirror, roll.

    Args:
        pad: A border of this many pixels of mid-grey around the image (Lucid pads by 12), so the
            image's edges are not the only place without context.
        roll: Roll by up to this many pixels (rolled back after).
        rotate: Turn by up to ± this many degrees (0: off).
        scale: Scale by up to 1 ± this (0: off).
        flip: Mirror left-right half of the steps.

    Raises:
        ConfigError: a negative pad, roll or turn, or a scale outside [0, 1).
    """

    pad: int = 0
    roll: int = 0
    rotate: float = 0.0
    scale: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        for name, value in (("roll", self.roll), ("pad", self.pad)):
            if value < 0:
                raise ConfigError(f"model.jitter.{name} must be >= 0, got {value}")
        if self.rotate < 0 or not 0 <= self.scale < 1:
            raise ConfigError(
                f"model.jitter: rotate must be >= 0 and scale within [0, 1), got {self.rotate} and {self.scale}"
            )

    def __call__(self, images: Tensor, generators: Sequence[torch.Generator], roll_at_least: int = 0) -> Tensor:
        """``images`` transformed, each by its own generator's draws."""
        if self.pad:
            images = F.pad(images, (self.pad,) * 4, value=0.5)
        images = random_affine(images, generators, self.rotate, self.scale, self.flip)
        roll = max(self.roll, roll_at_least)
        if roll == 0:
            return images
        shifts = [tuple(torch.randint(-roll, roll + 1, (2,), generator=rng).tolist()) for rng in generators]
        return roll_each(images, shifts)


NO_JITTER = Jitter()  # the default: nothing moves
