"""Planning sequences: what each output video is, which frames are still to dream, how long each
frame dreams and how the work is shared out over processes. Pure functions and records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

from dreamer.engine.contract.batch import Pace
from dreamer.files.plan import DreamPlan


@dataclass(frozen=True)
class MotionJob:
    """One output video and what is known about it before any frame is dreamed."""

    source: Path
    name: str
    target: Path  # the MP4
    frames_dir: Path  # its PNG frames
    size: tuple[int, int]  # (height, width) of every frame
    frames: int
    fps: Fraction
    seed: int
    audio: Optional[Path] = None  # the file whose audio the video gets (None: silent)
    envelopes: Optional[dict[str, Any]] = None  # the audio's envelopes per frame, when settings follow it
    sidecar: Optional[Path] = None  # where its config goes (None: nowhere)
    gif: Optional[Path] = None  # where its GIF goes (None: no GIF)


@dataclass(frozen=True)
class FrameSpan:
    """Frames ``start … stop−1`` of job ``job``, dreamed in order by one process.

    Frames before ``write_from`` are a warm-up (kept apart, cross-faded into the video) so that a
    chunk's first frame continues a dream like every other. ``resume``: frame ``start − 1`` is on disk already and
    ``start`` continues it."""

    job: int
    start: int
    write_from: int
    stop: int
    resume: bool


@dataclass
class MotionPlan(DreamPlan):
    jobs: list[MotionJob] = field(default_factory=list)
    spans: list[FrameSpan] = field(default_factory=list)


@dataclass(frozen=True)
class FramePace:
    """How long each frame dreams: a fresh start walks every octave; a continued frame only the top
    ``frame_octaves`` levels for ``frame_iterations`` steps each, of ``frame_lr`` (``None``: the model's)."""

    octaves: int
    iterations: int
    frame_octaves: int
    frame_iterations: int
    frame_lr: Optional[float] = None

    def of(self, continues: bool) -> Pace:
        """The pace of a frame that ``continues`` a dream or starts afresh."""
        if not continues:
            return Pace(0, self.iterations, self.octaves)
        return Pace(self.octaves - self.frame_octaves, self.frame_iterations, self.octaves, self.frame_lr)

    def steps(self, continues: bool) -> int:
        pace = self.of(continues)
        return (self.octaves - pace.first_octave) * (pace.iterations or self.iterations)

    def span(self, span: FrameSpan, carries: bool = True) -> int:
        """Steps to dream ``span``; without ``carries`` every frame starts afresh."""
        return sum(self.steps(continues(frame, span, carries)) for frame in range(span.start, span.stop))


def continues(frame: int, span: FrameSpan, carries: bool = True) -> bool:
    """Whether ``frame`` of ``span`` continues the dream of the frame before it."""
    return carries and (frame > span.start or span.resume)


def split(job: int, frames: int, done: set[int], chunk: Optional[int], overlap: int) -> list[FrameSpan]:
    """The spans still to dream of a job of ``frames`` frames, cut into chunks of ``chunk`` frames,
    each (but the first) warmed up over ``overlap`` frames before it. A chunk whose first frames are
    on disk resumes after the last of them."""
    spans = []
    for first in range(0, frames, chunk or frames):
        stop = min(first + (chunk or frames), frames)
        missing = next((frame for frame in range(first, stop) if frame not in done), None)
        if missing is None:
            continue
        if missing > first:
            spans.append(FrameSpan(job, missing, missing, stop, resume=True))
        else:
            spans.append(FrameSpan(job, max(0, first - overlap), first, stop, resume=False))
    return spans


def share(costs: Sequence[int], processes: int) -> list[list[int]]:
    """Indices of ``costs`` per process: each next-costliest item to the least-loaded process (ties by
    rank), every process's items kept in their original order."""
    loads = [0] * processes
    shares: list[list[int]] = [[] for _ in range(processes)]
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        rank = min(range(processes), key=lambda r: loads[r])
        loads[rank] += costs[index]
        shares[rank].append(index)
    return [sorted(indices) for indices in shares]
