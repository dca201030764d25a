"""Photos in, batches of dream steps out: finding photos, planning their outputs, grouping equal sizes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2.functional import pil_to_tensor
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.outline import DreamSteps
from dreamer.engine.contract.source import DreamSource
from dreamer.errors import ConfigError, ImageError
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import IMAGE_SUFFIXES, open_photo, to_tensor, upright
from dreamer.files.listing import find_files
from dreamer.files.masks import check_feather, check_mask, feathered, read_mask
from dreamer.files.outputs import OutputRules, output_names, remove_leftovers
from dreamer.files.plan import (
    DreamJob,
    DreamPlan,
    RunSummary,
    check_writable,
    gather_summaries,
    image_seed,
    plan_header,
    resized,
)
from dreamer.photos.writer import DreamWriter


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


def load_job(job: DreamJob) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Pixels ``[3, H, W]`` in [0, 1] at the planned size, and the alpha channel ``[H, W]`` (uint8) if any."""
    image, alpha = upright(job.picture) if job.picture is not None else open_photo(job.source)  # type: ignore[arg-type]
    if (image.height, image.width) != job.size:
        image = image.resize(job.size[::-1], Image.Resampling.LANCZOS)
        alpha = alpha.resize(job.size[::-1], Image.Resampling.LANCZOS) if alpha is not None else None
    return to_tensor(image), (pil_to_tensor(alpha)[0] if alpha is not None else None)


class DreamBatches(Dataset):
    """Item ``i`` is the ``i``-th group of equal-size jobs, decoded and stacked ``[B, 3, H, W]``.

    A file that fails to decode drops out of its batch and is reported in ``failed``. With a
    ``mask`` (an image, feathered by ``feather`` px) each batch carries it at its photos' size.
    """

    def __init__(self, batches: list[list[DreamJob]], mask: Optional[Path] = None, feather: float = 0.0) -> None:
        self.batches, self.mask, self.feather = batches, mask, feather

    def mask_at(self, size: tuple[int, int]) -> Optional[torch.Tensor]:
        """The mask ``[1, H, W]`` at ``size``, or ``None`` without one."""
        if self.mask is None:
            return None
        return torch.from_numpy(feathered(read_mask(self.mask, size), self.feather))[None]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> DreamBatch:
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
        mask = self.mask_at((height, width))
        return DreamBatch(
            pixels=torch.stack(pixels) if pixels else torch.empty(0, 3, height, width),
            mask=mask.expand(len(pixels), -1, -1, -1).contiguous() if mask is not None and pixels else None,
            names=[job.name for job in jobs],
            seeds=[job.seed for job in jobs],
            targets=[job.target for job in jobs],
            sidecars=[job.sidecar for job in jobs],
            sources=[job.source for job in jobs],
            alphas=alphas,
            failed=failed,
        )


