"""Lucent's feature visualisation (torch-lucent 0.1.8's ``render_vis`` with its defaults: a 128 px
``fft + decorrelated`` image, Adam 0.05, 512 steps, its standard transforms, the image upsampled to
224 px) of MobileNetV2's ``features.11`` channels, one channel at a time, each saved as a PNG: the
peer of ``dreamer fit --config atlas`` in the "Feature visualisation" benchmark.

    pip install --no-deps torch-lucent==0.1.8 && pip install kornia decorator ipython
    python -m scripts.benchmark.lucent_atlas --channels 0-15 --output lucent-atlas

Lucent pins kornia <= 0.4.1, which no longer installs; current kornia keeps the two functions it
calls under ``kornia.geometry.transform``, so they are put back where Lucent looks for them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import kornia
import kornia.geometry.transform
import numpy as np
import torch
from PIL import Image

from dreamer.engine.networks.backbones import build_backbone
from dreamer.explore.atlas import parse_channels

kornia.get_rotation_matrix2d = kornia.geometry.transform.get_rotation_matrix2d  # type: ignore[attr-defined]
kornia.warp_affine = kornia.geometry.transform.warp_affine  # type: ignore[attr-defined]

from lucent.optvis import render  # noqa: E402  (after the names it needs are in place)

LAYER = "features_11"  # Lucent's name of features.11


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", default="0-15")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=512, help="Lucent's default: 512")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = build_backbone("mobilenet_v2", "imagenet").eval()
    args.output.mkdir(parents=True, exist_ok=True)
    for channel in parse_channels(args.channels, 96):
        (image,) = render.render_vis(
            model, f"{LAYER}:{channel}", thresholds=(args.steps,), show_image=False, progress=False
        )
        pixels = (np.clip(image[0], 0, 1) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(args.output / f"features.11-c{channel:04d}.png")


if __name__ == "__main__":
    main()
