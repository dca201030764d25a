"""Objectives: how strongly an image excites chosen activations, one number per image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional

import torch
from torch import Tensor

from dreamer.errors import ConfigError

Objective = Literal["mean_square", "mean"]


def activation_objective(
    activation: Tensor,
    channels: Optional[Sequence[int]] = None,
    kind: Objective = "mean_square",
    image_channels: Optional[Sequence[int]] = None,
) -> Tensor:
    """Per-image objective of one activation ``[B, C, …]`` → ``[B]``.

    ``mean_square`` (DeepDream's L2 objective) averages the squared activation, ``mean`` the raw one.
    ``channels`` restricts the average to those channels; ``image_channels`` gives each image its own
    one channel instead (a channel atlas: image ``b`` dreams of channel ``image_channels[b]``). Each
    image's value depends only on that image, so a batch dreams exactly as its images would alone.
    """
    if kind not in ("mean_square", "mean"):
        raise ConfigError(f"Unknown objective {kind!r}; use 'mean_square' or 'mean'")
    width = activation.shape[1]
    if image_channels is not None:
        if len(image_channels) != activation.shape[0] or not all(0 <= c < width for c in image_channels):
            raise ConfigError(
                f"channels {list(image_channels)} do not fit a batch of {activation.shape[0]} "
                f"images of a layer with {width} channels"
            )
        activation = activation[torch.arange(activation.shape[0]), list(image_channels)].unsqueeze(1)
    elif channels is not None:
        if not channels:
            raise ConfigError("channels must name at least one channel")
        if max(channels) >= width or min(channels) < -width:
            raise ConfigError(f"channels {list(channels)} out of range for a layer with {width} channels")
        activation = activation[:, list(channels)]
    activation = activation.float()  # reduce in fp32 under mixed precision
    values = activation.square() if kind == "mean_square" else activation
    return values.flatten(1).mean(dim=1)