class DreamDataModule(DreamSource):
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
        mask: An image that limits where the dream acts (its alpha channel, else its brightness:
            white dreams, black keeps the photo), stretched to each photo's size.
        mask_feather: Soft edge of the mask: a Gaussian blur of this many px.

    Raises:
        ConfigError: a setting out of range (batch size, resize, mask feather), or a mask that is
            not a readable image.
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
        mask: Optional[str] = None,
        mask_feather: float = 4.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_feather(mask_feather)
        self.mask, self.mask_feather = (check_mask(mask) if mask else None), mask_feather
        if self.mask is not None:
            read_mask(self.mask, (8, 8))  # an unreadable mask: one line before any work
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
        if resize is not None and resize < 1:
            raise ConfigError(f"data.resize must be a positive number of pixels, got {resize}")
        self.images, self.output, self.overwrite = images, Path(output).expanduser(), overwrite
        self.recursive, self.batch_size, self.resize = recursive, batch_size, resize
        self.seed, self.num_workers = seed, num_workers
        self.plan: Optional[DreamPlan] = None
        self.pictures: Optional[dict[str, Image.Image]] = None

    def hand(self, pictures: Mapping[str, Image.Image]) -> None:
        """Dream ``pictures`` (the run's ``Runtime.pictures``: a name each, which names its dream and
        seeds its jitter as a file's name does) instead of the files ``images`` names; they are
        never written to disk."""
        self.pictures = dict(pictures)

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

    def _header(
        self, source: Optional[Path], picture: Optional[Image.Image], name: str, min_side: int, plan: DreamPlan
    ) -> Optional[tuple[tuple[int, int], int]]:
        """The planned size and frame count of a file (``plan_header``) or of a picture in memory."""
        if source is not None:
            return plan_header(source, self.resize, min_side, plan)
        assert picture is not None
        size = resized(upright(picture)[0].size[::-1], self.resize)
        if min(size) < min_side:
            plan.failed.append(f"{name}: {size[0]}x{size[1]} px is too small; the layers need at least {min_side} px")
            return None
        return size, 1

    def _earlier_dream(self, source: Optional[Path], name: str) -> bool:
        """Whether ``source`` lies in an output folder made inside the folder it was found in
        (``photos/dreams/`` for ``photos/``): an earlier dream, not a photo."""
        if source is None:
            return False
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
        if self.pictures is not None:  # handed over in memory: no file to find or to protect
            sources: list[tuple[Optional[Path], str]] = [(None, name) for name in self.pictures]
        else:
            sources = list(find_images(self.images, self.recursive, notes=listing_notes))
        plan.notes.extend(listing_notes if rank == 0 else [])
        single_file = self.output.suffix.lower() in IMAGE_SUFFIXES
        if not single_file:
            sources = [(source, name) for source, name in sources if not self._earlier_dream(source, name)]
        rules = OutputRules(self.output.parent if single_file else self.output, self.overwrite)
        rules.protect(
            [*(source for source, _ in sources if source), *self.protected, *([self.mask] if self.mask else [])]
        )
        taken: dict[Path, Path] = {}
        candidates = []
        for (source, name), target in zip(sources, self._targets([name for _, name in sources])):
            if target in taken:
                plan.failed.append(f"{source}: its output {target} is already the output of {taken[target]}")
                continue
            taken[target] = source or Path(name)
            candidates.append((source, name, target))
        plan.failed = plan.failed[rank::world_size]
        for source, name, target in candidates[rank::world_size]:
            if not rules.admit(source or Path(name), target, plan.failed, plan.skipped):
                continue
            picture = self.pictures[name] if self.pictures is not None else None
            header = self._header(source, picture, name, min_side, plan)
            if header is None:
                continue
            size, frames = header
            if frames > 1:
                plan.notes.append(f"{source}: animated ({frames} frames); dreaming its first frame")
            sidecar = rules.companion(target, ".yaml", "config", plan.notes)
            plan.jobs.append(DreamJob(source, name, target, size, image_seed(self.seed, name), sidecar, picture))
        check_writable(rules.folder, needed_bytes=sum(3 * h * w for job in plan.jobs for h, w in [job.size]))
        remove_leftovers({job.target.parent for job in plan.jobs})
        return plan

    @override
    def setup(self, stage: str) -> None:
        if self.plan is not None:
            return
        outline = self.current_outline
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        self.plan = self.make_plan(outline.min_side, rank, world_size)
        outline.check_names([job.name for job in self.plan.jobs])  # e.g. a photo without its guide
        # One small exchange: the busiest process's step count (every process takes as many steps) and
        # what rank 0 reports for the whole run.
        self.summary = gather_summaries(RunSummary.of(self.plan, self.planned_steps()), world_size)

    def planned_steps(self) -> int:
        """Gradient steps this process's batches take."""
        return sum(self.current_outline.steps_for(batch[0].size) for batch in self.batches())

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
    def dream_callbacks(self) -> list[Account]:
        return [DreamWriter(self.current_outline.grey)]

    @override
    def train_dataloader(self) -> DreamSteps:
        # The plan holds this process's share already, so no sampler shards it again. (Lightning's
        # UnrepeatedDistributedSampler refuses a process without a batch, as when 3 photos meet 4 GPUs;
        # torch's DistributedSampler repeats photos.)
        loader = DataLoader(
            DreamBatches(self.batches(), self.mask, self.mask_feather),
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.on_gpu,
        )
        mine = self.planned_steps()
        total = max(self.summary.busiest, mine) if self.summary else mine
        return DreamSteps(loader, self.current_outline, total, prefetch=self.prefetch(self.num_workers))
