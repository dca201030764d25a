"""A channel atlas: what every channel of a layer wants to see, one dreamed image per channel (or
several faces of it), laid out on labelled contact sheets, beside natural examples where asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.outline import DreamOutline, DreamSteps
from dreamer.engine.contract.source import DreamSource
from dreamer.errors import ConfigError, ImageError
from dreamer.explore.examples import Example, ExampleSearch
from dreamer.explore.sheets import ContactSheets, contact_sheet, save_sheet, side_by_side
from dreamer.files.imageio import IMAGE_SUFFIXES, open_photo, save_text, to_tensor
from dreamer.files.listing import find_files
from dreamer.files.outputs import OutputRules, remove_leftovers
from dreamer.files.plan import RunSummary, check_writable, gather_summaries, image_seed
from dreamer.motion.videoio import is_video
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
    name: str  # ``<layer>/c0007`` (``<layer>/c0007-f2``: a face): identity and seed
    target: Path


class ChannelBatches(Dataset):
    """Item ``i``: a batch of channels to dream, each image starting from the photo or from noise."""

    def __init__(
        self, batches: list[list[ChannelJob]], start: Optional[torch.Tensor], side: int, seed: int, choice: str
    ) -> None:
        self.batches, self.start, self.side, self.seed, self.choice = batches, start, side, seed, choice

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
            remakes=[{self.choice: str(job.channel)} for job in jobs],  # a picture's recipe makes only its channel
            alphas=[None] * len(jobs),
            init=None if self.start is not None else "noise",
        )


class AtlasDataModule(DreamSource):
    """What every channel of a layer wants to see: one picture each, on contact sheets.

    Every channel (or some) of the model's layer, one image each: ``model.layers`` names one layer
    (for all octaves), and image ``b`` of a batch dreams of its own channel alone. Batches are shared
    out over processes like photos (``--trainer.strategy ddp_independent``).

    Args:
        channels: ``all``, or channels and inclusive ranges: ``0-31``, ``3,7,12``, ``0-15,40``.
        output: Folder: ``<layer>/<layer>-c0007.png`` per channel and ``<layer>-sheet1.png`` … sheets.
        size: Side of each (square) channel image, in pixels.
        photo: Start every channel's dream from this photo (resized to ``size``) instead of noise.
        faces: Images per channel, each from its own noise, dreamed in one batch (with
            ``model.diversity`` they are pushed apart: several faces of one channel).
        examples: Photos, videos or folders of them (one or a list): for every channel the crops that excite it most
            are laid beside its dream on the sheets (videos: 8 frames each), and listed in
            ``<layer>-examples.json``. The search is shared out over processes like the dreams.
        examples_per_channel: Natural examples shown per channel.
        batch_size: Images dreamed together, one channel each (a channel's faces stay together).
        overwrite: Replace channel images that exist; otherwise they are skipped (resume) and still
            shown on the sheets.
        seed: Seeds each channel's noise and jitter together with its name.
        sheet_columns: Tiles per row of a contact sheet.
        sheet_tiles: Tiles per sheet; more channels make more sheets.
        tile_side: Side of a tile on the sheets, in pixels.

    Raises:
        ConfigError: a setting out of range.
    """

    unit, what, whats = "c", "channel", "channels"  # files ``<layer>-c0007.png``; a line names "channel 7"
    choice = "data.channels"  # the setting that chooses them

    def __init__(
        self,
        channels: str = "all",
        output: str = "dreams/atlas",
        size: int = 160,
        photo: Optional[str] = None,
        faces: int = 1,
        examples: Optional[Union[str, list[str]]] = None,
        examples_per_channel: int = 3,
        batch_size: int = 16,
        overwrite: bool = False,
        seed: int = 0,
        sheet_columns: int = 12,
        sheet_tiles: int = 96,
        tile_side: int = 112,
    ) -> None:
        super().__init__()
        if min(batch_size, sheet_columns, sheet_tiles, faces, examples_per_channel) < 1 or size < 8 or tile_side < 16:
            raise ConfigError(
                "data.batch_size, faces, examples_per_channel, sheet_columns and sheet_tiles must be >= 1, "
                "size >= 8, tile_side >= 16"
            )
        self.faces, self.per_channel = faces, examples_per_channel
        self.example_files = self.find_examples(examples)
        self.examples: dict[int, list[Example]] = {}
        self.channel_text, self.output, self.size = channels, Path(output).expanduser(), size
        self.photo = Path(photo).expanduser() if photo else None
        self.batch_size, self.overwrite, self.seed = batch_size, overwrite, seed
        self.sheet_columns, self.sheet_tiles, self.tile_side = sheet_columns, sheet_tiles, tile_side
        self.layer = ""
        self.channels: list[int] = []
        self.jobs: list[ChannelJob] = []
        self.start: Optional[torch.Tensor] = None
        self.rules = OutputRules(self.output, overwrite)

    @staticmethod
    def find_examples(entries: Optional[Union[str, list[str]]]) -> list[tuple[Path, str]]:
        """The photos and videos of ``entries`` (files, folders or globs), checked before any work."""
        if not entries:
            return []
        return find_files(
            entries,
            lambda path: not path.name.startswith(".") and (path.suffix.lower() in IMAGE_SUFFIXES or is_video(path)),
            setting="data.examples",
        )

    def target(self, channel: int, face: int = 0) -> Path:
        """Where channel ``channel``'s image (its face ``face``, counted from 0) goes."""
        tail = f"-f{face + 1}" if self.faces > 1 else ""
        return self.output / self.layer / f"{self.layer}-{self.unit}{channel:04d}{tail}.png"

    def parse(self, text: str, width: int) -> list[int]:
        """The channels ``data.channels`` chooses (``parse_channels``)."""
        return parse_channels(text, width)

    def label(self, channel: int) -> str:
        """A channel's label on the sheets."""
        return str(channel)

    def choose_layer(self, outline: DreamOutline) -> tuple[str, int]:
        """The one layer every octave dreams, and its width."""
        layer_sets = set(outline.layers)
        if len(layer_sets) != 1 or len(next(iter(layer_sets))) != 1:
            raise ConfigError(
                "model.layers: an atlas dreams the channels of one layer; give a single layer for all octaves"
            )
        if outline.channels_set:
            raise ConfigError("model.channels: the atlas chooses each image's channel (data.channels); leave it unset")
        ((layer,),) = layer_sets
        return layer, outline.widths[layer]

    @override
    def setup(self, stage: str) -> None:
        if self.summary is not None:
            return
        outline = self.current_outline
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        self.layer, width = self.choose_layer(outline)
        self.channels = self.parse(self.channel_text, width)
        if self.size < outline.min_side:
            raise ConfigError(
                f"data.size: {self.size} px is smaller than the {outline.min_side} px that {self.layer} needs"
            )
        if self.photo is not None:
            try:
                image, _ = open_photo(self.photo)
            except ImageError as error:
                raise ConfigError(f"data.photo: {error}") from None
            self.start = to_tensor(image.resize((self.size, self.size), Image.Resampling.LANCZOS))
        skipped: list[Path] = []
        failed: list[str] = []
        examples = [path for path, _ in self.example_files]
        self.rules.protect([*([self.photo] if self.photo else []), *self.protected, *examples])
        for channel in self.channels[rank::world_size]:
            for face in range(self.faces):
                name = f"{self.layer}/{self.unit}{channel:04d}" + (f"-f{face + 1}" if self.faces > 1 else "")
                job = ChannelJob(channel, name, self.target(channel, face))
                reason = self.rules.refusal(job.target)
                if reason is not None:
                    failed.append(f"{self.what} {channel}: not dreamed: its output {reason}; choose data.output")
                elif self.rules.kept(job.target):
                    skipped.append(job.target)
                else:
                    self.jobs.append(job)
        check_writable(self.output / self.layer, needed_bytes=3 * self.size**2 * len(self.jobs))
        remove_leftovers([self.output, self.output / self.layer])
        steps = outline.steps_for((self.size, self.size)) * len(self.batches())
        mine = RunSummary(failed, [], skipped[:10], len(skipped), steps, planned=len(self.jobs))
        self.summary = gather_summaries(mine, world_size)

    def batches(self) -> list[list[ChannelJob]]:
        """Jobs in batches of about ``batch_size``, a channel's faces always in one batch."""
        batches: list[list[ChannelJob]] = [[]]
        for job in self.jobs:
            if len(batches[-1]) >= self.batch_size and batches[-1][-1].channel != job.channel:
                batches.append([])
            batches[-1].append(job)
        return [batch for batch in batches if batch]

    @override
    def train_dataloader(self) -> DreamSteps:
        dataset = ChannelBatches(self.batches(), self.start, self.size, self.seed, self.choice)
        loader = DataLoader(dataset, batch_size=None, shuffle=False)
        mine = self.current_outline.steps_for((self.size, self.size)) * len(dataset)
        return DreamSteps(loader, self.current_outline, total=max(self.summary.busiest, mine) if self.summary else mine)

    @override
    def dream_callbacks(self) -> list[Account]:
        searches = [ExampleSearch(self.example_files, self.chosen, self.per_channel, self.take_examples)]
        return [
            DreamWriter(self.current_outline.grey),
            *(searches if self.example_files else []),
            ContactSheets(self.write_sheets),
        ]

    def chosen(self) -> tuple[str, list[int]]:
        """The layer and the channels of this atlas (known once set up)."""
        return self.layer, self.channels

    def take_examples(self, examples: dict[int, list[Example]]) -> None:
        self.examples = examples

    def write_sheets(self, recipe: Optional[str] = None) -> tuple[list[Path], list[str]]:
        """Sheets of every requested channel whose image exists, ``sheet_tiles`` per sheet, each with
        ``recipe`` inside: the sheets written, and a line for each that could not be."""
        faces = range(self.faces)
        done = [channel for channel in self.channels if all(self.target(channel, f).is_file() for f in faces)]
        written: list[Path] = []
        failed: list[str] = []
        if self.examples:
            self.write_examples_list(written, failed)
        # One cell per channel: its dream (or faces), then its examples, in a row.
        per_cell = self.faces + (self.per_channel if self.examples else 0)
        columns, tiles = max(1, self.sheet_columns // per_cell), max(1, self.sheet_tiles // per_cell)
        for number, first in enumerate(range(0, len(done), tiles), start=1):
            chosen = done[first : first + tiles]
            images = []
            for channel in chosen:
                pictures = []
                for face in faces:
                    with Image.open(self.target(channel, face)) as image:
                        pictures.append(image.convert("RGB"))
                pictures += [Image.fromarray(example.pixels) for example in self.examples.get(channel, [])]
                images.append(side_by_side(pictures, self.tile_side) if len(pictures) > 1 else pictures[0])
            contiguous = chosen[-1] - chosen[0] == len(chosen) - 1
            title = f"{self.layer}: " + (
                f"{self.what} {chosen[0]}"
                if len(chosen) == 1
                else f"{self.whats} {chosen[0]}-{chosen[-1]}"
                if contiguous
                else f"{len(chosen)} {self.whats}"
            )
            if self.examples:
                title += f" (dream, then the {self.per_channel} crops of your examples that excite it most)"
            width = per_cell * (self.tile_side + 3) - 3
            sheet = contact_sheet(images, [self.label(c) for c in chosen], columns, self.tile_side, title, width)
            path = self.output / f"{self.layer}-sheet{number}.png"
            reason = self.rules.refusal(path)
            if reason is not None:
                failed.append(f"sheet {number}: not written: {reason}")
                continue
            save_sheet(sheet, path, written, failed, recipe)
        return written, failed

    def write_examples_list(self, written: list[Path], failed: list[str]) -> None:
        """``<layer>-examples.json``: every channel's examples (source, box in the picture scaled
        to a long side of 448 px, activation)."""
        path = self.output / f"{self.layer}-examples.json"
        listing = {
            str(channel): [{"source": e.source, "box": list(e.box), "activation": round(e.value, 4)} for e in found]
            for channel, found in sorted(self.examples.items())
        }
        reason = self.rules.refusal(path)
        if reason is not None:
            failed.append(f"{path}: not written: {reason}")
            return
        try:
            lines = [f"  {json.dumps(channel)}: {json.dumps(found)}" for channel, found in listing.items()]
            save_text("{\n" + ",\n".join(lines) + "\n}\n", path)
        except OSError as error:
            failed.append(f"{path}: not written ({error.strerror or error})")
            return
        written.append(path)
