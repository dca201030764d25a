"""Render the README gallery: the seed's comparisons on the bundled photo, with real offline weights.

    python scripts/make_gallery.py            # writes docs/gallery_*.jpg (about a minute on 2 CPU cores)

Every panel is ``dreamer fit --config quickstart`` plus the options in its label;
``--only gradients`` renders one comparison. ``atlas``, ``classes``, ``faces``, ``caricature``,
``sweep`` and ``guided`` render the atlas sheet with natural examples (``dreamer fit --config
atlas``), the classes preset's sheet of eight ImageNet classes (``dreamer fit --config classes``),
four faces of one channel without and with the diversity term, caricatures of the bundled photo
(``dreamer fit --config caricature``), the seed's scale × alpha sheet (``dreamer sweep --config
sweep_seed``), a guided dream beside its guide and the unguided one, and ``octaves: auto`` on a
photo three times the bundled one's size.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dreamer import dream
from dreamer.cli import main as dreamer_main

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "assets" / "chelsea.jpg"

# name -> [(label, overrides)], every panel on top of configs/quickstart.yaml
COMPARISONS: dict[str, list[tuple[str, dict]]] = {
    "layers": [
        ("one layer: features[11]", {"layers": 11}),
        ("per octave: [4, 7, 11, 14]", {"layers": "[4, 7, 11, 14]"}),
    ],
    "alpha": [
        ("alpha 0", {"alpha": 0.0}),
        ("alpha 0.2", {"alpha": 0.2}),
        ("alpha 1", {"alpha": 1.0}),
    ],
    "optimizer": [
        ("naive GD (lr 0.012)", {}),
        ("Adam (lr 0.012)", {"optimizer": "torch.optim.Adam"}),
    ],
    "iterations": [
        ("5 iterations", {"iterations": 5}),
        ("20 iterations", {"iterations": 20}),
    ],
    "gradients": [
        ("today's default", {}),
        ("Laplacian, 4 levels", {"laplacian_levels": 4}),
        ("turn ±8°, scale ±5 %, flip", {"jitter.rotate": 8, "jitter.scale": 0.05, "jitter.flip": True}),
    ],
}


def command(overrides: dict) -> str:
    options = " ".join(f"--model.{key} {shlex.quote(str(value))}" for key, value in overrides.items())
    return f"dreamer fit --config quickstart {options}".strip()


def labelled_row(panels: list[tuple[str, Image.Image]], width: int) -> Image.Image:
    """Panels side by side, each scaled to ``width`` px wide, a caption above each."""
    font = ImageFont.load_default(size=16)
    scaled = [
        (label, image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS))
        for label, image in panels
    ]
    height = max(image.height for _, image in scaled)
    row = Image.new("RGB", (len(scaled) * (width + 6) - 6, height + 26), "white")
    draw = ImageDraw.Draw(row)
    for i, (label, image) in enumerate(scaled):
        row.paste(image, (i * (width + 6), 26))
        draw.text((i * (width + 6) + 4, 4), label, fill="black", font=font)
    return row


def atlas_sheet(work: Path) -> Image.Image:
    """Channels 0-23 of the atlas preset (MobileNetV2 features.11), each beside the three crops of the
    bundled photo and clip frames that excite it most, as its sheet shows them."""
    examples = [str(PHOTO), str(ROOT / "assets" / "chelsea_pan.mp4")]
    command = ["fit", "--config", "atlas", "--data.channels", "0-23", "--data.output", str(work / "atlas")]
    print("dreamer " + " ".join(command[:5]) + " --data.examples [chelsea.jpg, chelsea_pan.mp4]")
    options = ["--data.examples", str(examples), "--data.sheet_columns", "16"]
    assert dreamer_main([*command, *options, "--trainer.enable_progress_bar", "false"]) == 0
    return Image.open(work / "atlas" / "features.11-sheet1.png")


def classes_sheet(work: Path) -> Image.Image:
    """The classes preset as it comes: eight ImageNet classes dreamed from noise, labelled by name."""
    command = ["fit", "--config", "classes", "--data.output", str(work / "classes")]
    print("dreamer " + " ".join(command[:4]))
    assert dreamer_main([*command, "--trainer.enable_progress_bar", "false"]) == 0
    return Image.open(work / "classes" / "classifier.1-sheet1.png")


def faces_sheet(work: Path) -> Image.Image:
    """Four faces of channel 22, without and with the diversity term."""
    rows = []
    for weight in (0, 1):
        out = work / f"faces{weight}"
        command = ["fit", "--config", "atlas", "--data.channels", "22", "--data.faces", "4"]
        print("dreamer " + " ".join(command) + f" --model.diversity {weight}")
        options = [
            "--model.diversity",
            str(weight),
            "--data.output",
            str(out),
            "--trainer.enable_progress_bar",
            "false",
        ]
        assert dreamer_main([*command, *options]) == 0
        rows.append((f"diversity {weight}", Image.open(out / "features.11-sheet1.png")))
    return labelled_row(rows, 560)


def caricature_row(work: Path, width: int) -> Image.Image:
    """The bundled photo, and its caricatures at two depths (``configs/caricature.yaml``)."""
    print("dreamer fit --config caricature [--model.layers 14]")
    panels = [
        ("photo", Image.open(PHOTO)),
        ("caricature, features.11", dream(PHOTO, "caricature", enable_progress_bar=False)),
        ("caricature, features.14", dream(PHOTO, "caricature", enable_progress_bar=False, layers=14)),
    ]
    return labelled_row(panels, width)


def sweep_sheet(work: Path) -> Image.Image:
    print("dreamer sweep --config sweep_seed")
    assert dreamer_main(["sweep", "--config", "sweep_seed", "--data.output", str(work / "sweep")]) == 0
    return Image.open(work / "sweep" / "chelsea-sweep.png")


def guided_row(work: Path, width: int) -> Image.Image:
    """The guide (channel 40's atlas image), the quickstart unguided, and guided by it."""
    command = ["fit", "--config", "atlas", "--data.channels", "40", "--data.output", str(work / "guide")]
    assert dreamer_main([*command, "--data.size", "224", "--trainer.enable_progress_bar", "false"]) == 0
    guide = work / "guide" / "features.11" / "features.11-c0040.png"
    print("dreamer fit --config quickstart --model.guide.image features.11-c0040.png")
    panels = [
        ("guide: atlas image of channel 40", Image.open(guide)),
        ("quickstart", dream(PHOTO, "quickstart", enable_progress_bar=False)),
        ("quickstart, guided by it", dream(PHOTO, "quickstart", enable_progress_bar=False, guide=str(guide))),
    ]
    return labelled_row(panels, width)


def octaves_row(work: Path, width: int) -> Image.Image:
    """Pattern scale that follows the photo: the bundled photo, and it at 3× size with 4 fixed levels and with auto."""
    big = work / "chelsea_x3.png"
    photo = Image.open(PHOTO).convert("RGB")
    photo.resize((photo.width * 3, photo.height * 3), Image.Resampling.LANCZOS).save(big)
    print("dreamer fit --config quickstart --data.images chelsea_x3.png [--octaves.count 4]")
    panels = [
        ("451 px photo (auto: 4 levels)", dream(PHOTO, "quickstart", enable_progress_bar=False)),
        ("1353 px, 4 levels", dream(big, "quickstart", octaves=4, enable_progress_bar=False)),
        ("1353 px, auto (7 levels)", dream(big, "quickstart", enable_progress_bar=False)),
    ]
    return labelled_row(panels, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--width", type=int, default=300, help="width of each panel in pixels")
    sheets = {
        "atlas": atlas_sheet,
        "classes": classes_sheet,
        "faces": faces_sheet,
        "caricature": lambda work: caricature_row(work, args.width),
        "sweep": sweep_sheet,
        "guided": lambda work: guided_row(work, args.width),
        "octaves": lambda work: octaves_row(work, args.width),
    }
    parser.add_argument("--only", nargs="*", choices=[*COMPARISONS, *sheets], help="render only these comparisons")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, render in sheets.items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix="dreamer-gallery-") as work:
            path = args.out / f"gallery_{name}.jpg"
            render(Path(work)).convert("RGB").save(path, quality=85)
        print(f"  -> {path} ({path.stat().st_size // 1024} KiB)")
    for name, variants in COMPARISONS.items():
        if args.only and name not in args.only:
            continue
        panels = []
        for label, overrides in variants:
            print(command(overrides))
            panels.append((label, dream(PHOTO, "quickstart", enable_progress_bar=False, **overrides)))
        path = args.out / f"gallery_{name}.jpg"
        labelled_row(panels, args.width).save(path, quality=85)
        print(f"  -> {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
