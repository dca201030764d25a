"""The original DeepDream update: a gradient step normalised by its mean absolute value, per image."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor
from torch.optim import Optimizer
from typing_extensions import override

from dreamer.errors import ConfigError

_TINY = 1e-30


class NormalizedGD(Optimizer):
    """``x ← x − lr · g / mean(|g|)``, the mean taken over each image of the batch separately.

    With the loss being ``−objective`` this is the ascent step of Google's notebook ("naive GD"):
    the step length no longer depends on the gradient's scale, which varies wildly between layers.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 0.2) -> None:
        if lr <= 0:
            raise ConfigError(f"lr must be positive, got {lr}")
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    @override
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad.float()
                dims = tuple(range(1, grad.dim())) if grad.dim() > 1 else (0,)
                # No additive epsilon: gradients of 1e-11 (deep layers, fresh networks) must still
                # take full steps; an all-zero gradient divided by the tiny floor stays zero.
                scale = grad.abs().mean(dim=dims, keepdim=True).clamp_min(_TINY)
                param.sub_((grad / scale).to(param.dtype), alpha=group["lr"])
        return loss
