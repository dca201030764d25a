"""Planning a run before any pixel is decoded: each input's job, skip or failure, and the summary
that rank 0 reports for all processes. Photos, motion and the atlas plan with these."""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from PIL import Image

from dreamer.errors import ConfigError, ImageError
from dreamer.files.gather import everyone

_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class DreamJob:
    """One input photo and everything decided about it before any pixel is decoded."""

    source: Optional[Path]  # None: a picture handed over in memory (``picture``)
    name: str  # identity: the path relative to where it was found; seeds the image's randomness
    target: Path
    size: tuple[int, int]  # (height, width) the dream will have
    seed: int
    sidecar: Optional[Path] = None  # where the config beside the dream goes (None: nowhere)
    picture: Optional[Image.Image] = None  # the picture itself, where it was never a file


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


@dataclass
class DreamPlan:
    """What a run will do with each input, decided before any dreaming."""

    jobs: list[Any] = field(default_factory=list)  # DreamJob for photos, MotionJob for videos
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
    parts = everyone(mine, world_size)
    return mine if len(parts) == 1 else RunSummary.merge(parts)


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
