"""Frame sequences to dream: endless zooms into photos and dreamed videos.

Each frame is one dream through the same DreamModule, OctaveSchedule and Trainer as a photo. The
data modules here plan the sequences (which frames are missing, where each goes), stream their
frames lazily and shard whole sequences (or chunks of long videos) over processes;
``FrameSchedule`` carries one frame's dream into the next frame's start and ``SequenceWriter``
writes frames and videos.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Optional, Union

import lightning.pytorch as pl
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

from dreamer.dream.backbones import resolve_state_dict
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_CLIP, SAMPLE_PHOTO
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.files.outputs import OutputRules, output_names, remove_leftovers
from dreamer.motion.frames import FrameSchedule, SequenceWriter
from dreamer.motion.videoio import VIDEO_SUFFIXES, VideoError, frame_path, probe, read_frames, warmup_path
from dreamer.motion.warp import carry_over, consistent, dis_flow, zoom_step
from dreamer.photos import (
    DreamPlan,
    DreamSteps,
    RunSummary,
    check_writable,
    find_images,
    image_seed,
    plan_header,
    resized,
)


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
    audio: bool = False
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
    jobs: list[MotionJob] = field(default_factory=list)  # type: ignore[assignment]  # videos, not photos
    spans: list[FrameSpan] = field(default_factory=list)


@dataclass(frozen=True)
class Steps:
    """How long each frame dreams: a fresh start walks every octave; a continued frame only the top
    ``frame_octaves`` levels for ``frame_iterations`` steps each."""

    octaves: int
    iterations: int
    frame_octaves: int
    frame_iterations: int

    def of(self, continues: bool) -> dict[str, Any]:
        """The step bookkeeping of a frame that ``continues`` a dream or starts afresh."""
        if not continues:
            return {"steps": self.octaves * self.iterations, "iterations": self.iterations, "first_octave": 0}
        return {
            "steps": self.frame_octaves * self.frame_iterations,
            "iterations": self.frame_iterations,
            "first_octave": self.octaves - self.frame_octaves,
        }

    def span(self, span: FrameSpan, carries: bool = True) -> int:
        """Steps to dream ``span``; without ``carries`` every frame starts afresh."""
        return sum(self.of(continues(frame, span, carries))["steps"] for frame in range(span.start, span.stop))


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


def _as_is(item: Any) -> Any:
    return item


class FrameStream(IterableDataset):
    """The frames of one process's spans, in order, produced lazily by ``frames(job, span)``."""

    def __init__(self, source: MotionDataModule, jobs: list[MotionJob], spans: list[FrameSpan]) -> None:
        self.frames, self.jobs, self.spans = source.frames, jobs, spans

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for span in self.spans:
            yield from self.frames(self.jobs[span.job], span)


