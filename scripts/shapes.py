"""Your own network, end to end: train a small network on drawn shapes, dream its classes, and ask a
second network of another architecture what the dreams show (transferability, as MACO measures it).

    python scripts/shapes.py --out shapes/            # trains both networks (a few minutes on a CPU)

It writes ``shapes/nets.py`` (the two networks' classes), ``shapes/shapes.safetensors`` and
``shapes/judge.safetensors`` (their weights; each network is trained on the pictures and on noisy
copies of them), then dreams every class from noise through the first with the classes preset
(``dreamer fit --config classes --model.backbone shapes/nets.py:ShapesNet …``) and prints, for each
parametrisation tried, the share of dreams the judge names as the dreamed class.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from torch import nn

CLASSES = ["circle", "square", "triangle", "cross"]
SIDE = 64

NETS = '''"""Two small networks for 64 px pictures of shapes (scripts/shapes.py trains them)."""

from torch import nn


class ShapesNet(nn.Module):
    """The network the dreams climb through: four conv blocks (its last sees a whole shape) and a linear head."""

    def __init__(self, width: int = 16, classes: int = 4):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        )
        self.head = nn.Linear(4 * w, classes)

    def forward(self, x):
        return self.head(self.body(x).amax(dim=(2, 3)))


class Judge(nn.Module):
    """Another architecture, trained apart, that names what a dream shows: wide strided convolutions."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 24, 7, stride=2, padding=3), nn.BatchNorm2d(24), nn.GELU(),
            nn.Conv2d(24, 48, 5, stride=2, padding=2), nn.BatchNorm2d(48), nn.GELU(),
            nn.Conv2d(48, 96, 3, stride=2, padding=1), nn.BatchNorm2d(96), nn.GELU(),
            nn.Conv2d(96, 96, 3, stride=2, padding=1), nn.BatchNorm2d(96), nn.GELU(),
        )
        self.head = nn.Linear(96, classes)

    def forward(self, x):
        return self.head(self.body(x).amax(dim=(2, 3)))
'''


def draw(
    kind: int, generator: torch.Generator, colours: Optional[tuple[tuple[int, ...], tuple[int, ...]]] = None
) -> torch.Tensor:
    """One ``SIDE`` px picture of shape ``kind``: random place, size and turn; random colours, or
    ``colours`` (the shape's, the background's)."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * torch.rand(1, generator=generator).item()

    back = tuple(int(uniform(0, 255)) for _ in range(3))
    fore = tuple(int((c + 96 + uniform(0, 64)) % 256) for c in back)
    if colours is not None:
        fore, back = colours
    picture = Image.new("RGB", (SIDE, SIDE), back)
    pen = ImageDraw.Draw(picture)
    radius, cx, cy, turn = uniform(12, 24), uniform(24, 40), uniform(24, 40), uniform(0, 2 * math.pi)
    if CLASSES[kind] == "circle":
        pen.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fore)
    else:
        corners = {"square": 4, "triangle": 3, "cross": 12}[CLASSES[kind]]
        points = []
        for k in range(corners):
            reach = radius if CLASSES[kind] != "cross" else radius * (1.0 if k % 3 != 1 else 0.45)
            angle = turn + 2 * math.pi * k / corners
            points.append((cx + reach * math.cos(angle), cy + reach * math.sin(angle)))
        pen.polygon(points, fill=fore)
    return torch.from_numpy(np.array(picture)).permute(2, 0, 1).float() / 255


def data(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % len(CLASSES)
    return torch.stack([draw(int(label), generator) for label in labels]), labels


def with_noisy_copies(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pictures and a copy of each with Gaussian noise (σ 0.15): a network trained on both
    answers to shapes rather than to pixel noise, so its gradients draw shapes."""
    generator = torch.Generator().manual_seed(3)
    noisy = (images + 0.15 * torch.randn(images.shape, generator=generator)).clamp(0, 1)
    return torch.cat([images, noisy]), torch.cat([labels, labels])


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
) -> None:
    """Cross-entropy, Adam, batches of 64; each batch through ``augment`` first, where given."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), 64):
            batch = order[start : start + 64]
            seen = images[batch] if augment is None else augment(images[batch])
            loss = nn.functional.cross_entropy(model(seen), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.eval()(images).argmax(1) == labels).float().mean())


SETTINGS = {  # each on top of the classes preset
    "pixel": ["--model.parametrisation", "pixel"],
    "fft": ["--model.parametrisation", "fft"],
    "fft+decorrelated (the preset)": [],
    "fft+decorrelated, no mirroring": ["--model.jitter.flip", "false"],
    "fft+decorrelated, no turns or scales": ["--model.jitter.rotate", "0", "--model.jitter.scale", "0"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("shapes"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--faces", type=int, default=12, help="dreams per class")
    parser.add_argument("--only", choices=list(SETTINGS), help="one setting only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nets.py").write_text(NETS)
    sys.path.insert(0, str(args.out))
    from nets import Judge, ShapesNet  # type: ignore[import-not-found]

    torch.manual_seed(0)
    images, labels = with_noisy_copies(*data(4000, seed=1))
    tests = data(400, seed=2)
    networks = {"shapes": ShapesNet(), "judge": Judge()}
    for name, model in networks.items():
        train(model.train(), images, labels, args.epochs)
        save_file(model.state_dict(), str(args.out / f"{name}.safetensors"))
        print(f"{name}: {accuracy(model, *tests):.1%} on 400 pictures it never saw")
    from dreamer.cli import main as dreamer

    judge = networks["judge"].eval()
    for label, options in SETTINGS.items():
        if args.only and label != args.only:
            continue
        out = args.out / "dreams" / label.split(" (")[0].replace(", ", "-").replace(" ", "_")
        command = [
            "fit", "--config", "classes", "--model.backbone", f"{args.out / 'nets.py'}:ShapesNet",
            "--model.weights", str(args.out / "shapes.safetensors"), "--data.classes", "all",
            "--data.size", str(SIDE), "--data.faces", str(args.faces), "--data.output", str(out),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *options,
        ]  # fmt: skip
        if dreamer(command) != 0:
            return 1
        named = total = 0
        for number in range(len(CLASSES)):
            for path in sorted(out.glob(f"head/head-class{number:04d}*.png")):
                dream = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
                with torch.no_grad():
                    named += int(judge(dream[None].float() / 255).argmax(1).item() == number)
                total += 1
        print(f"{label}: the judge names the dreamed class for {named} of {total} dreams ({named / total:.0%})")
    shutil.rmtree(args.out / "dreams", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
