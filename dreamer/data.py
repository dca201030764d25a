"""Photos in, batches of dream steps out: finding files, planning outputs, grouping equal sizes."""

from __future__ import annotations

import glob
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from dreamer.errors import ConfigError
from dreamer.errors import ImageError
from dreamer.imageio import IMAGE_SUFFIXES, open_rgb, to_tensor

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


def find_images(images: Union[str, Sequence[str]]) -> list[tuple[Path, str]]:
    """Expand files, folders (recursively) and globs into ``(path, name)`` pairs, sorted, without repeats."""
    found: dict[Path, tuple[Path, str]] = {}
    for entry in [images] if isinstance(images, str) else list(images):
        path = Path(entry).expanduser()
        if path.is_dir():
            hits = [(p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*")) if _looks_like_image(p)]
        elif path.is_file():
            hits = [(path, path.name)]
        elif glob.has_magic(entry):
            root = Path(entry.split("*")[0].split("?")[0].split("[")[0])
            root = root if root.is_dir() else root.parent
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            hits = [(p, p.relative_to(root).as_posix()) for p in matches if p.is_file()]
        else:
            raise ConfigError(f"data.images: {entry!r} is not a file, folder or matching glob")
        if not hits:
            raise ConfigError(f"data.images: no images found in {entry!r}")
        for source, name in hits:
            found.setdefault(source.resolve(), (source, name))
    return list(found.values())


def _looks_like_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in Image.registered_extensions()


def planned_size(source: Path, resize: Optional[int]) -> tuple[int, int]:
    """(height, width) after EXIF rotation and the optional long-side resize, read from the header only."""
    try:
        with Image.open(source) as image:
            width, height = image.size
            if image.getexif().get(_EXIF_ORIENTATION) in _ROTATED:
                width, height = height, width
    except Image.DecompressionBombError as error:
        raise ImageError(f"{source}: refused, too many pixels ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageError(f"{source}: not a readable image ({error})") from None
    if resize:
        factor = resize / max(width, height)
        width, height = max(1, round(width * factor)), max(1, round(height * factor))
    return height, width


def image_seed(seed: int, name: str) -> int:
    """A per-image seed from the run's seed and the image's identity, independent of batch and rank."""
    return zlib.crc32(f"{seed}/{name}".encode())


def load_pixels(job: DreamJob) -> torch.Tensor:
    image = open_rgb(job.source)
    if (image.height, image.width) != job.size:
        image = image.resize(job.size[::-1], Image.Resampling.LANCZOS)
    return to_tensor(image)


class DreamBatches(Dataset):
    """Item ``i`` is the ``i``-th group of equal-size jobs, decoded and stacked ``[B, 3, H, W]``.

    A file that fails to decode drops out of its batch and is reported in ``failed``.
    """

    def __init__(self, batches: list[list[DreamJob]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> dict[str, Any]:
        jobs, pixels, failed = [], [], []
        for job in self.batches[index]:
            try:
                pixels.append(load_pixels(job))
                jobs.append(job)
            except ImageError as error:
                failed.append(str(error))
        height, width = self.batches[index][0].size
        return {
            "pixels": torch.stack(pixels) if pixels else torch.empty(0, 3, height, width),
            "names": [job.name for job in jobs],
            "seeds": [job.seed for job in jobs],
            "targets": [str(job.target) for job in jobs],
            "failed": failed,
        }


class DreamSteps:
    """Repeats every image batch for each gradient step of its dream.

    Step 0 carries the pixels; later steps carry only the bookkeeping, so nothing is copied to the
    device again. Each yielded batch holds ``step`` and ``steps`` (steps per dream).
    """

    def __init__(self, loader: DataLoader, steps: int) -> None:
        self.loader, self.steps = loader, steps

    def __len__(self) -> int:
        return len(self.loader) * self.steps

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            light = {key: value for key, value in batch.items() if key != "pixels"}
            for step in range(self.steps):
                yield {**(batch if step == 0 else light), "step": step, "steps": self.steps}


class DreamDataModule(pl.LightningDataModule):
    """The photos to dream and where their dreams go.

    Args:
        images: A file, a folder (searched recursively), a glob, or a list of these.
        output: Folder for the dreams (``<name>.png`` each, sub-folders kept), or, for a single
            image, a file name whose suffix picks the format (``dream.jpg``).
        overwrite: Replace existing outputs. Otherwise images whose output exists are skipped,
            so running the same command again resumes an interrupted run.
        batch_size: Images dreamed together; only images of equal size share a batch.
        resize: Scale every image so its long side has this many pixels (``null``: keep sizes).
        seed: Seeds each image's jitter and noise together with the image's name.
        num_workers: DataLoader worker processes decoding images.
    """

    def __init__(
        self,
        images: Union[str, list[str]] = "assets/chelsea.jpg",
        output: str = "dreams",
        overwrite: bool = False,
        batch_size: int = 1,
        resize: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
        if resize is not None and resize < 1:
            raise ConfigError(f"data.resize must be a positive number of pixels, got {resize}")
        self.images, self.output, self.overwrite = images, Path(output).expanduser(), overwrite
        self.batch_size, self.resize, self.seed, self.num_workers = batch_size, resize, seed, num_workers
        self.jobs: list[DreamJob] = []
        self.skipped: list[Path] = []
        self.failed: list[str] = []

    def _target(self, name: str, count: int) -> Path:
        if self.output.suffix.lower() in IMAGE_SUFFIXES:
            if count != 1:
                raise ConfigError(f"data.output {self.output} is a file name but {count} images were given; use a folder")
            return self.output
        return self.output / Path(name).with_suffix(".png")

    def setup(self, stage: str) -> None:
        if self.jobs or self.skipped or self.failed:
            return
        sources = find_images(self.images)
        taken: dict[Path, str] = {}
        for source, name in sources:
            target = self._target(name, len(sources))
            if target in taken:
                self.failed.append(f"{source}: its output {target} is also the output of {taken[target]}")
                continue
            taken[target] = str(source)
            if target.exists() and not self.overwrite:
                self.skipped.append(target)
                continue
            try:
                size = planned_size(source, self.resize)
            except ImageError as error:
                self.failed.append(str(error))
                continue
            self.jobs.append(DreamJob(source, name, target, size, image_seed(self.seed, name)))

    def batches(self) -> list[list[DreamJob]]:
        """Jobs grouped by size (first appearance order), cut into batches of at most ``batch_size``."""
        groups: dict[tuple[int, int], list[DreamJob]] = {}
        for job in self.jobs:
            groups.setdefault(job.size, []).append(job)
        return [
            group[start : start + self.batch_size]
            for group in groups.values()
            for start in range(0, len(group), self.batch_size)
        ]

    def train_dataloader(self) -> DreamSteps:
        loader = DataLoader(
            DreamBatches(self.batches()),
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
        )
        return DreamSteps(loader, self.trainer.lightning_module.steps_per_dream)
