"""Endless zooms into photos: every frame starts from the last one's dream, moved by one zoom step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Union

import cv2
import numpy as np
import torch
from PIL import Image
from typing_extensions import override

from dreamer.engine.contract.batch import DreamBatch
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import open_photo
from dreamer.files.masks import feathered, read_mask
from dreamer.files.plan import image_seed, plan_header
from dreamer.motion.data import MotionDataModule
from dreamer.motion.plan import FrameSpan, MotionJob, MotionPlan
from dreamer.motion.videoio import is_video
from dreamer.motion.warp import zoom_matrix
from dreamer.photos.data import find_images


class ZoomDataModule(MotionDataModule):
    """An endless zoom into a photo, dreamed frame by frame.

    Endless zoom ("ouroboros"): frame 0 is a dream of the photo, every next frame starts from the
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
        shared: What zooms and videos share (``MotionDataModule``): resize, recursive, overwrite,
            frame_octaves, frame_iterations, frame_lr, keep_frames, seed, num_workers, max_age,
            keep_colors, mask, mask_feather, soundtrack.

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
        **shared: Any,
    ) -> None:
        super().__init__(output, **shared)
        if frames < 1:
            raise ConfigError(f"data.frames must be >= 1, got {frames}")
        if fps <= 0:
            raise ConfigError(f"data.fps must be > 0, got {fps}")
        if zoom <= 0:
            raise ConfigError(f"data.zoom must be > 0, got {zoom}")
        self.images = images
        self.frame_count, self.fps, self.zoom, self.rotate = frames, Fraction(fps).limit_denominator(1001), zoom, rotate
        self.translate, self.make_gif = tuple(translate), gif
        if self.mask is not None and is_video(self.mask):
            raise ConfigError(f"data.mask: {self.mask}: a zoom takes a mask image, not a video")
        if self.max_age:
            raise ConfigError("data.max_age is for videos: a zoom carries every dream out of the frame by itself")

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
        audio = self.audio_of(source, has_audio=False)
        return MotionJob(source, name, *paths, header[0], self.frame_count, self.fps, seed, audio)

    def step_at(self, job: MotionJob, frame: int) -> tuple[float, float, tuple[float, float]]:
        """(zoom, rotate, translate) of the step into ``frame`` (keyframes and audio may move them)."""
        settings = self.settings_at(job, frame)
        zoom = max(settings.number("data.zoom", self.zoom), 1e-3)
        return zoom, settings.number("data.rotate", self.rotate), settings.pair("data.translate", self.translate)

    @property
    def follows_source(self) -> bool:
        """Whether continued frames need their source, the photo moved by every step so far: what a
        mask keeps outside it."""
        return self.mask is not None

    @override
    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[DreamBatch]:
        """Each frame of the zoom: a fresh one from the photo where it is placed; a continued one
        with the zoom step into it and the photo's colours, which its start is held to."""
        photo = self.photo(job)
        colours = photo.reshape(-1, 3).mean(0)
        height, width = job.size
        mask = read_mask(self.mask, job.size) if self.mask is not None else None
        moved = np.eye(3)  # the photo's place in this frame: every zoom step so far
        for frame in range(span.stop):
            if frame > 0:
                step = zoom_matrix(height, width, *self.step_at(job, frame))
                moved = np.vstack([step, [0, 0, 1]]) @ moved
            if frame < span.start:
                continue
            item = self.frame_item(job, span, frame)
            assert item.frame is not None
            if item.frame.continues:
                item.frame = replace(item.frame, zoom=self.step_at(job, frame), colours=colours)
            if not item.frame.continues or self.follows_source:
                source = zoom_map(photo, moved[:2])
                item.pixels = torch.from_numpy(source).permute(2, 0, 1)[None]
            if mask is not None:
                item.mask = torch.from_numpy(feathered(mask, self.mask_feather))[None, None]
            yield item

    def photo(self, job: MotionJob) -> np.ndarray:
        """The zoom's photo at its size, ``float32 [H, W, 3]`` in [0, 1]."""
        photo, _ = open_photo(job.source)
        if (photo.height, photo.width) != job.size:
            photo = photo.resize(job.size[::-1], Image.Resampling.LANCZOS)
        return np.asarray(photo, dtype=np.float32) / 255


def zoom_map(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A map ``[H, W]`` (or picture ``[H, W, 3]``) moved by the affine ``matrix`` (edges mirrored)."""
    height, width = values.shape[:2]
    return cv2.warpAffine(values, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
