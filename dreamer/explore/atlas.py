"""A channel atlas: what every channel of a layer wants to see, one dreamed image per channel, laid
out on labelled contact sheets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from dreamer.engine.batch import DreamBatch
from dreamer.engine.schedule import DreamSchedule, DreamSteps
from dreamer.engine.source import DreamSource
from dreamer.errors import ConfigError, ImageError
from dreamer.explore.sheets import ContactSheets, contact_sheet, save_sheet
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.files.outputs import OutputRules, remove_leftovers
from dreamer.files.plan import RunSummary, check_writable, gather_summaries, image_seed
from dreamer.photos.writer import DreamWriter


def parse_channels(text: str, width: int, setting: str = "data.channels") -> list[int]:
    """``all``, or comma-separated channels and inclusive ranges (``0-31``, ``3,7,12``, ``0-15,40``),
    checked against the layer's ``width``; sorted, without repeats."""
    if text.strip() == "all":
        return list(range(width))
    chosen: set[int] = set()
    for part in (part.strip() for part in text.split(",")):
        try:
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
        except ValueError:
            raise ConfigError(f"{setting}: {part!r} is not a channel or a range like 0-31 (or 'all')") from None
        if low > high:
            raise ConfigError(f"{setting}: the range {part!r} runs backwards")
        chosen.update(range(low, high + 1))
    past = [channel for channel in sorted(chosen) if channel >= width]
    if past:
        raise ConfigError(f"{setting}: channel {past[0]} is past the layer's width ({width} channels: 0-{width - 1})")
    return sorted(chosen)


@dataclass(frozen=True)
class ChannelJob:
    channel: int
    name: str  # ``<layer>/c0007``: identity and seed
    target: Path


class ChannelBatches(Dataset):
    """Item ``i``: a batch of channels to dream, each image starting from the photo or from noise."""

    def __init__(self, batches: list[list[ChannelJob]], start: Optional[torch.Tensor], side: int, seed: int) -> None:
        self.batches, self.start, self.side, self.seed = batches, start, side, seed

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> DreamBatch:
        jobs = self.batches[index]
        start = self.start if self.start is not None else torch.full((3, self.side, self.side), 0.5)
        return DreamBatch(
            pixels=start.expand(len(jobs), -1, -1, -1).clone(),
            names=[job.name for job in jobs],
            seeds=[image_seed(self.seed, job.name) for job in jobs],
            targets=[job.target for job in jobs],
            channels=[job.channel for job in jobs],
            alphas=[None] * len(jobs),
            init=None if self.start is not None else "noise",
        )


