"""Frame sequences to dream, what zooms and videos share: output layout, resume, per-frame pace, sharding.

Each frame is one dream through the same DreamModule, OctaveWalk and Trainer as a photo. A
sequence data module plans its sequences (which frames are missing, where each goes), streams their
frames lazily and shards whole sequences (or chunks of long videos) over processes; it declares
``FrameCarry`` (one frame's dream into the next frame's start) and ``SequenceWriter`` (frames and
videos) for the command line to wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.engine.contract.outline import DreamSteps
from dreamer.engine.contract.source import DreamSource
from dreamer.errors import ConfigError
from dreamer.files.background import Background, overlaps
from dreamer.files.masks import check_feather, check_mask, read_mask
from dreamer.files.outputs import OutputRules, output_names, remove_leftovers
from dreamer.files.plan import RunSummary, check_writable, image_seed
from dreamer.motion.audio import check_audio, envelopes
from dreamer.motion.carry import FrameCarry
from dreamer.motion.frames import frame_path, warmup_path
from dreamer.motion.plan import FramePace, FrameSpan, MotionJob, MotionPlan, continues, share, split
from dreamer.motion.retune import Retune
from dreamer.motion.sequences import SequenceWriter
from dreamer.motion.timeline import FrameSettings, Timeline
from dreamer.motion.videoio import VideoError, is_video, probe


def _as_is(item: Any) -> Any:
    return item


class FrameStream(IterableDataset):
    """The frames of one process's spans, in order, produced lazily by ``frames(job, span)``.

    With DataLoader workers, each worker streams its own share of the spans (a span's frames stay in
    one worker, in order): the loader interleaves whole frames of different spans, never repeats one.
    """

    def __init__(self, source: MotionDataModule, jobs: list[MotionJob], spans: list[FrameSpan]) -> None:
        self.frames, self.jobs, self.spans = source.frames, jobs, spans

    def __iter__(self) -> Iterator[DreamBatch]:
        worker = get_worker_info()
        spans = self.spans if worker is None else self.spans[worker.id :: worker.num_workers]
        for span in spans:
            yield from self.frames(self.jobs[span.job], span)


class MotionDataModule(DreamSource):
    """What zooms and videos share: output layout, resume, per-frame settings, sharding.

    Args:
        output: Folder for ``<name>.mp4``, its config ``<name>.yaml`` and frames ``<name>.frames/``.
        overwrite: Dream again what exists. Otherwise a finished video is skipped and a video whose
            frames are partly there continues from the first missing frame.
        resize: Scale every frame so its long side has this many pixels (``null``: keep).
        recursive: Also take files from sub-folders of a folder.
        frame_octaves: Octaves a continued frame dreams: the top (largest) ones of the pyramid.
        frame_iterations: Steps per octave of a continued frame (``null``: ``octaves.iterations``).
        frame_lr: Step size of a continued frame (``null``: ``model.lr``): it only tends a dream
            that is already there, and smaller steps flicker less.
        keep_frames: Keep the PNG frames once the video is written.
        seed: Seeds each frame's jitter and noise together with its name and number.
        num_workers: DataLoader worker processes preparing frames (decoding, optical flow); each
            streams whole videos or chunks, so they help when there are several.
        max_age: Frames a pixel's carried dream lives; past it, it fades back to the source over a
            quarter as many frames again and a fresh dream grows there (0: it lives forever).
            Renewal is staggered, patch by patch.
        keep_colors: How far each frame's start is pulled back to the source's per-channel means
            (0: not at all, 1: all the way), so brightness and colour cannot creep.
        mask: Limits where the dream acts: an image (white dreams, black keeps the source; its
            alpha channel where it has one) or, for videos, a mask video with one mask per frame.
            A video's mask image is its first frame's, carried along the optical flow.
        mask_feather: Soft edge of the mask, in px.
        soundtrack: An audio (or video) file whose audio the output gets and that
            ``animation.audio`` follows (a video's own audio otherwise).

    Raises:
        ConfigError: a setting out of range (resize, frame octaves, frame iterations, frame lr, max age,
            keep colors, mask feather) or a mask or soundtrack that is not there.
    """

    input_setting = "data.images"  # the setting that names a sequence's input (a recipe names it there)

    def __init__(
        self,
        output: str,
        overwrite: bool = False,
        resize: Optional[int] = None,
        recursive: bool = True,
        frame_octaves: int = 1,
        frame_iterations: Optional[int] = None,
        frame_lr: Optional[float] = None,
        keep_frames: bool = True,
        seed: int = 0,
        num_workers: int = 0,
        max_age: int = 0,
        keep_colors: float = 0.0,
        mask: Optional[str] = None,
        mask_feather: float = 4.0,
        soundtrack: Optional[str] = None,
    ) -> None:
        super().__init__()
        if max_age < 0:
            raise ConfigError(f"data.max_age must be >= 0 frames, got {max_age}")
        if not 0.0 <= keep_colors <= 1.0:
            raise ConfigError(f"data.keep_colors must be within [0, 1], got {keep_colors}")
        check_feather(mask_feather)
        self.max_age, self.keep_colors, self.mask_feather = max_age, keep_colors, mask_feather
        self.mask = check_mask(mask) if mask else None
        if self.mask is not None and is_video(self.mask):
            try:
                probe(self.mask)
            except VideoError as error:
                raise ConfigError(f"data.mask: {error}") from None
        elif self.mask is not None:
            read_mask(self.mask, (8, 8))  # an unreadable mask: one line before any work
        self.soundtrack = Path(soundtrack).expanduser() if soundtrack else None
        if self.soundtrack is not None:
            if not self.soundtrack.is_file():
                raise ConfigError(f"data.soundtrack: {self.soundtrack}: file not found")
            check_audio(self.soundtrack, "data.soundtrack")
        self.timeline = Timeline()  # keyframes and audio drives (``animation``), handed over by ``wire``
        if resize is not None and resize < 1:
            raise ConfigError(f"data.resize must be a positive number of pixels, got {resize}")
        self.resize, self.recursive = resize, recursive
        if frame_octaves < 1:
            raise ConfigError(f"data.frame_octaves must be >= 1, got {frame_octaves}")
        if frame_iterations is not None and frame_iterations < 1:
            raise ConfigError(f"data.frame_iterations must be >= 1, got {frame_iterations}")
        if frame_lr is not None and not frame_lr > 0:
            raise ConfigError(f"data.frame_lr must be > 0, got {frame_lr}")
        self.frame_lr = frame_lr
        self.output, self.overwrite = Path(output).expanduser(), overwrite
        self.frame_octaves, self.frame_iterations = frame_octaves, frame_iterations
        self.keep_frames, self.seed, self.num_workers = keep_frames, seed, num_workers
        self.frame_writes = Background("dreamer-frames")  # the frame PNGs, written off the loop
        self.plan: Optional[MotionPlan] = None
        self.pace: Optional[FramePace] = None

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

    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[DreamBatch]:
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

    @override
    def animate(self, timeline: Timeline) -> None:
        self.timeline = timeline

    def audio_of(self, source: Path, has_audio: bool) -> Optional[Path]:
        """The file whose audio an output gets: the soundtrack, else the source's own (if it has one)."""
        return self.soundtrack or (source if has_audio else None)

    def keep_colors_at(self, settings: Optional[FrameSettings]) -> float:
        """How far a frame's start is pulled to the source's colours (keyframes may move it)."""
        if settings is None:
            return self.keep_colors
        return min(max(settings.number("data.keep_colors", self.keep_colors), 0.0), 1.0)

    def settings_at(self, job: MotionJob, frame: int) -> FrameSettings:
        """``frame``'s animated settings (keyframes and audio)."""
        return self.timeline.at(frame, float(job.fps), job.envelopes)

    @override
    def dream_callbacks(self) -> list[Account]:
        writer = SequenceWriter(lambda: self.current_plan, self.frame_writes, keep_frames=self.keep_frames)
        writer.input_setting = self.input_setting
        return [writer]

    @override
    def dream_listeners(self) -> list[Any]:
        return [Retune()] if self.timeline.of_model else []

    @override
    def frame_carry(self) -> FrameCarry:
        return FrameCarry(self.frame_writes)

    def make_plan(self, min_side: int = 1) -> MotionPlan:
        """Every input's job and the spans of frames still to dream. Inputs that share a stem
        (``clip.mov``, ``clip.mp4``) keep their whole names (``clip.mov.mp4``, ``clip.mp4.mp4``), so
        each has its own video, frames and config; no output lies outside ``output`` or replaces any
        input (``OutputRules``), whatever ``overwrite`` says."""
        plan = MotionPlan()
        sources = self.find_sources(plan.notes)
        rules = OutputRules(self.output, self.overwrite)
        inputs = [self.mask, self.soundtrack]
        rules.protect([*(source for source, _ in sources), *self.protected, *(path for path in inputs if path)])
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
            if job is not None and self.timeline.drives:
                job = self.with_envelopes(job, plan)
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

    def with_envelopes(self, job: MotionJob, plan: MotionPlan) -> Optional[MotionJob]:
        """``job`` with its audio's envelopes, or ``None`` once ``plan.failed`` says why not."""
        if job.audio is None:
            plan.failed.append(f"{job.source}: has no audio for animation.audio to follow; give data.soundtrack")
            return None
        try:
            return replace(job, envelopes=envelopes(job.audio, float(job.fps), job.frames))
        except ConfigError as error:
            plan.failed.append(str(error))
            return None

    def frame_item(self, job: MotionJob, span: FrameSpan, frame: int) -> DreamBatch:
        """The batch of one frame, without its pixels."""
        carried = continues(frame, span, self.carries)

        def png(number: int) -> Path:  # a warm-up frame's dream is kept apart from the video's own
            warming = span.start <= number < span.write_from
            return warmup_path(job.frames_dir, number) if warming else frame_path(job.frames_dir, number)

        settings = self.settings_at(job, frame) if self.timeline else None
        return DreamBatch(
            pixels=None,
            names=[job.name],
            seeds=[image_seed(self.seed, f"{job.name}#{frame}")],
            alphas=[None],
            init="photo" if carried else None,
            frame=Frame(
                sequence=span.job,
                number=frame,
                count=job.frames,
                continues=carried,
                previous=png(frame - 1) if carried else None,
                target=png(frame),
                keep_colors=self.keep_colors_at(settings),
                settings=settings,
            ),
            pace=self.current_pace.of(carried),
        )

    def frame_pace(self, kinds: str) -> FramePace:
        """How long each frame dreams, from the octave walk and the frame settings.

        Raises:
            ConfigError: ``octaves.count: auto`` (for ``kinds`` a number), or more frame octaves than octaves.
        """
        octaves = self.current_outline.octaves
        if octaves.count == "auto":
            raise ConfigError(f"octaves.count: 'auto' is for photos and atlases; give {kinds} a number")
        if self.frame_octaves > octaves.count:
            raise ConfigError(f"data.frame_octaves ({self.frame_octaves}) exceeds octaves.count ({octaves.count})")
        frame_iterations = self.frame_iterations or octaves.iterations
        return FramePace(octaves.count, octaves.iterations, self.frame_octaves, frame_iterations, self.frame_lr)

    @override
    def setup(self, stage: str) -> None:
        self.frame_writes.threaded = overlaps(self.device)
        outline = self.current_outline
        self.pace = self.frame_pace("videos and zooms")
        if self.plan is not None:
            return
        strategy = self.trainer.strategy if self.trainer else None
        if strategy is None or strategy.is_global_zero:
            self.plan = self.make_plan(outline.min_side)
        # Videos are few and their spans are balanced by cost over all processes: rank 0 plans them all.
        self.plan = strategy.broadcast(self.plan) if strategy is not None else self.plan
        self.summary = RunSummary.of(self.current_plan, steps=0, keep=len(self.current_plan.skipped))

    @property
    def current_plan(self) -> MotionPlan:
        if self.plan is None:
            raise RuntimeError("the plan is made in setup()")
        return self.plan

    @property
    def current_pace(self) -> FramePace:
        if self.pace is None:
            raise RuntimeError("the frames' pace is set in setup()")
        return self.pace

    @override
    def train_dataloader(self) -> DreamSteps:
        shards = self.trainer.distributed_sampler_kwargs or {"num_replicas": 1, "rank": 0}
        plan = self.current_plan
        costs = [self.current_pace.span(span, self.carries) for span in plan.spans]
        shares = share(costs, shards["num_replicas"])
        mine = [plan.spans[index] for index in shares[shards["rank"]]]
        loader = DataLoader(
            FrameStream(self, plan.jobs, mine),
            batch_size=None,
            num_workers=self.num_workers,
            collate_fn=_as_is,
            pin_memory=self.on_gpu,
        )
        busiest = max(sum(costs[index] for index in indices) for indices in shares)
        return DreamSteps(loader, self.current_outline, total=busiest, prefetch=self.prefetch(self.num_workers))
