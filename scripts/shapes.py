"""Your own network, end to end: train a small network on drawn shapes, dream its classes, and ask a
second network of another architecture what the dreams show (transferability, as MACO measures it).

    python scripts/shapes.py --out shapes/            # trains both networks (about a minute on a CPU)

It writes ``shapes/nets.py`` (the two networks' classes), ``shapes/shapes.safetensors`` and
``shapes/judge.safetensors`` (their weights), then dreams every class from noise through the first
(``dreamer fit`` with ``--model.backbone shapes/nets.py:ShapesNet --model.objective "class N"``) and
prints, for each parametrisation tried, the share of dreams the judge names as the dreamed class.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

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
    """The network the dreams climb through: three conv blocks and a linear head."""

    def __init__(self, width: int = 16, classes: int = 4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
        )
        self.head = nn.Linear(4 * width, classes)

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
        )
        self.head = nn.Linear(96, classes)

    def forward(self, x):
        return self.head(self.body(x).amax(dim=(2, 3)))
'''


def draw(kind: int, generator: torch.Generator) -> torch.Tensor:
    """One ``SIDE`` px picture of shape ``kind``: random place, size, turn and colours."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * torch.rand(1, generator=generator).item()

    back = tuple(int(uniform(0, 255)) for _ in range(3))
    fore = tuple(int((c + 96 + uniform(0, 64)) % 256) for c in back)
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


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), 64):
            batch = order[start : start + 64]
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.eval()(images).argmax(1) == labels).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("shapes"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--faces", type=int, default=4, help="dreams per class")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nets.py").write_text(NETS)
    sys.path.insert(0, str(args.out))
    from nets import Judge, ShapesNet  # type: ignore[import-not-found]

    torch.manual_seed(0)
    images, labels = data(4000, seed=1)
    tests = data(400, seed=2)
    networks = {"shapes": ShapesNet(), "judge": Judge()}
    for name, model in networks.items():
        train(model.train(), images, labels, args.epochs)
        save_file(model.state_dict(), str(args.out / f"{name}.safetensors"))
        print(f"{name}: {accuracy(model, *tests):.1%} on 400 pictures it never saw")
    from dreamer.cli import main as dreamer

    start = args.out / "grey.png"
    Image.new("RGB", (SIDE, SIDE), (128, 128, 128)).save(start)
    lucid = [
        "--model.parametrisation",
        "fft+decorrelated",
        "--model.optimizer",
        "torch.optim.Adam",
        "--model.lr",
        "0.05",
    ]
    settings = {
        "pixel": ["--model.parametrisation", "pixel"],
        "fft+decorrelated, Adam": lucid,
        "fft+decorrelated, Adam, turns and scales": [
            *lucid, "--model.jitter.pad", "4", "--model.jitter.rotate", "10", "--model.jitter.scale", "0.1",
        ],
    }  # fmt: skip
    judge = networks["judge"].eval()
    for label, options in settings.items():
        named = 0
        for number, shape in enumerate(CLASSES):
            for face in range(args.faces):
                out = args.out / "dreams" / label.replace(", ", "-").replace(" ", "_") / f"{shape}-{face}"
                common = [
                    "fit", "--config", "quickstart", "--model.backbone", f"{args.out / 'nets.py'}:ShapesNet",
                    "--model.weights", str(args.out / "shapes.safetensors"), "--model.layers", "head",
                    "--model.objective", f"class {number}", "--model.tile_size", "null", "--octaves.count", "1",
                    "--octaves.iterations", "128", "--octaves.init", "noise", "--model.jitter.roll", "4",
                    "--data.images", str(start), "--data.output", str(out), "--data.seed", str(face),
                    "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                ]  # fmt: skip
                if dreamer([*common, *options]) != 0:
                    return 1
                dream = torch.from_numpy(np.array(Image.open(out / "grey.png"))).permute(2, 0, 1)
                with torch.no_grad():
                    named += int(judge(dream[None].float() / 255).argmax(1).item() == number)
        total = len(CLASSES) * args.faces
        print(f"{label}: the judge names the dreamed class for {named} of {total} dreams ({named / total:.0%})")
    shutil.rmtree(args.out / "dreams", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
