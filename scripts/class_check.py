"""How recognisable class dreams are: ImageNet classes dreamed from noise by the ``classes`` preset
through MobileNetV2 (real weights, offline), each judged by the network itself on 16 random crops
and turns.

    python scripts/class_check.py [--classes 1 76 207 282 340 425 945 980] [--steps 256] [-- <more dreamer options>]

A crop keeps 60–100 % of the side and turns by up to ±15°. Prints, per class, the share of crops
whose top-1 is the class, and the mean over classes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as F

from dreamer.cli import main as dreamer
from dreamer.engine.networks.network import build_network
from dreamer.files.imageio import open_photo, to_tensor

CROPS = 16


def crops(picture: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``CROPS`` random crops (60–100 % of the side) turned by up to ±15°, at 224 px."""
    side = min(picture.shape[-2:])
    out = []
    for _ in range(CROPS):
        keep = int(side * (0.6 + 0.4 * torch.rand(1, generator=generator).item()))
        top = int(torch.randint(0, picture.shape[-2] - keep + 1, (1,), generator=generator))
        left = int(torch.randint(0, picture.shape[-1] - keep + 1, (1,), generator=generator))
        angle = float(torch.empty(1).uniform_(-15, 15, generator=generator))
        piece = F.rotate(picture[:, top : top + keep, left : left + keep], angle)
        out.append(F.resize(piece, [224, 224], antialias=True))
    return torch.stack(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, nargs="+", default=[1, 76, 207, 282, 340, 425, 945, 980])
    parser.add_argument("--steps", type=int, help="steps per picture (default: the preset's)")
    parser.add_argument("options", nargs="*", help="more dreamer options, after --")
    args = parser.parse_args()
    network = build_network("mobilenet_v2", "imagenet")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (network.mean, network.std))
    generator = torch.Generator().manual_seed(0)
    shares = []
    with tempfile.TemporaryDirectory() as folder:
        options = ["--data.classes", ",".join(map(str, args.classes)), "--data.output", folder]
        options += ["--octaves.iterations", str(args.steps)] if args.steps else []
        options += ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *args.options]
        if dreamer(["fit", "--config", "classes", *options]) != 0:
            return 1
        for number in args.classes:
            (path,) = Path(folder).glob(f"*/*-class{number:04d}.png")
            dream = to_tensor(open_photo(path)[0])
            with torch.no_grad():
                top = network.module((crops(dream, generator) - mean) / std).argmax(dim=1)
            share = float((top == number).float().mean())
            shares.append(share)
            print(f"class {number} ({network.categories[number]}): top-1 on {share:.0%} of {CROPS} crops")
    print(f"mean over {len(shares)} classes: {sum(shares) / len(shares):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
