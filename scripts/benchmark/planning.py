"""Planning a big folder over many processes."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from dreamer.photos.data import DreamDataModule
from scripts.benchmark.common import (
    median_seconds,
    table,
)


def planning(work: Path, smoke: bool, reps: int) -> str:
    """Planning a big folder: every process lists the files and reads the headers of its share only."""
    import pickle

    from dreamer.files.plan import RunSummary

    count = 200 if smoke else 20_000
    folder = work / "many"
    folder.mkdir(exist_ok=True)
    tiny = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(tiny, format="PNG")
    for i in range(count):
        (folder / f"{i:06d}.png").write_bytes(tiny.getvalue())
    data = DreamDataModule(images=str(folder), output=str(work / "many-out"), batch_size=8)
    rows = []
    for world_size in (1, 4, 16):
        seconds, exchanged = [], []
        for rank in range(world_size):
            seconds.append(median_seconds(lambda: data.make_plan(1, rank, world_size), reps))
            plan = data.make_plan(1, rank, world_size)
            data.plan = plan
            exchanged.append(len(pickle.dumps(RunSummary.of(plan, len(data.batches())))))
        whole_plan = len(pickle.dumps(data.make_plan(1, 0, 1))) if world_size == 1 else None
        rows.append(
            [
                world_size,
                f"{max(seconds):.2f} s",
                f"{max(exchanged) / 1024:.1f} KiB",
                f"{whole_plan / 2**20:.1f} MiB" if whole_plan else "—",
            ]
        )
    return (
        f"## Planning\n\n{count:,} photos in one folder (header reads only; no pixel is decoded). Each process "
        "lists the folder and reads the headers of its own share; what it sends the others is a summary (its "
        "failures, notes, skip count and batch count). The last column is what a plan made on rank 0 alone would "
        "have had to broadcast.\n\n"
        + table(rows, ["processes", "planning time (slowest process)", "sent per process", "whole plan, pickled"])
    )
