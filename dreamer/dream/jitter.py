"""Jitter beyond rolls: small random rotations, scalings and mirror flips of each image per step.

Each image draws its own transform from its own generator, so a dream never depends on its batch
mates. The transform is differentiable (``grid_sample``), so autograd carries the gradient back
through it: the step lands on the untransformed image, undone exactly as a roll's is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


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
