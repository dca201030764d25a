"""Optical flow with torchvision's RAFT (``data.flow: raft_small | raft_large``), weights found like a backbone's."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dreamer.engine.networks.backbones import backbone_spec, resolve_state_dict


def build_raft(name: str) -> nn.Module:
    """RAFT in eval mode with its pretrained weights: the hub cache, then download; offline, the same
    clear message as a backbone's missing weights."""
    spec = backbone_spec(name)
    model = spec.builder(weights=None)
    state_dict = resolve_state_dict(name, "imagenet")
    assert state_dict is not None  # "imagenet" always resolves to weights or raises
    model.load_state_dict(state_dict)
    return model.eval().requires_grad_(False)


class RaftFlow:
    """``flow(source, target)``: dense flow ``[H, W, 2]`` from ``source`` to ``target`` (RGB ``uint8``),
    like ``warp.dis_flow``. Frames are padded to multiples of 8 (RAFT's grid), and to at least 128 px
    (its correlation pyramid), by repeating edges."""

    def __init__(self, name: str, device: str = "cpu", updates: int = 12) -> None:
        self.model, self.device, self.updates = build_raft(name).to(device), device, updates

    @torch.inference_mode()
    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        height, width = source.shape[:2]
        pad = (0, max(128, width + -width % 8) - width, 0, max(128, height + -height % 8) - height)

        def prepare(frame: np.ndarray) -> torch.Tensor:
            pixels = torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(self.device)
            return F.pad(pixels, pad, mode="replicate")

        flows = self.model(prepare(source), prepare(target), num_flow_updates=self.updates)
        return flows[-1][0, :, :height, :width].permute(1, 2, 0).cpu().numpy()
