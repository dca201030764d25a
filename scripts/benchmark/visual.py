"""Feature visualisation beside Lucent: the atlas preset (``fft + decorrelated``), the same with
pixels, the pixel atlas as it was, and torch-lucent 0.1.8's ``render_vis`` with its defaults, on the
same network (MobileNetV2, ImageNet weights), layer (``features.11``), channels, image size (128 px)
and step count (512). Whole commands, one after the other in each round; then what their pictures
are worth, measured by a separate copy of the network.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from dreamer.engine.networks.backbones import build_backbone
from dreamer.engine.networks.extractor import LayerExtractor
from dreamer.explore.sheets import contact_sheet
from dreamer.files.imageio import open_photo, to_tensor
from scripts.benchmark.common import ROOT, alternated, table

LAYER = "features.11"
CHANNELS = list(range(16))
PRESET = "the atlas preset (fft+decorrelated)"
PIXEL = "the preset with --model.parametrisation pixel"
BEFORE = "the pixel atlas before (3 octaves of 15 normalised steps)"
LUCENT = "Lucent render_vis, its defaults"
BEFORE_OPTIONS = [
    "--model.parametrisation",
    "pixel",
    "--model.optimizer",
    "dreamer.engine.optim.NormalizedGD",
    "--model.lr",
    "0.03",
    "--octaves.count",
    "3",
    "--octaves.scale",
    "1.4",
    "--octaves.iterations",
    "15",
    "--octaves.alpha",
    "1.0",
    "--model.jitter.pad",
    "0",
    "--model.jitter.rotate",
    "0",
    "--model.jitter.scale",
    "0",
]
GALLERY = ROOT / "docs" / "atlas_compare.jpg"


def atlas_command(output: Path, channels: str, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dreamer.cli",
        "fit",
        "--config",
        "atlas",
        "--data.channels",
        channels,
        "--data.output",
        str(output),
        "--data.overwrite",
        "true",
        "--trainer.enable_progress_bar",
        "false",
        *options,
    ]


def pictures(folder: Path, channels: list[int], faces: int = 1) -> torch.Tensor:
    """The channel images of an atlas folder (or Lucent's), ``[N, 3, 128, 128]``."""
    tails = [f"-f{face + 1}" for face in range(faces)] if faces > 1 else [""]
    files = [folder / f"{LAYER}-c{channel:04d}{tail}.png" for channel in channels for tail in tails]
    return torch.stack([to_tensor(open_photo(file)[0]) for file in files])


def robust_activation(
    extractor: LayerExtractor, images: torch.Tensor, channels: list[int], draws: int = 16
) -> list[float]:
    """Each channel's mean activation on its own picture, averaged over ``draws`` random shifts
    (±12 %), turns (±20°) and scalings (0.8–1.25), none of them the transforms used while dreaming."""
    torch.manual_seed(0)
    moves = v2.RandomAffine(degrees=20, translate=(0.12, 0.12), scale=(0.8, 1.25), fill=0.5)
    values = []
    with torch.no_grad():
        for image, channel in zip(images, channels):
            moved = torch.stack([moves(image) for _ in range(draws)])
            values.append(extractor(moved, (LAYER,))[LAYER][:, channel].mean().item())
    return values


def spectrum_slope(image: torch.Tensor) -> float:
    """Slope of the log radially averaged power spectrum of the picture's brightness (Hann window;
    frequencies 2 to half the side): natural photos near −2 to −3, white noise 0."""
    grey = image.mean(dim=0).double().numpy()
    grey = grey - grey.mean()
    height, width = grey.shape
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey * np.outer(np.hanning(height), np.hanning(width))))) ** 2
    rows, columns = np.indices(power.shape)
    radius = np.hypot(rows - height // 2, columns - width // 2).round().astype(int)
    radial = np.bincount(radius.ravel(), power.ravel()) / np.bincount(radius.ravel())
    frequencies = np.arange(2, min(height, width) // 2)
    return float(np.polyfit(np.log(frequencies), np.log(radial[frequencies]), 1)[0])


def self_excitation(extractor: LayerExtractor, images: torch.Tensor, channels: list[int]) -> float:
    """Share of the channels whose own picture excites them most among these pictures."""
    with torch.no_grad():
        means = extractor(images, (LAYER,))[LAYER].mean(dim=(2, 3))[:, channels]
    return (means.argmax(dim=0) == torch.arange(len(channels))).float().mean().item()


def gram_cosine(extractor: LayerExtractor, images: torch.Tensor, layer: str) -> float:
    """Mean pairwise cosine between the Gram matrices of ``images`` at ``layer``."""
    with torch.no_grad():
        features = extractor(images, (layer,))[layer].float().flatten(2)
    grams = torch.einsum("bcn,bdn->bcd", features, features).flatten(1)
    grams = grams / grams.norm(dim=1, keepdim=True)
    similarity = grams @ grams.t()
    count = len(grams)
    return ((similarity.sum() - similarity.diag().sum()) / (count * (count - 1))).item()


def gallery(folders: dict[str, Path], channels: list[int]) -> None:
    """``docs/atlas_compare.jpg``: one row per method, the same channels in each."""
    rows = []
    for label, folder in folders.items():
        images = [Image.open(folder / f"{LAYER}-c{c:04d}.png").convert("RGB") for c in channels]
        rows.append(contact_sheet(images, [str(c) for c in channels], len(channels), 112, label))
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height
    sheet.save(GALLERY, quality=88)


def visual(folder: Path, smoke: bool, reps: int) -> str:
    channels = CHANNELS[:2] if smoke else CHANNELS
    text = f"{channels[0]}-{channels[-1]}"
    steps = ["--octaves.iterations", "4"] if smoke else []
    outputs = {PRESET: folder / "fft", PIXEL: folder / "pixel", BEFORE: folder / "before", LUCENT: folder / "lucent"}
    commands = {
        PRESET: atlas_command(outputs[PRESET], text, *steps),
        PIXEL: atlas_command(outputs[PIXEL], text, "--model.parametrisation", "pixel", *steps),
        BEFORE: atlas_command(outputs[BEFORE], text, *BEFORE_OPTIONS),
    }
    lucent_here = all(importlib.util.find_spec(name) for name in ("lucent", "kornia", "decorator", "IPython"))
    if lucent_here:
        lucent = [sys.executable, "-m", "scripts.benchmark.lucent_atlas", "--channels", text]
        commands[LUCENT] = [*lucent, "--output", str(outputs[LUCENT]), *(["--steps", "4"] if smoke else [])]
    runs = alternated(commands, reps, warm_up=False)
    extractor = LayerExtractor(build_backbone("mobilenet_v2", "imagenet"), [(LAYER,), ("features.7",)])
    rows = []
    for name, times in runs.items():
        folder_images = outputs[name] / (LAYER if name != LUCENT else "")
        images = pictures(folder_images, channels)
        seconds = statistics.median(t[0] for t in times) / len(channels)
        speedup = (
            f"{statistics.median(a[0] / b[0] for a, b in zip(runs[LUCENT], times)):.1f}x"
            if LUCENT in runs and name != LUCENT
            else ""
        )
        rows.append(
            [
                name,
                f"{seconds:.1f}",
                speedup,
                f"{statistics.median(robust_activation(extractor, images, channels)):.2f}",
                f"{statistics.median(spectrum_slope(image) for image in images):.2f}",
                f"{100 * self_excitation(extractor, images, channels):.0f} %",
            ]
        )
    photos = [to_tensor(open_photo(ROOT / "assets" / "chelsea.jpg")[0].resize((128, 128)))]
    rows.append(["(the bundled photo at 128 px)", "", "", "", f"{spectrum_slope(photos[0]):.2f}", ""])
    if not smoke and LUCENT in runs:
        gallery(
            {BEFORE: outputs[BEFORE] / LAYER, PRESET: outputs[PRESET] / LAYER, LUCENT: outputs[LUCENT]}, list(range(8))
        )
    lines = [
        "## Feature visualisation",
        "",
        f"Channels {text} of MobileNetV2's `{LAYER}` (ImageNet weights), 128 px pictures from noise. Seconds per "
        f"channel: the whole command (start-up included) ÷ {len(channels)}; × Lucent: Lucent's time ÷ this one's, "
        "in the same round. Robust activation: each channel's mean activation on its own picture, measured by a "
        "separate copy of the network under 16 random shifts (±12 %), turns (±20°) and scalings (0.8–1.25), "
        "median over channels. Spectrum slope: of the radially averaged power spectrum of the picture's "
        "brightness, median over channels (white noise 0; photos steeper). Self-excitation: share of the "
        "channels whose own picture excites them most among these pictures.",
        "",
        table(rows, ["run", "s / channel", "× Lucent", "robust activation", "spectrum slope", "self-excitation"]),
    ]
    if not lucent_here:
        lines += [
            "",
            "Lucent is not installed here: `pip install --no-deps torch-lucent==0.1.8` and "
            "`pip install kornia decorator ipython` add its rows.",
        ]
    return "\n".join(lines)


def diversity(folder: Path, smoke: bool, reps: int) -> str:
    """Four faces of each of channels 0-3 (one batch), with the diversity term at several weights."""
    steps = ["--octaves.iterations", "4"] if smoke else []
    extractor = LayerExtractor(build_backbone("mobilenet_v2", "imagenet"), [(LAYER,), ("features.7",)])
    rows = []
    for weight in (0, 1, 2):
        out = folder / f"faces{weight}"
        command = atlas_command(out, "0-3", "--data.faces", "4", "--model.diversity", str(weight), *steps)
        alternated({"faces": command}, 1, warm_up=False)
        images = pictures(out / LAYER, [0, 1, 2, 3], faces=4).view(4, 4, 3, 128, 128)
        cosines = [
            statistics.mean(gram_cosine(extractor, group, layer) for group in images) for layer in (LAYER, "features.7")
        ]
        with torch.no_grad():
            own = statistics.mean(extractor(g, (LAYER,))[LAYER][:, c].mean().item() for c, g in zip(range(4), images))
        rows.append([f"`--model.diversity {weight}`", f"{cosines[0]:.3f}", f"{cosines[1]:.3f}", f"{own:.2f}"])
    return "\n".join(
        [
            "## Diversity",
            "",
            "The atlas preset on channels 0-3, 4 faces each (`--data.faces 4`), one batch of 16. Gram cosine: mean "
            "pairwise cosine of the faces' Gram matrices, measured by a separate copy of the network, averaged over "
            "the four channels (1: the same style); activation: the faces' mean activation of their own channel.",
            "",
            table(rows, ["run", f"Gram cosine at {LAYER}", "at features.7", "activation"]),
        ]
    )
