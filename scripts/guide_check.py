"""How far a guide pulls a dream: the cosine between the guide's and each image's ``features.11``
channel means (MobileNetV2, real weights), for the photo, its unguided and its guided quickstart dream.

    python scripts/guide_check.py GUIDE [--photo assets/chelsea.jpg]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from dreamer.cli import main as dreamer_main
from dreamer.engine.module import DreamModule
from dreamer.explore.probes import channel_means
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import open_photo, to_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("guide", type=Path)
    parser.add_argument("--photo", type=Path, default=SAMPLE_PHOTO)
    args = parser.parse_args()
    judge = DreamModule(backbone="mobilenet_v2", weights="imagenet", layers=11)

    def means(path: Path) -> torch.Tensor:
        return channel_means(judge.objective, to_tensor(open_photo(path)[0])[None])[0]

    target = means(args.guide)
    with tempfile.TemporaryDirectory() as folder:
        images = {"photo": args.photo}
        for name, extra in (("unguided", []), ("guided", ["--model.guide.image", str(args.guide)])):
            images[name] = Path(folder) / f"{name}.png"
            command = ["fit", "--config", "quickstart", "--data.images", str(args.photo), "--data.output"]
            assert dreamer_main([*command, str(images[name]), *extra, "--trainer.enable_progress_bar", "false"]) == 0
        for name, path in images.items():
            print(f"{name}: cosine to the guide {torch.cosine_similarity(means(path), target, dim=0).item():.3f}")


if __name__ == "__main__":
    main()
