"""Big images: peak memory with and without tiling, and what tiling changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dreamer.photos.data import DreamDataModule
from scripts.benchmark.common import (
    fit,
    model_for,
    photo,
    table,
)


def big_images(work: Path, smoke: bool, reps: int) -> str:
    sides = [128] if smoke else [1024, 2048, 4096]
    tile = 64 if smoke else 512
    iterations = 1 if smoke else 2
    budget = 18.0  # GiB: never start an untiled run predicted above this on a 24 GiB machine
    rows, untiled_peaks = [], {}
    for side in sides:
        for tile_size in (None, tile):
            predicted = untiled_peaks.get(side // 2, 0) * 4
            if tile_size is None and predicted > budget:
                rows.append(
                    [f"{side}²", "off", f"not run: predicted ≈ {predicted:.0f} GiB (4 × the {side // 2}² peak)", "—"]
                )
                continue
            args = [
                sys.executable,
                "-m",
                "scripts.benchmark",
                "--peak",
                str(side),
                str(tile_size or 0),
                str(iterations),
            ]
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode != 0:
                rows.append(
                    [f"{side}²", tile_size or "off", "failed: " + done.stderr.strip().splitlines()[-1][:80], "—"]
                )
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if tile_size is None:
                untiled_peaks[side] = result["peak_gib"]
            rows.append(
                [
                    f"{side}²",
                    tile_size or "off",
                    f"{result['peak_gib']:.2f} GiB ({result['device']})",
                    f"{result['seconds']:.1f} s",
                ]
            )
    # Tiling on vs off on an image both can do: pixel difference, against the difference a new seed makes.
    side = 128 if smoke else 512
    image = photo(work / "equiv.png", side)
    outputs = {}
    for key, tile_size, seed in (("off", None, 0), ("off-seed1", None, 1), ("on", side // 2, 0)):
        model = model_for(
            "mobilenet_v2", 11, octaves=2, iterations=2 if smoke else 5, tile_size=tile_size, jitter=side // 4
        )
        data = DreamDataModule(images=str(image), output=str(work / f"eq-{key}.png"), overwrite=True, seed=seed)
        fit(model, data)
        outputs[key] = np.asarray(Image.open(work / f"eq-{key}.png"), dtype=np.float32) / 255
    tiling = np.abs(outputs["off"] - outputs["on"]).mean()
    reseed = np.abs(outputs["off"] - outputs["off-seed1"]).mean()
    return (
        f"## Big images\n\nMobileNetV2 `features.11`, 1 octave, {iterations} steps; each row in a fresh "
        f"process; tiles of {tile} px.\n\n"
        + table(rows, ["image", "tile", "peak memory", "time"])
        + f"\n\nTiling on ({side // 2} px tiles) vs off on a {side}² image, same seed: mean abs pixel difference "
        f"**{tiling:.4f}**; two untiled dreams that differ only in their seed: {reseed:.4f}."
    )