class MotionDataModule(pl.LightningDataModule):
    """What zooms and videos share: output layout, resume, per-frame settings, sharding.

    Args:
        output: Folder for ``<name>.mp4``, its config ``<name>.yaml`` and frames ``<name>.frames/``.
        overwrite: Dream again what exists. Otherwise a finished video is skipped and a video whose
            frames are partly there continues from the first missing frame.
        resize: Scale every frame so its long side has this many pixels (``null``: keep).
        recursive: Also take files from sub-folders of a folder.
        frame_octaves: Octaves a continued frame dreams: the top (largest) ones of the pyramid.
        frame_iterations: Steps per octave of a continued frame (``null``: ``model.iterations``).
        keep_frames: Keep the PNG frames once the video is written.
        seed: Seeds each frame's jitter and noise together with its name and number.
        num_workers: DataLoader worker processes preparing frames (decoding, optical flow).

    Raises:
        ConfigError: a setting out of range (resize, frame octaves, frame iterations).
    """

    def __init__(
        self,
        output: str,
        overwrite: bool = False,
        resize: Optional[int] = None,
        recursive: bool = True,
        frame_octaves: int = 1,
        frame_iterations: Optional[int] = None,
        keep_frames: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if resize is not None and resize < 1:
            raise ConfigError(f"data.resize must be a positive number of pixels, got {resize}")
        self.resize, self.recursive = resize, recursive
        if frame_octaves < 1:
            raise ConfigError(f"data.frame_octaves must be >= 1, got {frame_octaves}")
        if frame_iterations is not None and frame_iterations < 1:
            raise ConfigError(f"data.frame_iterations must be >= 1, got {frame_iterations}")
        self.output, self.overwrite = Path(output).expanduser(), overwrite
        self.frame_octaves, self.frame_iterations = frame_octaves, frame_iterations
        self.keep_frames, self.seed, self.num_workers = keep_frames, seed, num_workers
        self.protected: list[Path] = []  # inputs beyond the sources (configs, weights): set by the CLI
        self.plan: Optional[MotionPlan] = None
        self.steps: Optional[Steps] = None

    # What a kind of sequence must say -------------------------------------------------------------

    def find_sources(self, notes: list[str]) -> list[tuple[Path, str]]:
        """The inputs, as ``(path, name)`` (``listing.find_files``)."""
        raise NotImplementedError

    def make_job(
        self, source: Path, name: str, paths: tuple[Path, Path], plan: MotionPlan, min_side: int
    ) -> Optional[MotionJob]:
        """The job of one input going to ``paths`` (video, frame folder), or ``None`` once
        ``plan.failed`` says why not."""
        raise NotImplementedError

    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def next_start(self, previous: np.ndarray, batch: dict[str, Any]) -> np.ndarray:
        """The start ``float32 [H, W, 3]`` of a continued frame from the previous dream (``uint8``)."""
        raise NotImplementedError

    def chunk(self, job: MotionJob) -> tuple[Optional[int], int]:
        """Frames per chunk (``None``: one) and warm-up frames."""
        return None, 0

    @property
    def carries(self) -> bool:
        """Whether a frame's dream starts from the previous one (else every frame is a fresh dream)."""
        return True

    def gif(self) -> bool:
        return False

    # Shared machinery --------------------------------------------------------------------------------

    def dream_callbacks(self) -> list[pl.Callback]:
        """Callbacks the frames need, run before OctaveSchedule: the LightningModule asks for them."""
        return [FrameSchedule(self.next_start), SequenceWriter(keep_frames=self.keep_frames)]

    def make_plan(self, min_side: int = 1) -> MotionPlan:
        """Every input's job and the spans of frames still to dream. Inputs that share a stem
        (``clip.mov``, ``clip.mp4``) keep their whole names (``clip.mov.mp4``, ``clip.mp4.mp4``), so
        each has its own video, frames and config; no output lies outside ``output`` or replaces any
        input (``OutputRules``), whatever ``overwrite`` says."""
        plan = MotionPlan()
        sources = self.find_sources(plan.notes)
        rules = OutputRules(self.output, self.overwrite)
        rules.protect([*(source for source, _ in sources), *self.protected])
        for (source, name), output_name in zip(sources, output_names([name for _, name in sources], ".mp4")):
            target = self.output / output_name
            frames_dir = target.with_name(target.stem + ".frames")
            frames_reason = rules.refusal(frame_path(frames_dir, 0))
            if frames_reason is not None:
                plan.failed.append(f"{source}: not dreamed: its frames {frames_reason}; choose another data.output")
                continue
            if not rules.admit(source, target, plan.failed, plan.skipped):
                continue
            job = self.make_job(source, name, (target, frames_dir), plan, min_side)
            if job is not None:
                gif = rules.companion(target, ".gif", "GIF", plan.notes) if self.gif() else None
                sidecar = rules.companion(target, ".yaml", "config", plan.notes)
                plan.jobs.append(replace(job, sidecar=sidecar, gif=gif))
        for index, job in enumerate(plan.jobs):
            done = (
                set() if self.overwrite else {f for f in range(job.frames) if frame_path(job.frames_dir, f).is_file()}
            )
            chunk, overlap = self.chunk(job)
            plan.spans.extend(split(index, job.frames, done, chunk, overlap))
        check_writable(
            self.output, needed_bytes=sum(2 * 3 * h * w * job.frames for job in plan.jobs for h, w in [job.size])
        )
        folders = [
            folder for job in plan.jobs for folder in (job.target.parent, job.frames_dir, job.frames_dir / "warmup")
        ]
        remove_leftovers(folders)
        return plan

    def frame_item(self, job: MotionJob, span: FrameSpan, frame: int) -> dict[str, Any]:
        """The batch of one frame, without its pixels."""
        carried = continues(frame, span, self.carries)
        return {
            "names": [job.name],
            "seeds": [image_seed(self.seed, f"{job.name}#{frame}")],
            "targets": [],
            "alphas": [None],
            "failed": [],
            "sequence": span.job,
            "frame": frame,
            "frames": job.frames,
            "continues": carried,
            "previous": str(frame_path(job.frames_dir, frame - 1)) if carried else None,
            "target": str(
                frame_path(job.frames_dir, frame) if frame >= span.write_from else warmup_path(job.frames_dir, frame)
            ),
            **({"init": "photo"} if carried else {}),
            **self.current_steps.of(carried),
        }

    @override
    def setup(self, stage: str) -> None:
        model = self.trainer.lightning_module if self.trainer else None
        if model is not None:
            if model.hparams.octaves == "auto":
                raise ConfigError("model.octaves: 'auto' is for photos and atlases; give videos and zooms a number")
            if self.frame_octaves > model.hparams.octaves:
                raise ConfigError(
                    f"data.frame_octaves ({self.frame_octaves}) exceeds model.octaves ({model.hparams.octaves})"
                )
            iterations = model.hparams.iterations
            self.steps = Steps(
                model.hparams.octaves, iterations, self.frame_octaves, self.frame_iterations or iterations
            )
        if self.plan is not None:
            return
        min_side = model.min_input_size(-1) if model is not None else 1
        strategy = self.trainer.strategy if self.trainer else None
        if strategy is None or strategy.is_global_zero:
            self.plan = self.make_plan(min_side)
        # Videos are few and their spans are balanced by cost over all processes: rank 0 plans them all.
        self.plan = strategy.broadcast(self.plan) if strategy is not None else self.plan
        self.summary = RunSummary.of(self.current_plan, steps=0, keep=len(self.current_plan.skipped))

    @override
    def transfer_batch_to_device(
        self, batch: dict[str, Any], device: torch.device, dataloader_idx: int
    ) -> dict[str, Any]:
        return {**batch, "pixels": batch["pixels"].to(device)} if "pixels" in batch else batch

    @property
    def current_plan(self) -> MotionPlan:
        if self.plan is None:
            raise RuntimeError("the plan is made in setup()")
        return self.plan

    @property
    def current_steps(self) -> Steps:
        if self.steps is None:
            raise RuntimeError("the step counts are set in setup()")
        return self.steps

    @override
    def train_dataloader(self) -> DreamSteps:
        shards = self.trainer.distributed_sampler_kwargs or {"num_replicas": 1, "rank": 0}
        plan = self.current_plan
        costs = [self.current_steps.span(span, self.carries) for span in plan.spans]
        shares = share(costs, shards["num_replicas"])
        mine = [plan.spans[index] for index in shares[shards["rank"]]]
        loader = DataLoader(
            FrameStream(self, plan.jobs, mine), batch_size=None, num_workers=self.num_workers, collate_fn=_as_is
        )
        busiest = max(sum(costs[index] for index in indices) for indices in shares)
        return DreamSteps(loader, 1, total=busiest)


class ZoomDataModule(MotionDataModule):
    """Endless zoom ("ouroboros"): frame 0 is a dream of the photo, every next frame starts from the
    last one moved by one zoom step and dreams a little more.

    Args:
        images: A photo, a folder, a glob or a list of these: one zoom per photo.
        output: Folder for ``<photo>.mp4`` (and ``.gif``, ``.yaml``, ``.frames/``).
        frames: Frames of each zoom.
        fps: Frames per second of the video.
        zoom: Scale per frame about the centre (above 1 zooms in, below 1 out).
        rotate: Degrees per frame, counter-clockwise.
        translate: ``[dx, dy]`` pixels per frame.
        gif: Also write a looping GIF.
        resize: Scale every photo so its long side has this many pixels (``null``: keep).
        recursive: Also take photos from sub-folders of a folder.

    Raises:
        ConfigError: a setting out of range (frames, fps, zoom, and the shared ones).
    """

    def __init__(
        self,
        images: Union[str, list[str]] = str(SAMPLE_PHOTO),
        output: str = "dreams/zoom",
        frames: int = 48,
        fps: float = 12.0,
        zoom: float = 1.04,
        rotate: float = 0.0,
        translate: tuple[float, float] = (0.0, 0.0),
        gif: bool = False,
        resize: Optional[int] = None,
        recursive: bool = True,
        overwrite: bool = False,
        frame_octaves: int = 1,
        frame_iterations: Optional[int] = None,
        keep_frames: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            output, overwrite, resize, recursive, frame_octaves, frame_iterations, keep_frames, seed, num_workers
        )
        if frames < 1:
            raise ConfigError(f"data.frames must be >= 1, got {frames}")
        if fps <= 0:
            raise ConfigError(f"data.fps must be > 0, got {fps}")
        if zoom <= 0:
            raise ConfigError(f"data.zoom must be > 0, got {zoom}")
        self.images = images
        self.frame_count, self.fps, self.zoom, self.rotate = frames, Fraction(fps).limit_denominator(1001), zoom, rotate
        self.translate, self.make_gif = tuple(translate), gif

    @override
    def gif(self) -> bool:
        return self.make_gif

    @override
    def find_sources(self, notes: list[str]) -> list[tuple[Path, str]]:
        return find_images(self.images, self.recursive, notes=notes)

    @override
    def make_job(
        self, source: Path, name: str, paths: tuple[Path, Path], plan: MotionPlan, min_side: int
    ) -> Optional[MotionJob]:
        header = plan_header(source, self.resize, min_side, plan)
        if header is None:
            return None
        seed = image_seed(self.seed, name)
        return MotionJob(source, name, *paths, header[0], self.frame_count, self.fps, seed)

    @override
    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[dict[str, Any]]:
        for frame in range(span.start, span.stop):
            item = self.frame_item(job, span, frame)
            if not item["continues"]:
                photo, _ = open_photo(job.source)
                if (photo.height, photo.width) != job.size:
                    photo = photo.resize(job.size[::-1], Image.Resampling.LANCZOS)
                item["pixels"] = to_tensor(photo)[None]
            yield item

    @override
    def next_start(self, previous: np.ndarray, batch: dict[str, Any]) -> np.ndarray:
        return zoom_step(previous.astype(np.float32) / 255, self.zoom, self.rotate, self.translate)


class VideoDataModule(MotionDataModule):
    """Dreamed videos: every frame's dream starts from the previous dream carried along the optical
    flow, blended with the new frame; pixels that were hidden before start from the frame alone.

    Args:
        video: A video, a folder of videos, a glob or a list of these.
        output: Folder for ``<video>.mp4`` (and ``.yaml``, ``.frames/``).
        blend: Weight of the carried dream in each frame's start: ``(1 − blend)·frame + blend·warped
            previous dream`` (0: every frame is a fresh dream of its own, in full; near 1: the dream sticks).
        flow: Optical flow between source frames: ``dis`` (OpenCV DIS: no weights, fast on a CPU) or
            torchvision's ``raft_small`` / ``raft_large`` (pretrained weights, found like a backbone's:
            the hub cache, then download; better on large motion, slow on a CPU).
        chunk_frames: Cut each video into chunks of this many frames, dreamed independently (by
            several processes with ``ddp_independent``); ``null``: one chunk.
        overlap: Frames each chunk (but the first) dreams before its first frame, so its dream is
            already warm where the previous chunk ends; over those frames the video cross-fades
            from the earlier chunk's dream to the later one's.
        resize: Scale every frame so its long side has this many pixels (``null``: keep).
        recursive: Also take videos from sub-folders of a folder.

    Raises:
        ConfigError: a setting out of range (blend, flow, chunk frames, overlap, and the shared ones).
    """

    def __init__(
        self,
        video: Union[str, list[str]] = str(SAMPLE_CLIP),
        output: str = "dreams/video",
        blend: float = 0.7,
        flow: Literal["dis", "raft_small", "raft_large"] = "dis",
        chunk_frames: Optional[int] = None,
        overlap: int = 8,
        resize: Optional[int] = None,
        recursive: bool = True,
        overwrite: bool = False,
        frame_octaves: int = 1,
        frame_iterations: Optional[int] = None,
        keep_frames: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(
            output, overwrite, resize, recursive, frame_octaves, frame_iterations, keep_frames, seed, num_workers
        )
        if not video:
            raise ConfigError("data.video: give a video file, folder or glob")
        if not 0.0 <= blend <= 1.0:
            raise ConfigError(f"data.blend must be within [0, 1], got {blend}")
        if flow not in ("dis", "raft_small", "raft_large"):
            raise ConfigError(f"data.flow must be 'dis', 'raft_small' or 'raft_large', got {flow!r}")
        if chunk_frames is not None and chunk_frames < 1:
            raise ConfigError(f"data.chunk_frames must be >= 1, got {chunk_frames}")
        if overlap < 0:
            raise ConfigError(f"data.overlap must be >= 0, got {overlap}")
        self.video, self.blend, self.flow = video, blend, flow
        self.chunk_frames, self.overlap = chunk_frames, overlap
        self._raft: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None

    @override
    def chunk(self, job: MotionJob) -> tuple[Optional[int], int]:
        return self.chunk_frames, self.overlap

    @override
    def setup(self, stage: str) -> None:
        if self.flow != "dis":
            resolve_state_dict(self.flow, "imagenet")  # missing weights: one clear message before any work
        super().setup(stage)

    def flow_estimator(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The flow from one frame to another: DIS, or RAFT (built once per process that decodes)."""
        if self.flow == "dis":
            return dis_flow
        if self._raft is None:
            from dreamer.motion.raft import RaftFlow

            self._raft = RaftFlow(self.flow)
        return self._raft

    @property
    @override
    def carries(self) -> bool:
        return self.blend > 0

    @override
    def find_sources(self, notes: list[str]) -> list[tuple[Path, str]]:
        return find_videos(self.video, self.recursive, notes)

    @override
    def make_job(
        self, source: Path, name: str, paths: tuple[Path, Path], plan: MotionPlan, min_side: int
    ) -> Optional[MotionJob]:
        try:
            info = probe(source)
        except VideoError as error:
            plan.failed.append(str(error))
            return None
        height, width = resized(info.size, self.resize)
        if min(height, width) < min_side:
            plan.failed.append(f"{source}: {height}x{width} px is too small; the layers need at least {min_side} px")
            return None
        if info.damaged:
            plan.failed.append(
                f"{source}: truncated or damaged stream: "
                f"{info.frames} {f'of {info.expected} ' if info.expected > info.frames else ''}frames readable; "
                "dreaming those"
            )
        seed = image_seed(self.seed, name)
        return MotionJob(source, name, *paths, (height, width), info.frames, info.fps, seed, info.audio)

    @override
    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[dict[str, Any]]:
        earlier: Optional[np.ndarray] = None  # the source frame before the current one
        flow = self.flow_estimator()
        decoded = 0
        try:
            for frame, picture in enumerate(read_frames(job.source, job.size)):
                if frame >= span.stop:
                    return
                decoded = frame + 1
                if frame >= span.start:
                    item = self.frame_item(job, span, frame)
                    item["pixels"] = torch.from_numpy(picture).permute(2, 0, 1)[None].float().div_(255)
                    if item["continues"]:
                        assert earlier is not None  # a continued frame follows one read before it
                        item["backward"] = flow(picture, earlier)
                        item["valid"] = consistent(item["backward"], flow(earlier, picture))
                    yield item
                earlier = picture
            problem = f"{job.source}: the stream ends after {decoded} of {job.frames} frames"
        except VideoError as error:
            problem = str(error)
        if decoded >= span.stop:
            return
        yield {
            "names": [],
            "seeds": [],
            "targets": [],
            "alphas": [],
            "steps": 1,
            "damaged": (span.job, decoded),
            "failed": [f"{problem}; the {decoded} frames before it were dreamed"],
        }

    @override
    def next_start(self, previous: np.ndarray, batch: dict[str, Any]) -> np.ndarray:
        frame = batch["pixels"][0].permute(1, 2, 0).cpu().numpy()
        return carry_over(previous.astype(np.float32) / 255, frame, batch["backward"], batch["valid"], self.blend)


def is_video(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES


def find_videos(
    video: Union[str, Sequence[str]], recursive: bool = True, notes: Optional[list[str]] = None
) -> list[tuple[Path, str]]:
    """Files, folders (videos by suffix) and globs → ``(path, name)`` pairs, like ``find_images``."""
    return find_images(video, recursive, accept=is_video, setting="data.video", notes=notes)
