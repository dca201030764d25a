"""Measures of an atlas, for its checks: how each channel responds to each channel's image."""

from __future__ import annotations

import torch

from dreamer.engine.climb.objective import DreamObjective


def channel_means(objective: DreamObjective, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Mean activation of every channel of the objective's (one) layer for each image: ``[N, C]``."""
    layers = objective.schedule.layers[-1]
    rows = []
    with torch.no_grad():
        for first in range(0, len(images), batch_size):
            (activation,) = objective.extractor(images[first : first + batch_size], layers).values()
            rows.append(activation.float().mean(dim=(2, 3)))
    return torch.cat(rows)


def self_excitation_share(means: torch.Tensor, channels: list[int]) -> float:
    """Share of the channels ``c`` whose own atlas image excites ``c`` most among all atlas images:
    ``means[i, c]`` is channel ``c``'s mean activation on the image dreamed for ``channels[i]``."""
    winners = means[:, channels].argmax(dim=0)  # per channel: the image that excites it most
    return (winners == torch.arange(len(channels))).float().mean().item()
