"""Natural examples: for each channel of an atlas, the crops of the user's own photos (and video
frames) that excite it most, to lay beside its dream (people read a unit better with both)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from PIL import Image
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.errors import ImageError
from dreamer.files.gather import everyone
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.motion.videoio import is_video, probe, read_frames

LONG_SIDE = 448  # pictures are searched at this long side
CROP = 112  # side of an example crop, in pixels of the searched picture
VIDEO_FRAMES = 8  # frames searched per video, evenly spread


@dataclass(frozen=True)
class Example:
    """A crop that excites a channel: its activation, where it comes from, and its pixels."""

    value: float
    source: str  # ``name`` or ``name#frame``
    box: tuple[int, int, int, int]  # left, top, right, bottom in the picture scaled to LONG_SIDE
    pixels: np.ndarray  # uint8 [CROP, CROP, 3]


def pictures(path: Path, name: str) -> Iterator[tuple[str, Image.Image]]:
    """``(source, picture)`` of a photo, or of ``VIDEO_FRAMES`` frames spread over a video, each
    scaled to ``LONG_SIDE``. A file that cannot be read raises ``ImageError`` naming it."""
    if is_video(path):
        count = probe(path).frames
        chosen = set(np.linspace(0, count - 1, min(VIDEO_FRAMES, count)).round().astype(int).tolist())
        for index, frame in enumerate(read_frames(path)):
            if index in chosen:
                yield f"{name}#{index}", scaled(Image.fromarray(frame))
            if index >= max(chosen):
                return
    else:
        photo, _ = open_photo(path)
        yield name, scaled(photo)


def scaled(picture: Image.Image) -> Image.Image:
    """``picture`` in RGB with its long side ``LONG_SIDE`` (its short side at least ``CROP``)."""
    factor = max(LONG_SIDE / max(picture.size), CROP / min(picture.size))
    size = (max(CROP, round(picture.width * factor)), max(CROP, round(picture.height * factor)))
    return picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def strongest_boxes(
    activation: torch.Tensor, size: tuple[int, int], per_channel: int
) -> list[list[tuple[float, tuple[int, int, int, int]]]]:
    """Per channel of ``activation`` ``[C, h, w]`` (of a picture of ``size`` = (width, height)): up to
    ``per_channel`` ``(value, box)`` at its strongest positions, boxes of ``CROP`` px centred there
    (kept inside the picture) that overlap each other by less than half."""
    channels, height, width = activation.shape
    candidates = activation.flatten(1).topk(min(height * width, per_channel * 8), dim=1)
    found = []
    for values, places in zip(candidates.values.tolist(), candidates.indices.tolist()):
        boxes: list[tuple[float, tuple[int, int, int, int]]] = []
        for value, place in zip(values, places):
            row, column = divmod(place, width)
            x = min(max(round((column + 0.5) * size[0] / width) - CROP // 2, 0), size[0] - CROP)
            y = min(max(round((row + 0.5) * size[1] / height) - CROP // 2, 0), size[1] - CROP)
            if all(abs(x - other[0]) >= CROP / 2 or abs(y - other[1]) >= CROP / 2 for _, other in boxes):
                boxes.append((value, (x, y, x + CROP, y + CROP)))
            if len(boxes) == per_channel:
                break
        found.append(boxes)
    return found


def search(
    files: Sequence[tuple[Path, str]],
    measure: Callable[[torch.Tensor], torch.Tensor],
    channels: Sequence[int],
    per_channel: int,
    failed: list[str],
) -> dict[int, list[Example]]:
    """The ``per_channel`` strongest crops of ``files`` for each of ``channels``; ``measure`` maps a
    picture ``[1, 3, H, W]`` to the layer's activation ``[1, C, h, w]``. A video offers the crops of
    its one best frame per channel (its frames look alike). Files that cannot be read add a line to
    ``failed`` and are passed over."""
    best: dict[int, list[Example]] = {channel: [] for channel in channels}
    for path, name in files:
        mine: dict[int, list[Example]] = {channel: [] for channel in channels}
        try:
            for source, picture in pictures(path, name):
                with torch.no_grad():
                    activation = measure(to_tensor(picture)[None])[0, list(channels)].float().cpu()
                array = np.asarray(picture)
                for channel, boxes in zip(channels, strongest_boxes(activation, picture.size, per_channel)):
                    found = [
                        Example(v, source, box, array[box[1] : box[3], box[0] : box[2]].copy()) for v, box in boxes
                    ]
                    if found and (not mine[channel] or found[0].value > mine[channel][0].value):
                        mine[channel] = found
        except ImageError as error:
            failed.append(f"data.examples: {error}")
            continue
        for channel in channels:
            best[channel] = strongest(best[channel] + mine[channel], per_channel)
    return best


def strongest(examples: Sequence[Example], count: int) -> list[Example]:
    """The ``count`` examples of largest value, strongest first."""
    return sorted(examples, key=lambda example: -example.value)[:count]


class ExampleSearch(pl.Callback, Account):
    """When the run ends, every process searches its share of ``files`` (as photos are shared out)
    for the crops that excite each ``chosen()`` channel (of its layer) most; the results are
    gathered and handed to ``found`` on rank 0, before the contact sheets are laid out."""

    def __init__(
        self,
        files: Sequence[tuple[Path, str]],
        chosen: Callable[[], tuple[str, Sequence[int]]],
        per_channel: int,
        found: Callable[[dict[int, list[Example]]], None],
    ) -> None:
        super().__init__()  # examples are no inputs to dream: it accounts for none, and writes none
        self.files, self.chosen, self.per_channel, self.found = list(files), chosen, per_channel, found

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        layer, channels = self.chosen()
        extractor, device = pl_module.objective.extractor, pl_module.device

        def measure(picture: torch.Tensor) -> torch.Tensor:
            return extractor(picture.to(device), (layer,))[layer]

        rank, world = trainer.global_rank, trainer.world_size
        mine = search(self.files[rank::world], measure, channels, self.per_channel, self.failed)
        if world > 1:
            parts = everyone((mine, self.failed), world)
            self.failed = [line for _, lines in parts for line in lines] if trainer.is_global_zero else []
            mine = {c: strongest([e for found, _ in parts for e in found[c]], self.per_channel) for c in mine}
        if trainer.is_global_zero:
            self.found(mine)
