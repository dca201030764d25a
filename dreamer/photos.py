"""Photos in, batches of dream steps out: finding files, planning outputs, grouping equal sizes."""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2.functional import pil_to_tensor
from typing_extensions import override

from dreamer.errors import ConfigError, ImageError
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import IMAGE_SUFFIXES, open_photo, to_tensor
from dreamer.files.listing import find_files
from dreamer.files.outputs import OutputRules, output_names, remove_leftovers

_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class DreamJob:
    """One input photo and everything decided about it before any pixel is decoded."""

    source: Path
    name: str  # identity: the path relative to where it was found; seeds the image's randomness
    target: Path
    size: tuple[int, int]  # (height, width) the dream will have
    seed: int
    sidecar: Optional[Path] = None  # where the config beside the dream goes (None: nowhere)


def find_images(
    images: Union[str, Sequence[str]],
    recursive: bool = True,
    accept: Optional[Callable[[Path], bool]] = None,
    setting: str = "data.images",
    notes: Optional[list[str]] = None,
) -> list[tuple[Path, str]]:
    """Expand files, folders and globs into ``(path, name)`` pairs, sorted, without repeats
    (``listing.find_files``); a folder gives the files ``accept`` takes (default: an image suffix,
    any case). ``setting`` names the option in error messages; ``notes`` collects unreadable folders."""
    return find_files(images, accept or _looks_like_image, recursive, setting, notes)


def _looks_like_image(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in Image.registered_extensions()


def read_header(source: Path, resize: Optional[int]) -> tuple[tuple[int, int], int]:
    """(height, width) after EXIF rotation and the optional long-side resize, and the frame count,
    read from the header only."""
    try:
        with Image.open(source) as image:
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
            if image.getexif().get(_EXIF_ORIENTATION) in _ROTATED:
                width, height = height, width
    except Image.DecompressionBombError as error:
        raise ImageError(f"{source}: refused, too many pixels ({error})") from None
    except PermissionError:
        raise ImageError(f"{source}: permission denied") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"{source}: not an image Pillow can read ({type(error).__name__}: {error})") from None
    return resized((height, width), resize), frames


