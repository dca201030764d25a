"""Dream a sentence, checked without the internet: train a small CLIP-like model on drawn shapes with
captions, dream each shape from noise through it for prompts phrased unlike any caption, and ask
networks trained apart what the dreams show.

    python scripts/text_check.py --out text-check/        # about ten minutes on a 2-core CPU

It writes ``text-check/clips.py`` (the models' classes) and three weights files: ``clip.safetensors``
(the model dreamed through: a conv image tower, a GRU text tower reading word tokens), ``other.safetensors``
(a second contrastive model of other architectures: strided wide convolutions, a bag of words) and
``judge.safetensors`` (a classifier of shapes, ``scripts/shapes.py``'s Judge, trained without captions).
Then, for each setting tried, 12 dreams per shape (48, seeds by name) from noise with
``dreamer fit --model.objective "text '<prompt>'"``, and prints how often the judge names the
prompted shape (chance: 25 %) and how the second model's cosine with the prompt moved from the noise
the dreams started from to the dreams.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes import CLASSES, NETS, SIDE, draw, train, with_noisy_copies  # noqa: E402

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (235, 215, 40),
           "white": (245, 245, 245), "black": (15, 15, 15)}  # fmt: skip
TEMPLATES = [  # the training captions: a shape, its colour, the background's
    "a {fore} {shape} on {back}", "a {shape}, {fore}", "{fore} {shape} on a {back} background", "a {shape}",
    "{shape} in {fore}", "a {back} picture with a {fore} {shape}",
]  # fmt: skip
PROMPTS = {  # phrased unlike any caption: words never seen in training stand around the shape's name
    "circle": "something shaped like a circle",
    "square": "there is only one square here",
    "triangle": "look, a triangle drawn somewhere",
    "cross": "picture showing cross shape",
}

CLIPS = '''"""Two small CLIP-like models for 64 px pictures of shapes (scripts/text_check.py trains them)."""

import re

import torch
from torch import nn
from torch.nn import functional as F

WORDS = {words!r}


def tokens(prompts, length=12):
    """Word tokens: 0 pads, 1 is a word never seen in training."""
    rows = []
    for prompt in prompts:
        ids = [WORDS.index(word) + 2 if word in WORDS else 1 for word in re.findall("[a-z]+", prompt.lower())]
        rows.append((ids + [0] * length)[:length])
    return torch.tensor(rows)


class ShapesClip(nn.Module):
    """The model dreamed through: a conv image tower and a GRU that reads the words in order."""

    image_size = 64  # what dreamer reads: the side the model sees, and its pixels as they are (0–1)
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def __init__(self, width=64):
        super().__init__()
        w = 24
        self.visual = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        )
        self.image_head = nn.Linear(4 * w, width)
        self.embed = nn.Embedding(len(WORDS) + 2, 48, padding_idx=0)
        self.reader = nn.GRU(48, 64, batch_first=True)
        self.text_head = nn.Linear(64, width)
        self.logit_scale = nn.Parameter(torch.tensor(2.3))

    def encode_image(self, pictures):
        return self.image_head(self.visual(pictures).amax(dim=(2, 3)))

    def encode_text(self, tokens):
        read, _ = self.reader(self.embed(tokens))
        mask = (tokens > 0).float().unsqueeze(-1)
        return self.text_head((read * mask).sum(1) / mask.sum(1).clamp_min(1))

    def tokenize(self, prompts):
        return tokens(prompts)


class OtherClip(nn.Module):
    """A second contrastive model, trained apart: wide strided convolutions and a bag of words."""

    image_size = 64
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def __init__(self, width=64):
        super().__init__()
        self.visual = nn.Sequential(
            nn.Conv2d(3, 32, 7, stride=2, padding=3), nn.BatchNorm2d(32), nn.GELU(),
            nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.BatchNorm2d(64), nn.GELU(),
            nn.Conv2d(64, 96, 3, stride=2, padding=1), nn.BatchNorm2d(96), nn.GELU(),
        )
        self.image_head = nn.Linear(96, width)
        self.words = nn.EmbeddingBag(len(WORDS) + 2, width, padding_idx=0)
        self.logit_scale = nn.Parameter(torch.tensor(2.3))

    def encode_image(self, pictures):
        return self.image_head(self.visual(pictures).mean(dim=(2, 3)))

    def encode_text(self, tokens):
        return self.words(tokens)

    def tokenize(self, prompts):
        return tokens(prompts)
'''

FROM_NOISE = [  # the classes preset's way of dreaming from noise (Lucid's), on the quickstart preset
    "--model.parametrisation", "fft+decorrelated", "--model.optimizer", "torch.optim.Adam", "--model.lr", "0.05",
    "--model.jitter.pad", "12", "--model.jitter.roll", "8", "--model.jitter.rotate", "10",
    "--model.jitter.scale", "0.1", "--model.jitter.flip", "true", "--octaves.count", "1", "--octaves.init", "noise",
]  # fmt: skip
SETTINGS = {  # each on top of FROM_NOISE, through ShapesClip
    "fft+decorrelated, 8 views (the default)": [],
    "fft+decorrelated, 1 view": ["views=1"],
    "fft+decorrelated, 8 views, no jitter": [
        "--model.jitter.roll",
        "0",
        "--model.jitter.rotate",
        "0",
        "--model.jitter.scale",
        "0",
        "--model.jitter.flip",
        "false",
        "--model.jitter.pad",
        "0",
    ],  # fmt: skip
    "pixel, 8 views": [
        "--model.parametrisation",
        "pixel",
        "--model.optimizer",
        "dreamer.engine.optim.NormalizedGD",
        "--model.lr",
        "0.02",
    ],  # fmt: skip
}


def captioned(count: int, seed: int, dropout: float = 0.0) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """``count`` drawn pictures, a caption each (words dropped at ``dropout``) and their shapes."""
    generator = torch.Generator().manual_seed(seed)
    names = list(COLOURS)
    pictures, captions, shapes = [], [], []
    for index in range(count):
        kind = index % len(CLASSES)
        fore, back = (names[int(i)] for i in torch.randperm(len(names), generator=generator)[:2])
        pictures.append(draw(kind, generator, (COLOURS[fore], COLOURS[back])))
        template = TEMPLATES[int(torch.randint(len(TEMPLATES), (), generator=generator))]
        words = template.format(fore=fore, back=back, shape=CLASSES[kind]).split()
        kept = [w for w in words if CLASSES[kind] in w or torch.rand((), generator=generator) >= dropout]
        captions.append(" ".join(kept))
        shapes.append(kind)
    return torch.stack(pictures), captions, torch.tensor(shapes)


def vocabulary() -> list[str]:
    words = {word for template in TEMPLATES for word in template.replace(",", "").split() if "{" not in word}
    return sorted(words | set(COLOURS) | set(CLASSES))


def train_contrastive(model: nn.Module, pictures: torch.Tensor, captions: list[str], epochs: int) -> None:
    """CLIP's loss: each picture's caption against the batch's other captions, both ways."""
    tokens = model.tokenize(captions)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    noisy = torch.Generator().manual_seed(5)
    for _ in range(epochs):
        order = torch.randperm(len(pictures))
        for start in range(0, len(pictures), 128):
            batch = order[start : start + 128]
            seen = pictures[batch]  # half of them with noise (σ 0.15), as scripts/shapes.py trains
            some = (torch.rand(len(batch), 1, 1, 1, generator=noisy) < 0.5).float()
            seen = (seen + 0.15 * some * torch.randn(seen.shape, generator=noisy)).clamp(0, 1)
            images = nn.functional.normalize(model.encode_image(seen), dim=-1)
            texts = nn.functional.normalize(model.encode_text(tokens[batch]), dim=-1)
            logits = model.logit_scale.exp() * images @ texts.T
            # captions of the same words are not negatives of each other: the loss sees them as one
            same = (tokens[batch][:, None] == tokens[batch][None]).all(-1).float()
            soft = same / same.sum(1, keepdim=True)
            loss = -(soft * logits.log_softmax(1)).sum(1).mean() - (soft * logits.log_softmax(0)).sum(0).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def zero_shot(model: nn.Module, pictures: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """Cosines ``[pictures, prompts]`` of the model's embeddings."""
    with torch.no_grad():
        images = nn.functional.normalize(model.eval().encode_image(pictures), dim=-1)
        texts = nn.functional.normalize(model.encode_text(model.tokenize(prompts)), dim=-1)
    return images @ texts.T


@contextlib.contextmanager
def views(count: Optional[int]) -> Iterator[None]:
    """Dreams scored on ``count`` views a step (``dreamer.engine.climb.objective.TEXT_VIEWS``)."""
    from dreamer.engine.climb import objective

    kept = objective.TEXT_VIEWS
    objective.TEXT_VIEWS = count or kept
    try:
        yield
    finally:
        objective.TEXT_VIEWS = kept


def dream(out: Path, folder: Path, shape: str, faces: int, options: list[str], iterations: int) -> list[Path]:
    """``faces`` dreams of ``PROMPTS[shape]`` from noise through ShapesClip, by the command line."""
    from dreamer.cli import main as dreamer

    seeds = out / "seeds" / shape
    seeds.mkdir(parents=True, exist_ok=True)
    for face in range(faces):  # the noise replaces them: their names seed each dream's noise
        Image.new("RGB", (SIDE, SIDE)).save(seeds / f"{shape}-{face:02d}.png")
    target = folder / shape
    view = [int(option.split("=")[1]) for option in options if option.startswith("views=")]
    flags = [option for option in options if not option.startswith("views=")]
    command = [
        "fit", "--config", "quickstart", *FROM_NOISE, "--data.images", str(seeds),
        "--data.output", str(target), "--data.batch_size", str(faces),
        "--octaves.iterations", str(iterations), "--model.backbone", f"{out / 'clips.py'}:ShapesClip",
        "--model.weights", str(out / "clip.safetensors"), "--model.objective", f"text '{PROMPTS[shape]}'",
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *flags,
    ]  # fmt: skip
    with views(view[0] if view else None):
        if dreamer(command) != 0:
            raise RuntimeError(f"the dream of {shape!r} failed: dreamer {' '.join(command)}")
    return sorted(target.glob("*.png"))


def module(path: Path) -> Any:
    """The Python file ``path`` as a module of its own (another ``nets`` may be imported already)."""
    spec = importlib.util.spec_from_file_location(f"text_check_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def pixels(paths: list[Path]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1) for p in paths]) / 255


def run(
    out: Path,
    epochs: int = 8,
    pictures: int = 6000,
    faces: int = 12,
    iterations: int = 128,
    only: Optional[list[str]] = None,
    shapes: Optional[list[str]] = None,
) -> dict[str, dict[str, float]]:
    """Train the three models, dream each setting (``only``: these) of each shape (``shapes``: these)
    and judge it: ``{setting: figures}``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "clips.py").write_text(CLIPS.replace("{words!r}", repr(vocabulary())))
    (out / "nets.py").write_text(NETS)
    clips, nets = module(out / "clips.py"), module(out / "nets.py")
    torch.manual_seed(0)
    images, captions, kinds = captioned(pictures, seed=1, dropout=0.15)
    held, _, held_shapes = captioned(400, seed=2)
    prompts = [PROMPTS[shape] for shape in CLASSES]
    models: dict[str, Any] = {"clip": clips.ShapesClip(), "other": clips.OtherClip()}
    for index, (name, model) in enumerate(models.items()):
        torch.manual_seed(10 + index)
        train_contrastive(model.train(), images, captions, epochs)
        save_file(model.state_dict(), str(out / f"{name}.safetensors"))
        named = float((zero_shot(model, held, prompts).argmax(1) == held_shapes).float().mean())
        print(f"{name}: names the shape of {named:.0%} of 400 new pictures from the prompts alone", flush=True)
    judge = nets.Judge()
    torch.manual_seed(20)
    train(judge.train(), *with_noisy_copies(images, kinds), max(2, epochs // 2))
    save_file(judge.state_dict(), str(out / "judge.safetensors"))
    with torch.no_grad():
        judged = float((judge.eval()(held).argmax(1) == held_shapes).float().mean())
    print(f"judge: {judged:.0%} of 400 new pictures", flush=True)
    other = models["other"].eval()
    results: dict[str, dict[str, float]] = {}
    for label, options in SETTINGS.items():
        if only and label not in only:
            continue
        folder = out / "dreams" / label.split(" (")[0].replace(", ", "-").replace(" ", "_").replace("+", "-")
        named = total = 0
        rises: list[float] = []
        for number, shape in enumerate(CLASSES):
            if shapes and shape not in shapes:
                continue
            paths = dream(out, folder, shape, faces, options, iterations)
            dreamed = pixels(paths)
            with torch.no_grad():
                named += int((judge(dreamed).argmax(1) == number).sum())
            total += len(paths)
            noise = torch.rand(dreamed.shape, generator=torch.Generator().manual_seed(number))  # as a dream starts
            cosines = [float(zero_shot(other, seen, [PROMPTS[shape]]).mean()) for seen in (dreamed, noise)]
            rises.append(cosines[0] - cosines[1])
        rise = statistics.mean(rises)
        results[label] = {"judged": named / total, "dreams": total, "rise": rise}
        said = f"{named} of {total} dreams ({named / total:.0%}); the second model's cosine with it rose {rise:+.3f}"
        print(f"{label}: the judge names the prompted shape for {said}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("text-check"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--pictures", type=int, default=6000)
    parser.add_argument("--faces", type=int, default=12, help="dreams per shape")
    parser.add_argument("--iterations", type=int, default=128)
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="these settings only")
    args = parser.parse_args()
    run(args.out, args.epochs, args.pictures, args.faces, args.iterations, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
