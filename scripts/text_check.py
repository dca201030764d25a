"""Dream a sentence, checked without the internet: train a small CLIP-like model on drawn shapes with
captions, dream each shape from noise through it for prompts phrased unlike any caption (three per
shape), and ask networks trained apart what the dreams show.

    python scripts/text_check.py --out text-check/        # about 18 minutes on a 2-core CPU

It writes ``text-check/clips.py`` (the models' classes), ``clip.safetensors`` (the model dreamed
through: a conv image tower, a GRU text tower reading word tokens) and ``other.safetensors`` (a second
contrastive model of other architectures: strided wide convolutions, a bag of words), both trained as
CLIP is, on random crops, on captions in which words never seen stand in and around (``captioned``'s
``unseen``), and six judges of shapes (``scripts/shapes.py``'s Judge, trained apart without captions,
each on a seed of its own): three "flat" ones on the pictures and noisy copies of them, three
"varied" ones on pictures blurred, recoloured and noisier (``varied``), each one that names at least
95 % of every shape's new pictures (``fit_to_judge``). Then, for each setting tried,
12 dreams per shape (48, four per phrasing, seeds by name) from noise with
``dreamer fit --model.objective "text '<prompt>'"``, and prints how often the judges of each kind
name the prompted shape (their mean; chance: 25 %) and how the second model's cosine with the prompt
moved from the noise the dreams started from to the dreams.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from dreamer.engine.image.pyramid import binomial_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes import CLASSES, NETS, SIDE, draw, train, with_noisy_copies  # noqa: E402

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (235, 215, 40),
           "white": (245, 245, 245), "black": (15, 15, 15)}  # fmt: skip
TEMPLATES = [  # the training captions: a shape, its colour, the background's
    "a {fore} {shape} on {back}", "a {shape}, {fore}", "{fore} {shape} on a {back} background", "a {shape}",
    "{shape} in {fore}", "a {back} picture with a {fore} {shape}",
]  # fmt: skip
PROMPTS = {  # phrased unlike any caption: words never seen in training stand around the shape's name
    "circle": ["something shaped like a circle", "one round circle, nothing else", "draw me a circle please"],
    "square": ["there is only one square here", "the square, seen from above", "behold: a square"],
    "triangle": ["look, a triangle drawn somewhere", "three corners make the triangle", "a triangle pointing up"],
    "cross": ["picture showing cross shape", "mark it with a cross", "the cross that marks the spot"],
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


JUDGES = 3  # judges of each kind: "flat" (pictures and noisy copies), "varied" (``varied``'s pictures)
FIT = 0.95  # the share of each shape's new drawn pictures a judge must name to judge dreams
KINDS = ("flat", "varied")
UNSEEN = "unknown"  # not in the vocabulary: its token is the one every word never seen in training gets


def captioned(count: int, seed: int, unseen: float = 0.0) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """``count`` drawn pictures, a caption each and their shapes. At ``unseen``, each word but the
    shape's name becomes a word never seen, and before each word such words are put, each one more
    at two thirds of ``unseen``: the text towers learn that they say nothing (a prompt is mostly
    words they never saw)."""
    generator = torch.Generator().manual_seed(seed)
    names = list(COLOURS)
    pictures, captions, shapes = [], [], []
    for index in range(count):
        kind = index % len(CLASSES)
        fore, back = (names[int(i)] for i in torch.randperm(len(names), generator=generator)[:2])
        pictures.append(draw(kind, generator, (COLOURS[fore], COLOURS[back])))
        template = TEMPLATES[int(torch.randint(len(TEMPLATES), (), generator=generator))]
        words = template.format(fore=fore, back=back, shape=CLASSES[kind]).split()
        said = [w if CLASSES[kind] in w or torch.rand((), generator=generator) >= unseen else UNSEEN for w in words]
        if unseen:
            said = [w for word in said for w in ([UNSEEN] * inserted(unseen * 2 / 3, generator) + [word])]
        captions.append(" ".join(said))
        shapes.append(kind)
    return torch.stack(pictures), captions, torch.tensor(shapes)


def inserted(chance: float, generator: torch.Generator) -> int:
    """How many words to insert: each one more at ``chance``."""
    count = 0
    while torch.rand((), generator=generator) < chance:
        count += 1
    return count


def varied(pictures: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The varied judges' training pictures: half of them blurred (a 5-tap binomial), the colour
    channels of each in a random order, Gaussian noise of σ 0–0.3."""
    kernel = binomial_kernel(3, pictures)
    blurred = nn.functional.conv2d(nn.functional.pad(pictures, (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
    some = (torch.rand(len(pictures), 1, 1, 1, generator=generator) < 0.5).float()
    pictures = some * blurred + (1 - some) * pictures
    pictures = torch.stack([picture[torch.randperm(3, generator=generator)] for picture in pictures])
    sigma = 0.3 * torch.rand(len(pictures), 1, 1, 1, generator=generator)
    return (pictures + sigma * torch.randn(pictures.shape, generator=generator)).clamp(0, 1)


def trained_judges(
    judge: type[nn.Module], images: torch.Tensor, kinds: torch.Tensor, epochs: int, fit: float = FIT
) -> dict[str, nn.Module]:
    """``JUDGES`` judges of each kind, trained apart, each on a seed of its own: the first seeds (flat
    from 20, varied from 30) whose judge names at least ``fit`` of each shape's new pictures; any other
    would judge dreams with a bias of its own."""
    trials = {
        "flat": lambda model, seed: train(model, *with_noisy_copies(images, kinds), max(2, epochs // 2)),
        "varied": lambda model, seed: train(
            model, images, kinds, max(2, epochs), partial(varied, generator=torch.Generator().manual_seed(seed - 22))
        ),  # its pictures varied by a generator of its own: seeds 8, 9, … for judges 30, 31, …
    }
    new, _, new_shapes = captioned(400, seed=3)  # not the pictures the figures are given on (seed 2)
    judges: dict[str, nn.Module] = {}
    for number, (kind, trial) in enumerate(trials.items()):
        passed = 0
        for seed in range(20 + 10 * number, 30 + 10 * number):
            torch.manual_seed(seed)
            model = judge()
            trial(model.train(), seed)
            if fit_to_judge(model.eval(), new, new_shapes, fit):
                passed += 1
                judges[f"{kind}-{passed}"] = model
                if passed == JUDGES:
                    break
            else:
                print(f"a {kind} judge on seed {seed} names under {fit:.0%} of some shape's new pictures: not used")
        if passed < JUDGES:
            raise RuntimeError(f"only {passed} of ten {kind} judges name {fit:.0%} of every shape's new pictures")
    return judges


def fit_to_judge(judge: nn.Module, pictures: torch.Tensor, shapes: torch.Tensor, fit: float = FIT) -> bool:
    """Whether ``judge`` names at least ``fit`` of each shape's ``pictures``."""
    with torch.no_grad():
        named = judge(pictures).argmax(1) == shapes
    return all(float(named[shapes == shape].float().mean()) >= fit for shape in range(len(CLASSES)))


def vocabulary() -> list[str]:
    words = {word for template in TEMPLATES for word in template.replace(",", "").split() if "{" not in word}
    return sorted(words | set(COLOURS) | set(CLASSES))


def train_contrastive(model: nn.Module, pictures: torch.Tensor, captions: list[str], epochs: int) -> None:
    """CLIP's loss: each picture's caption against the batch's other captions, both ways; each batch
    seen as CLIP is trained, through a random square crop (70–100 % of the side, resized back) and
    mirrored half the time, and half of it with noise (σ 0.15, as scripts/shapes.py trains)."""
    tokens = model.tokenize(captions)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    chance = torch.Generator().manual_seed(5)
    for _ in range(epochs):
        order = torch.randperm(len(pictures))
        for start in range(0, len(pictures), 128):
            batch = order[start : start + 128]
            seen = cropped(pictures[batch], chance)
            some = (torch.rand(len(batch), 1, 1, 1, generator=chance) < 0.5).float()
            seen = (seen + 0.15 * some * torch.randn(seen.shape, generator=chance)).clamp(0, 1)
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


def cropped(pictures: torch.Tensor, chance: torch.Generator) -> torch.Tensor:
    """The batch through one random square crop of 70–100 % of its side, resized back, and mirrored
    at even odds."""
    size = pictures.shape[-1]
    side = int(size * (0.7 + 0.3 * torch.rand((), generator=chance).item()))
    top, left = (int(torch.randint(0, size - side + 1, (), generator=chance)) for _ in range(2))
    crop = pictures[..., top : top + side, left : left + side]
    seen = nn.functional.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
    return seen.flip(-1) if torch.rand((), generator=chance) < 0.5 else seen


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


def dream(out: Path, folder: Path, prompt: str, names: list[str], options: list[str], iterations: int) -> list[Path]:
    """A dream of ``prompt`` from noise through ShapesClip for each of ``names``, by the command line."""
    from dreamer.cli import main as dreamer

    seeds = out / "seeds" / folder.relative_to(out)
    seeds.mkdir(parents=True, exist_ok=True)
    for name in names:  # the noise replaces them: their names seed each dream's noise
        Image.new("RGB", (SIDE, SIDE)).save(seeds / f"{name}.png")
    view = [int(option.split("=")[1]) for option in options if option.startswith("views=")]
    flags = [option for option in options if not option.startswith("views=")]
    command = [
        "fit", "--config", "quickstart", *FROM_NOISE, "--data.images", str(seeds),
        "--data.output", str(folder), "--data.batch_size", str(len(names)),
        "--octaves.iterations", str(iterations), "--model.backbone", f"{out / 'clips.py'}:ShapesClip",
        "--model.weights", str(out / "clip.safetensors"), "--model.objective", f"text '{prompt}'",
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *flags,
    ]  # fmt: skip
    with views(view[0] if view else None):
        if dreamer(command) != 0:
            raise RuntimeError(f"the dream of {prompt!r} failed: dreamer {' '.join(command)}")
    return sorted(folder.glob("*.png"))


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
    fit: float = FIT,
) -> dict[str, dict[str, float]]:
    """Train the three models, dream each setting (``only``: these) of each shape (``shapes``: these)
    and judge it: ``{setting: figures}``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "clips.py").write_text(CLIPS.replace("{words!r}", repr(vocabulary())))
    (out / "nets.py").write_text(NETS)
    clips, nets = module(out / "clips.py"), module(out / "nets.py")
    images, captions, kinds = captioned(pictures, seed=1, unseen=0.3)
    held, _, held_shapes = captioned(400, seed=2)
    prompts = [prompt for shape in CLASSES for prompt in PROMPTS[shape]]
    models: dict[str, Any] = {}
    for index, (name, architecture) in enumerate({"clip": clips.ShapesClip, "other": clips.OtherClip}.items()):
        torch.manual_seed(10 + index)
        model = models[name] = architecture()
        # twice the judges' epochs: the contrastive models learn slower (ShapesClip names 92 % at 8, 99 % at 16)
        train_contrastive(model.train(), images, captions, 2 * epochs)
        save_file(model.state_dict(), str(out / f"{name}.safetensors"))
        cosines = zero_shot(model, held, prompts).unflatten(1, (len(CLASSES), -1)).mean(-1)  # a shape's phrasings
        named = float((cosines.argmax(1) == held_shapes).float().mean())
        print(f"{name}: names the shape of {named:.0%} of 400 new pictures from the prompts alone", flush=True)
    judges = trained_judges(nets.Judge, images, kinds, epochs, fit)
    for name, judge in judges.items():
        save_file(judge.state_dict(), str(out / f"judge-{name}.safetensors"))
        with torch.no_grad():
            judged = float((judge.eval()(held).argmax(1) == held_shapes).float().mean())
        print(f"judge {name}: {judged:.0%} of 400 new pictures", flush=True)
    other = models["other"].eval()
    results: dict[str, dict[str, float]] = {}
    for label, options in SETTINGS.items():
        if only and label not in only:
            continue
        folder = out / "dreams" / label.split(" (")[0].replace(", ", "-").replace(" ", "_").replace("+", "-")
        right = dict.fromkeys(judges, 0)
        total = 0
        rises: list[float] = []
        for number, shape in enumerate(CLASSES):
            if shapes and shape not in shapes:
                continue
            for phrasing, prompt in enumerate(PROMPTS[shape]):  # the shape's faces dealt to its phrasings in turn
                names = [f"{shape}-{face:02d}" for face in range(phrasing, faces, len(PROMPTS[shape]))]
                if not names:
                    continue
                dreamed = pixels(dream(out, folder / shape / f"phrasing-{phrasing + 1}", prompt, names, options,
                                       iterations))  # fmt: skip
                with torch.no_grad():
                    for name, judge in judges.items():
                        right[name] += int((judge(dreamed).argmax(1) == number).sum())
                total += len(dreamed)
                noise = torch.rand(dreamed.shape, generator=torch.Generator().manual_seed(number))  # as dreams start
                cosines = [float(zero_shot(other, seen, [prompt]).mean()) for seen in (dreamed, noise)]
                rises.append(cosines[0] - cosines[1])
        rise = statistics.mean(rises)
        shares = {
            kind: statistics.mean(right[name] / total for name in right if name.startswith(kind)) for kind in KINDS
        }
        results[label] = {"dreams": total, "rise": rise, **{f"judged_{kind}": shares[kind] for kind in KINDS}}
        each = ", ".join(f"{name} {count}" for name, count in right.items())
        said = ", ".join(f"the {kind} judges {shares[kind]:.0%}" for kind in KINDS)
        print(f"{label}: of {total} dreams, {said} name the prompted shape ({each}); the second model's"
              f" cosine with the prompt rose {rise:+.3f}", flush=True)  # fmt: skip
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("text-check"))
    parser.add_argument("--epochs", type=int, default=8, help="the judges'; the contrastive models train twice as many")
    parser.add_argument("--pictures", type=int, default=6000)
    parser.add_argument("--faces", type=int, default=12, help="dreams per shape")
    parser.add_argument("--iterations", type=int, default=128)
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="these settings only")
    args = parser.parse_args()
    run(args.out, args.epochs, args.pictures, args.faces, args.iterations, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