class AtlasDataModule(DreamSource):
    """Every channel (or some) of the model's layer, one image each: ``model.layers`` names one layer
    (for all octaves), and image ``b`` of a batch dreams of its own channel alone. Batches are shared
    out over processes like photos (``--trainer.strategy ddp_independent``).

    Args:
        channels: ``all``, or channels and inclusive ranges: ``0-31``, ``3,7,12``, ``0-15,40``.
        output: Folder: ``<layer>/<layer>-c0007.png`` per channel and ``<layer>-sheet1.png`` … sheets.
        size: Side of each (square) channel image, in pixels.
        photo: Start every channel's dream from this photo (resized to ``size``) instead of noise.
        batch_size: Channels dreamed together, one per image.
        overwrite: Replace channel images that exist; otherwise they are skipped (resume) and still
            shown on the sheets.
        seed: Seeds each channel's noise and jitter together with its name.
        sheet_columns: Tiles per row of a contact sheet.
        sheet_tiles: Tiles per sheet; more channels make more sheets.
        tile_side: Side of a tile on the sheets, in pixels.

    Raises:
        ConfigError: a setting out of range.
    """

    def __init__(
        self,
        channels: str = "all",
        output: str = "dreams/atlas",
        size: int = 160,
        photo: Optional[str] = None,
        batch_size: int = 16,
        overwrite: bool = False,
        seed: int = 0,
        sheet_columns: int = 12,
        sheet_tiles: int = 96,
        tile_side: int = 112,
    ) -> None:
        super().__init__()
        if batch_size < 1 or size < 8 or sheet_columns < 1 or sheet_tiles < 1 or tile_side < 16:
            raise ConfigError("data.batch_size, sheet_columns and sheet_tiles must be >= 1, size >= 8, tile_side >= 16")
        self.channel_text, self.output, self.size = channels, Path(output).expanduser(), size
        self.photo = Path(photo).expanduser() if photo else None
        self.batch_size, self.overwrite, self.seed = batch_size, overwrite, seed
        self.sheet_columns, self.sheet_tiles, self.tile_side = sheet_columns, sheet_tiles, tile_side
        self.layer = ""
        self.channels: list[int] = []
        self.jobs: list[ChannelJob] = []
        self.start: Optional[torch.Tensor] = None
        self.rules = OutputRules(self.output, overwrite)

    def target(self, channel: int) -> Path:
        return self.output / self.layer / f"{self.layer}-c{channel:04d}.png"

    @staticmethod
    def choose_layer(schedule: DreamSchedule) -> tuple[str, int]:
        """The one layer every octave dreams, and its width."""
        layer_sets = set(schedule.layers)
        if len(layer_sets) != 1 or len(next(iter(layer_sets))) != 1:
            raise ConfigError(
                "model.layers: an atlas dreams the channels of one layer; give a single layer for all octaves"
            )
        if schedule.channels_set:
            raise ConfigError("model.channels: the atlas chooses each image's channel (data.channels); leave it unset")
        ((layer,),) = layer_sets
        return layer, schedule.widths[layer]

    @override
    def setup(self, stage: str) -> None:
        if self.summary is not None:
            return
        schedule = self.current_schedule
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        self.layer, width = self.choose_layer(schedule)
        self.channels = parse_channels(self.channel_text, width)
        if self.size < schedule.min_side:
            raise ConfigError(
                f"data.size: {self.size} px is smaller than the {schedule.min_side} px that {self.layer} needs"
            )
        if self.photo is not None:
            try:
                image, _ = open_photo(self.photo)
            except ImageError as error:
                raise ConfigError(f"data.photo: {error}") from None
            self.start = to_tensor(image.resize((self.size, self.size), Image.Resampling.LANCZOS))
        skipped: list[Path] = []
        failed: list[str] = []
        self.rules.protect([*([self.photo] if self.photo else []), *self.protected])
        for channel in self.channels[rank::world_size]:
            job = ChannelJob(channel, f"{self.layer}/c{channel:04d}", self.target(channel))
            reason = self.rules.refusal(job.target)
            if reason is not None:
                failed.append(f"channel {channel}: not dreamed: its output {reason}; choose another data.output")
            elif self.rules.kept(job.target):
                skipped.append(job.target)
            else:
                self.jobs.append(job)
        check_writable(self.output / self.layer, needed_bytes=3 * self.size**2 * len(self.jobs))
        remove_leftovers([self.output, self.output / self.layer])
        steps = schedule.steps_for((self.size, self.size)) * len(self.batches())
        mine = RunSummary(failed, [], skipped[:10], len(skipped), steps, planned=len(self.jobs))
        self.summary = gather_summaries(mine, world_size)

    def batches(self) -> list[list[ChannelJob]]:
        return [self.jobs[start : start + self.batch_size] for start in range(0, len(self.jobs), self.batch_size)]

    @override
    def train_dataloader(self) -> DreamSteps:
        dataset = ChannelBatches(self.batches(), self.start, self.size, self.seed)
        loader = DataLoader(dataset, batch_size=None, shuffle=False)
        mine = self.current_schedule.steps_for((self.size, self.size)) * len(dataset)
        return DreamSteps(
            loader, self.current_schedule, total=max(self.summary.busiest, mine) if self.summary else mine
        )

    @override
    def dream_callbacks(self) -> list[pl.Callback]:
        return [DreamWriter(), ContactSheets(self.write_sheets)]

    def write_sheets(self) -> tuple[list[Path], list[str]]:
        """Sheets of every requested channel whose image exists, ``sheet_tiles`` per sheet: the
        sheets written, and a line for each that could not be."""
        done = [channel for channel in self.channels if self.target(channel).is_file()]
        written: list[Path] = []
        failed: list[str] = []
        for number, first in enumerate(range(0, len(done), self.sheet_tiles), start=1):
            chosen = done[first : first + self.sheet_tiles]
            images = []
            for channel in chosen:
                with Image.open(self.target(channel)) as image:
                    images.append(image.convert("RGB"))
            title = f"{self.layer}: channels {chosen[0]}-{chosen[-1]}"
            sheet = contact_sheet(images, [str(c) for c in chosen], self.sheet_columns, self.tile_side, title)
            path = self.output / f"{self.layer}-sheet{number}.png"
            reason = self.rules.refusal(path)
            if reason is not None:
                failed.append(f"sheet {number}: not written: {reason}")
                continue
            save_sheet(sheet, path, written, failed)
        return written, failed
