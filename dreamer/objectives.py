"""Objectives: how strongly an image excites chosen activations, one number per image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional

from torch import Tensor

from dreamer.errors import ConfigError

Objective = Literal["mean_square", "mean"]


def activation_objective(
    activation: Tensor, channels: Optional[Sequence[int]] = None, kind: Objective = "mean_square"
) -> Tensor:
    """Per-image objective of one activation ``[B, C, …]`` → ``[B]``.

    ``mean_square`` (DeepDream's L2 objective) averages the squared activation, ``mean`` the raw one.
    ``channels`` restricts the average to those channels. Each image's value depends only on that
    image, so a batch dreams exactly as its images would alone.
    """
    if kind not in ("mean_square", "mean"):
        raise ConfigError(f"Unknown objective {kind!r}; use 'mean_square' or 'mean'")
    if channels is not None:
        if not channels:
            raise ConfigError("channels must name at least one channel")
        if max(channels) >= activation.shape[1] or min(channels) < -activation.shape[1]:
            raise ConfigError(f"channels {list(channels)} out of range for a layer with {activation.shape[1]} channels")
        activation = activation[:, list(channels)]
    activation = activation.float()  # reduce in fp32 under mixed precision
    values = activation.square() if kind == "mean_square" else activation
    return values.flatten(1).mean(dim=1)