def resized(size: tuple[int, int], resize: Optional[int]) -> tuple[int, int]:
    """``(height, width)`` scaled so the long side is ``resize`` px (unchanged for ``None``)."""
    if not resize:
        return size
    factor = resize / max(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def image_seed(seed: int, name: str) -> int:
    """A per-image seed from the run's seed and the image's identity, independent of batch and rank."""
    return zlib.crc32(f"{seed}/{name}".encode())


def load_job(job: DreamJob) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Pixels ``[3, H, W]`` in [0, 1] at the planned size, and the alpha channel ``[H, W]`` (uint8) if any."""
    image, alpha = open_photo(job.source)
    if (image.height, image.width) != job.size:
        image = image.resize(job.size[::-1], Image.Resampling.LANCZOS)
        alpha = alpha.resize(job.size[::-1], Image.Resampling.LANCZOS) if alpha is not None else None
    return to_tensor(image), (pil_to_tensor(alpha)[0] if alpha is not None else None)


class DreamBatches(Dataset):
    """Item ``i`` is the ``i``-th group of equal-size jobs, decoded and stacked ``[B, 3, H, W]``.

    A file that fails to decode drops out of its batch and is reported in ``failed``.
    """

    def __init__(self, batches: list[list[DreamJob]], steps_for: Callable[[tuple[int, int]], int]) -> None:
        self.batches, self.steps_for = batches, steps_for

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> dict[str, Any]:
        jobs, pixels, alphas, failed = [], [], [], []
        for job in self.batches[index]:
            try:
                rgb, alpha = load_job(job)
            except ImageError as error:
                failed.append(str(error))
                continue
            jobs.append(job)
            pixels.append(rgb)
            alphas.append(alpha)
        height, width = self.batches[index][0].size
        return {
            "pixels": torch.stack(pixels) if pixels else torch.empty(0, 3, height, width),
            "names": [job.name for job in jobs],
            "seeds": [job.seed for job in jobs],
            "targets": [str(job.target) for job in jobs],
            "sidecars": [job.sidecar for job in jobs],
            "alphas": alphas,
            "failed": failed,
            "steps": self.steps_for((height, width)),
        }


EMPTY_BATCH: dict[str, Any] = {
    "pixels": torch.empty(0, 3, 1, 1),
    "names": [],
    "seeds": [],
    "targets": [],
    "alphas": [],
    "failed": [],
}


class DreamSteps:
    """Repeats every batch for each gradient step of its dream, in exactly ``total`` steps.

    A batch dreams for its own ``steps`` if it says (frames of a video may dream lighter than the
    first), else for ``steps``. Step 0 carries the pixels; later steps carry only the bookkeeping, so
    nothing is copied to the device again. Each yielded batch holds ``step`` and ``steps``. Idle
    (empty) one-step batches fill the stream up to ``total``: Lightning synchronises processes at
    every training step, so a process with less to dream must still take as many steps as the busiest.
    """

    def __init__(self, loader: Iterable[dict[str, Any]], steps: int, total: int) -> None:
        self.loader, self.steps, self.total = loader, steps, total

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[dict[str, Any]]:
        taken = 0
        for batch in self.loader:
            light = {key: value for key, value in batch.items() if key != "pixels"}
            steps = batch.get("steps", self.steps)
            for step in range(steps):
                if taken == self.total:
                    return
                yield {**(batch if step == 0 else light), "step": step, "steps": steps}
                taken += 1
        for _ in range(self.total - taken):
            yield {**EMPTY_BATCH, "step": 0, "steps": 1}


@dataclass
class DreamPlan:
    """What a run will do with each input, decided before any dreaming."""

    jobs: list[DreamJob] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # output exists already
    failed: list[str] = field(default_factory=list)  # "<file>: <reason>"
    notes: list[str] = field(default_factory=list)  # worth saying, not a failure


@dataclass
class RunSummary:
    """What every process planned, as rank 0 reports it: the failures and notes, the number of skipped
    outputs with the first few of them, the most gradient steps any one process has to take, and how
    many outputs were planned (what the writers must account for)."""

    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    skipped_count: int = 0
    busiest: int = 0
    planned: int = 0

    @classmethod
    def of(cls, plan: DreamPlan, steps: int, keep: int = 10) -> RunSummary:
        return cls(plan.failed, plan.notes, plan.skipped[:keep], len(plan.skipped), steps, len(plan.jobs))

    @classmethod
    def merge(cls, parts: Sequence[RunSummary], keep: int = 10) -> RunSummary:
        return cls(
            failed=[message for part in parts for message in part.failed],
            notes=[message for part in parts for message in part.notes],
            skipped=[path for part in parts for path in part.skipped][:keep],
            skipped_count=sum(part.skipped_count for part in parts),
            busiest=max((part.busiest for part in parts), default=0),
            planned=sum(part.planned for part in parts),
        )


def plan_header(
    source: Path, resize: Optional[int], min_side: int, plan: DreamPlan
) -> Optional[tuple[tuple[int, int], int]]:
    """A photo's planned size and frame count (``read_header``), or ``None`` once ``plan.failed`` says
    why it cannot be dreamed (unreadable, or smaller than ``min_side``)."""
    try:
        size, frames = read_header(source, resize)
    except ImageError as error:
        plan.failed.append(str(error))
        return None
    if min(size) < min_side:
        plan.failed.append(f"{source}: {size[0]}x{size[1]} px is too small; the layers need at least {min_side} px")
        return None
    return size, frames


def gather_summaries(mine: RunSummary, world_size: int) -> RunSummary:
    """Every process's summary merged (all processes call this together); ``mine`` alone in one process."""
    if world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        return mine
    parts: list[Any] = [None] * world_size
    dist.all_gather_object(parts, mine)
    return RunSummary.merge(parts)


def check_writable(folder: Path, needed_bytes: int) -> None:
    """Fail before any work if ``folder`` cannot take the outputs (permissions, disk space)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dreamer-write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"data.output: cannot write to {folder} ({error.strerror or error})") from None
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise ConfigError(
            f"data.output: {folder} has {free / 2**20:.0f} MiB free, "
            f"the dreams need about {needed_bytes / 2**20:.0f} MiB"
        )


class DreamDataModule(pl.LightningDataModule):
    """The photos to dream and where their dreams go.

    Args:
        images: A file, a folder, a glob (``"holiday/*.jpg"``), or a list of these.
        output: Folder for the dreams (``<name>.png`` each, sub-folders kept), or, for a single
            image, a file name whose suffix picks the format (``dream.jpg``).
        overwrite: Replace existing outputs. Otherwise images whose output exists are skipped,
            so running the same command again resumes an interrupted run.
        recursive: Also take images from sub-folders of a folder.
        batch_size: Images dreamed together; only images of equal size share a batch.
        resize: Scale every image so its long side has this many pixels (``null``: keep sizes;
            images of different sizes are then dreamed in separate batches, never cropped).
        seed: Seeds each image's jitter and noise together with the image's name.
        num_workers: DataLoader worker processes decoding images.

    Raises:
        ConfigError: a setting out of range (batch size, resize).
    """

    def __init__(
        self,
        images: Union[str, list[str]] = str(SAMPLE_PHOTO),
        output: str = "dreams",
        overwrite: bool = False,
        recursive: bool = True,
        batch_size: int = 1,
        resize: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
        if resize is not None and resize < 1:
            raise ConfigError(f"data.resize must be a positive number of pixels, got {resize}")
        self.images, self.output, self.overwrite = images, Path(output).expanduser(), overwrite
        self.recursive, self.batch_size, self.resize = recursive, batch_size, resize
        self.seed, self.num_workers = seed, num_workers
        self.protected: list[Path] = []  # inputs beyond the photos (configs, guides, weights): set by the CLI
        self.plan: Optional[DreamPlan] = None
        self.summary: Optional[RunSummary] = None

    def _targets(self, names: list[str]) -> list[Path]:
        """``<output>/<name without suffix>.png`` each (``outputs.output_names``), or the one file
        ``output`` names when it has an image suffix."""
        if self.output.suffix.lower() in IMAGE_SUFFIXES:
            if len(names) != 1:
                raise ConfigError(
                    f"data.output {self.output} is a file name but {len(names)} images were given; use a folder"
                )
            return [self.output]
        return [self.output / name for name in output_names(names, ".png")]

    def _earlier_dream(self, source: Path, name: str) -> bool:
        """Whether ``source`` lies in an output folder made inside the folder it was found in
        (``photos/dreams/`` for ``photos/``): an earlier dream, not a photo."""
        path, output = os.path.abspath(source), os.path.join(os.path.abspath(self.output), "")
        root = path[: len(path) - len(name)]
        return path.startswith(output) and not root.startswith(output)

    def make_plan(self, min_side: int = 1, rank: int = 0, world_size: int = 1) -> DreamPlan:
        """Find the images and decide each one's output, skip or failure; this process's share only.

        Every process lists the same files in the same sorted order and takes every ``world_size``-th
        one from ``rank`` on: the shares are disjoint and cover every file, and no process waits for
        another to read headers (20,000 photos: each of 4 processes reads 5,000). No output may lie
        outside ``output`` or replace any input (``OutputRules``), whatever ``overwrite`` says.
        """
        plan = DreamPlan()
        listing_notes: list[str] = []
        sources = find_images(self.images, self.recursive, notes=listing_notes)
        plan.notes.extend(listing_notes if rank == 0 else [])
        single_file = self.output.suffix.lower() in IMAGE_SUFFIXES
        if not single_file:
            sources = [(source, name) for source, name in sources if not self._earlier_dream(source, name)]
        rules = OutputRules(self.output.parent if single_file else self.output, self.overwrite)
        rules.protect([*(source for source, _ in sources), *self.protected])
        taken: dict[Path, Path] = {}
        candidates = []
        for (source, name), target in zip(sources, self._targets([name for _, name in sources])):
            if target in taken:
                plan.failed.append(f"{source}: its output {target} is already the output of {taken[target]}")
                continue
            taken[target] = source
            candidates.append((source, name, target))
        plan.failed = plan.failed[rank::world_size]
        for source, name, target in candidates[rank::world_size]:
            if not rules.admit(source, target, plan.failed, plan.skipped):
                continue
            header = plan_header(source, self.resize, min_side, plan)
            if header is None:
                continue
            size, frames = header
            if frames > 1:
                plan.notes.append(f"{source}: animated ({frames} frames); dreaming its first frame")
            sidecar = rules.companion(target, ".yaml", "config", plan.notes)
            plan.jobs.append(DreamJob(source, name, target, size, image_seed(self.seed, name), sidecar))
        check_writable(rules.folder, needed_bytes=sum(3 * h * w for job in plan.jobs for h, w in [job.size]))
        remove_leftovers({job.target.parent for job in plan.jobs})
        return plan

    @override
    def setup(self, stage: str) -> None:
        if self.plan is not None:
            return
        model = self.trainer.lightning_module if self.trainer else None
        min_side = model.min_input_size(-1) if model is not None else 1
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        self.plan = self.make_plan(min_side, rank, world_size)
        # One small exchange: the busiest process's step count (every process takes as many steps) and
        # what rank 0 reports for the whole run.
        steps = self.planned_steps(model.steps_for) if model is not None else 0
        self.summary = gather_summaries(RunSummary.of(self.plan, steps), world_size)

    def planned_steps(self, steps_for: Callable[[tuple[int, int]], int]) -> int:
        """Gradient steps this process's batches take."""
        return sum(steps_for(batch[0].size) for batch in self.batches())

    def batches(self) -> list[list[DreamJob]]:
        """Jobs grouped by size (first appearance order), cut into batches of at most ``batch_size``."""
        groups: dict[tuple[int, int], list[DreamJob]] = {}
        for job in self.plan.jobs if self.plan else []:
            groups.setdefault(job.size, []).append(job)
        return [
            group[start : start + self.batch_size]
            for group in groups.values()
            for start in range(0, len(group), self.batch_size)
        ]

    @override
    def transfer_batch_to_device(
        self, batch: dict[str, Any], device: torch.device, dataloader_idx: int
    ) -> dict[str, Any]:
        # Only the pixels (first step of a dream) go to the device; names, paths and alpha stay put.
        return {**batch, "pixels": batch["pixels"].to(device)} if "pixels" in batch else batch

    @override
    def train_dataloader(self) -> DreamSteps:
        # The plan holds this process's share already, so no sampler shards it again. (Lightning's
        # UnrepeatedDistributedSampler refuses a process without a batch, as when 3 photos meet 4 GPUs;
        # torch's DistributedSampler repeats photos.)
        steps_for = self.trainer.lightning_module.steps_for
        batches = self.batches()
        loader = DataLoader(
            DreamBatches(batches, steps_for), batch_size=None, shuffle=False, num_workers=self.num_workers
        )
        mine = self.planned_steps(steps_for)
        return DreamSteps(loader, 1, total=max(self.summary.busiest, mine) if self.summary else mine)
