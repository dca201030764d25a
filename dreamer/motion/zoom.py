"""Endless zooms into photos: every frame starts from the last one's dream, moved by one zoom step."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from PIL import Image
from typing_extensions import override

from dreamer.engine.batch import DreamBatch
from dreamer.errors import ConfigError
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.files.plan import image_seed, plan_header
from dreamer.motion.data import MotionDataModule
from dreamer.motion.plan import FrameSpan, MotionJob, MotionPlan
from dreamer.motion.warp import zoom_step
from dreamer.photos.data import find_images


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
        shared: What zooms and videos share (``MotionDataModule``): resize, recursive, overwrite,
            frame_octaves, frame_iterations, keep_frames, seed, num_workers.

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
    def frames(self, job: MotionJob, span: FrameSpan) -> Iterator[DreamBatch]:
        for frame in range(span.start, span.stop):
            item = self.frame_item(job, span, frame)
            if item.frame is not None and not item.frame.continues:
                photo, _ = open_photo(job.source)
                if (photo.height, photo.width) != job.size:
                    photo = photo.resize(job.size[::-1], Image.Resampling.LANCZOS)
                item.pixels = to_tensor(photo)[None]
            yield item

    @override
    def next_start(self, previous: np.ndarray, batch: DreamBatch) -> np.ndarray:
        return zoom_step(previous.astype(np.float32) / 255, self.zoom, self.rotate, self.translate)
