"""Throughput of whole runs by batch size."""

from __future__ import annotations

from pathlib import Path

from scripts.benchmark.common import (
    dreamer_run,
    median_seconds,
    model_for,
    photo,
    table,
)


def batching(work: Path, smoke: bool, reps: int) -> str:
    count, side = (4, 64) if smoke else (8, 256)
    sizes = [1, 2, 4] if smoke else [1, 2, 4, 8]
    folder = work / "batch"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        photo(folder / f"{i}.png", side, seed=i)
    rows = []
    for backbone, layer in [("mobilenet_v2", 11)] + ([] if smoke else [("vgg16", 22)]):
        model = model_for(backbone, layer, octaves=1, iterations=1 if smoke else 3)
        base = None
        for batch_size in sizes:
            seconds = median_seconds(lambda: dreamer_run(model, folder, work / "bout", batch_size=batch_size), reps)
            throughput = count / seconds
            base = base or throughput
            rows.append([backbone, batch_size, f"{throughput:.2f}", f"{throughput / base:.2f}x"])
    return (
        f"## Batching\n\n{count} images of {side}², 1 octave, {1 if smoke else 3} steps each, whole run "
        "(decode, dream, write).\n\n" + table(rows, ["backbone", "batch size", "images / s", "vs batch 1"])
    )
