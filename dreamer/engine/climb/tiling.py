"""Tiled gradients: the objective's gradient for a big image, computed tile by tile in bounded memory."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def tile_bounds(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``length`` pixels into near-equal spans no longer than ``tile`` (none tiny at the edge)."""
    count = max(1, math.ceil(length / tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def tiles(height: int, width: int, tile: int) -> list[tuple[slice, slice, float]]:
    """Row and column slices of each tile, and the tile's share of the image's area."""
    return [
        (slice(top, bottom), slice(left, right), (bottom - top) * (right - left) / (height * width))
        for top, bottom in tile_bounds(height, tile)
        for left, right in tile_bounds(width, tile)
    ]


@torch.no_grad()
def tiled_objective(objective: Callable[[Tensor], Tensor], images: Tensor, tile: int) -> Tensor:
    """The area-weighted mean of per-tile objectives ``[B]``, without gradients: one tile in memory."""
    height, width = images.shape[-2:]
    total = images.new_zeros(images.shape[0], dtype=torch.float32)
    for rows, cols, weight in tiles(height, width, tile):
        total += objective(images[..., rows, cols]).float() * weight
    return total


def tiled_gradient(objective: Callable[[Tensor], Tensor], images: Tensor, tile: int) -> tuple[Tensor, Tensor]:
    """The gradient of an area-weighted mean of per-tile objectives, and that objective ``[B]``.

    ``objective`` maps ``[B, 3, h, w]`` to a per-image objective ``[B]`` (a mean over the tile).
    Each tile's graph is freed before the next is built, so peak memory is one tile's. Where tiles
    do not cut a layer's receptive fields, the result equals the whole image's gradient.
    """
    gradient = torch.zeros_like(images)
    total = images.new_zeros(images.shape[0], dtype=torch.float32)
    height, width = images.shape[-2:]
    for rows, cols, weight in tiles(height, width, tile):
        piece = images[..., rows, cols].detach().requires_grad_(True)
        with torch.enable_grad():
            value = objective(piece) * weight
            (grad,) = torch.autograd.grad(value.sum(), piece)
        gradient[..., rows, cols] = grad
        total += value.detach().float()
    return gradient, total
