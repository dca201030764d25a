"""Dreamed videos: every frame's dream starts from the previous dream carried along the optical flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import torch
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.networks.backbones import resolve_state_dict
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_CLIP
from dreamer.files.masks import read_mask
from dreamer.files.plan import image_seed, resized
from dreamer.motion.carry import CarryTuner, FrameCarry
from dreamer.motion.data import MotionDataModule
from dreamer.motion.flicker import FlickerMeter
from dreamer.motion.plan import FrameSpan, MotionJob, MotionPlan, continues
from dreamer.motion.tracks import SourceTrack
from dreamer.motion.videoio import VideoError, is_video, probe, read_frames
from dreamer.motion.warp import consistent, dis_flow, warp
from dreamer.photos.data import find_images


class VideoDataModule(MotionDataModule):
    """A video in, a dreamed video out.

    Dreamed videos: every frame's dream starts from the previous dream carried along the optical
    flow, blended with the new frame; pixels that were hidden before start from the frame alone.

    Args:
        video: A video, a folder of videos, a glob or a list of these.
        output: Folder for ``<video>.mp4`` (and ``.yaml``, ``.frames/``).
        carry: Weight of the carried dream in each frame's start: ``(1 − carry)·frame + carry·warped
            previous dream`` (0: every frame is a fresh dream of its own, in full; near 1: the dream sticks).
        flow: Optical flow between source frames: ``dis`` (OpenCV DIS: no weights, fast on a CPU) or
            torchvision's ``raft_small`` / ``raft_large`` (pretrained weights, found like a backbone's:
            the hub cache, then download; better on large motion, slow on a CPU).
        chunk_frames: Cut each video into chunks of this many frames, dreamed independently (by
            several processes with ``ddp_independent``); ``null``: one chunk.
        overlap: Frames each chunk (but the first) dreams before its first frame, so its dream is
            already warm where the previous chunk ends; over those frames the video cross-fades
            from the earlier chunk's dream to the later one's.
        target_flicker: Tune the carried dream's weight frame by frame, within each chunk, so that
            the dream's warping error comes near this many times the source's (the flicker
            scorecard's ratio; ``null``: ``carry`` as given). A resumed run tunes afresh.
        shared: What zooms and videos share (``MotionDataModule``): resize, recursive, overwrite,
            frame_octaves, frame_iterations, frame_lr, keep_frames, seed, num_workers, max_age,
            keep_colors, mask, mask_feather, soundtrack.

    Raises:
        ConfigError: a setting out of range (carry, flow, chunk frames, overlap, and the shared ones).
    """

    input_setting = "data.video"  # the setting that names a video (a recipe names it there)

    def __init__(
        self,
        video: Union[str, list[str]] = str(SAMPLE_CLIP),
        output: str = "dreams/video",
        carry: float = 0.7,
        flow: Literal["dis", "raft_small", "raft_large"] = "dis",
        chunk_frames: Optional[int] = None,
        overlap: int = 8,
        target_flicker: Optional[float] = None,
        **shared: Any,
    ) -> None:
        super().__init__(output, **shared)
        if not video:
            raise ConfigError("data.video: give a video file, folder or glob")
        if not 0.0 <= carry <= 1.0:
            raise ConfigError(f"data.carry must be within [0, 1], got {carry}")
        if flow not in ("dis", "raft_small", "raft_large"):
            raise ConfigError(f"data.flow must be 'dis', 'raft_small' or 'raft_large', got {flow!r}")
        if chunk_frames is not None and chunk_frames < 1:
            raise ConfigError(f"data.chunk_frames must be >= 1, got {chunk_frames}")
        if overlap < 0:
            raise ConfigError(f"data.overlap must be >= 0, got {overlap}")
        self.video, self.carry_share, self.flow = video, carry, flow
        self.chunk_frames, self.overlap = chunk_frames, overlap
        if target_flicker is not None and target_flicker <= 0:
            raise ConfigError(
                f"data.target_flicker must be > 0 (the dream's warping error ÷ the source's), got {target_flicker}"
            )
        self.target_flicker = target_flicker
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
        return self.carry_share > 0

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
        audio = self.audio_of(source, info.audio)
        return MotionJob(source, name, *paths, (height, width), info.frames, info.fps, seed, audio)

    @override
    def dream_listeners(self) -> list[Any]:
        return [*super().dream_listeners(), FlickerMeter()]

    @override
    def frame_carry(self) -> FrameCarry:
        tuner = CarryTuner(self.target_flicker) if self.target_flicker is not None else None
        return FrameCarry(self.frame_writes, tuner)

    def carry_at(self, job: MotionJob, frame: int) -> float:
        """The carried dream's weight at ``frame`` (keyframes and audio may move it)."""
        settings = self.settings_at(job, frame)
        return min(max(settings.number("data.carry", self.carry_share), 0.0), 1.0)

    def mask_frames(self, job: MotionJob) -> Optional[Iterator[np.ndarray]]:
        """One mask per frame from a mask video (``None`` for a mask image or none)."""
        if self.mask is None or not is_video(self.mask):
            return None
        return (picture.mean(-1, dtype=np.float32) / 255 for picture in read_frames(self.mask, job.size))

    def track(self, job: MotionJob) -> SourceTrack:
        """The ages and mask that follow ``job``'s motion from its first frame."""
        first = read_mask(self.mask, job.size) if self.mask is not None and not is_video(self.mask) else None
        return SourceTrack(job.size, self.max_age, job.seed, first, self.mask_frames(job), self.mask_feather)

    @override
    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[DreamBatch]:
        earlier: Optional[np.ndarray] = None  # the source frame before the current one
        flow = self.flow_estimator()
        track = self.track(job)
        decoded = 0
        try:
            for number, picture in enumerate(read_frames(job.source, job.size)):
                if number >= span.stop:
                    return
                decoded = number + 1
                wanted = number >= span.start
                carried = wanted and continues(number, span, self.carries)
                backward = valid = None
                if earlier is not None and (carried or track.follows):
                    backward = flow(picture, earlier)
                    valid = consistent(backward, flow(earlier, picture))
                track.advance(partial(warp, flow=backward) if backward is not None else None, valid)
                if wanted:
                    motion = (backward, valid) if carried and backward is not None and valid is not None else None
                    yield self.frame_batch(job, span, number, picture, motion, track)
                earlier = picture
            problem = f"{job.source}: the stream ends after {decoded} of {job.frames} frames"
        except VideoError as error:
            problem = str(error)
        if decoded >= span.stop:
            return
        yield DreamBatch.idle(
            damaged=(span.job, decoded), failed=[f"{problem}; the {decoded} frames before it were dreamed"]
        )

    def frame_batch(
        self,
        job: MotionJob,
        span: FrameSpan,
        number: int,
        picture: np.ndarray,
        motion: Optional[tuple[np.ndarray, np.ndarray]],
        track: SourceTrack,
    ) -> DreamBatch:
        """Frame ``number``'s batch: its pixels, mask, and for a continued frame the motion from the
        frame before and how much of the previous dream each pixel's start keeps."""
        item = self.frame_item(job, span, number)
        item.pixels = torch.from_numpy(picture).permute(2, 0, 1)[None].float().div_(255)
        mask = track.mask()
        item.mask = torch.from_numpy(mask)[None, None] if mask is not None else None
        if motion is not None and item.frame is not None:
            backward, valid = motion
            share = track.share()
            kept = valid.astype(np.float32) if share is None else valid * share
            item.frame = replace(
                item.frame, backward=backward, valid=valid, carried=self.carry_at(job, number) * kept, renewed=1 - kept
            )
        return item


def find_videos(
    video: Union[str, Sequence[str]], recursive: bool = True, notes: Optional[list[str]] = None
) -> list[tuple[Path, str]]:
    """Files, folders (videos by suffix) and globs → ``(path, name)`` pairs, like ``find_images``."""
    return find_images(video, recursive, accept=is_video, setting="data.video", notes=notes)
