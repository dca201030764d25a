"""A camera as a sequence to dream: each frame continues the previous dream carried along the optical
flow, exactly as a video's frames do (the same ``DreamModule``, ``OctaveWalk``, ``FrameCarry`` and
flow), but frames come as the camera films them and the carried dream stays in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

from dreamer.engine.contract.accounts import Account
from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.engine.contract.outline import DreamSteps
from dreamer.errors import ConfigError
from dreamer.files.plan import RunSummary, image_seed
from dreamer.live.camera import Camera, Shot
from dreamer.live.layers import TakesLayers
from dreamer.live.view import LiveView
from dreamer.motion.carry import FrameCarry
from dreamer.motion.data import MotionDataModule, _as_is
from dreamer.motion.plan import MotionJob, MotionPlan
from dreamer.motion.warp import motion

ENDLESS = 10**12  # the steps a live run is planned for: it ends when the camera closes or Stop is pressed
NO_CAMERA = "a live run dreams the camera the page hands it (dreamer app → Live); this one was handed none"
FIRST_FRAME_WAIT = 30.0  # seconds the run waits for the camera's first frame
# The long side the flow between two camera frames is found at; a larger frame's is scaled up. At 160
# a 320-px dream kept 96.4 % of its strength over the camera frame, at 200 99.6 % (scripts/live_bench.py).
FLOW_SIDE = 200


def fitted(picture: np.ndarray, side: int) -> np.ndarray:
    """``picture`` scaled so its long side is ``side`` px, both sides even (what the encoder takes)."""
    height, width = picture.shape[:2]
    scale = side / max(height, width)
    size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
    if size == (width, height):
        return picture
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


class CameraFrames(IterableDataset):
    """The live data's frames, as they come (in the loop's own thread: nothing is read ahead)."""

    def __init__(self, source: LiveDataModule) -> None:
        self.source = source

    def __iter__(self) -> Iterator[DreamBatch]:
        return self.source.camera_frames()


class LiveDataModule(MotionDataModule):
    """A camera dreamed as it films (the page's Live tab hands it the camera: ``watch``).

    The first frame is dreamed in full (every octave); each later one continues the previous dream,
    carried along the optical flow between the two camera frames (however much time lies between
    them: frames that came while a dream was running are dropped, never queued), for
    ``frame_octaves`` × ``frame_iterations`` steps. The dreams go to the camera's ``shown`` slot
    and, while recording, to an MP4 at their real times beside the camera frames'.

    Args:
        output: Folder for recordings (``live-<n>.mp4`` and ``live-<n>-camera.mp4``).
        size: Long side of the dreamed frames, in px (the page's ``Camera.tuning`` may change it while it runs).
        carry: Weight of the carried dream in each frame's start (the rest is the camera frame).
        record: Record from the start (the page's Record toggle turns ``Camera.recording`` on and off).
        mirror: Flip the camera left-right, as a mirror shows a room itself (what is shown is what is
            recorded; the page's Mirror switch turns it while it runs).
        threads: CPU threads the dream uses (``null``: all but one, so the browser showing it keeps one).

    Raises:
        ConfigError: a setting out of range.
    """

    def __init__(
        self,
        output: str = "dreams/live",
        size: int = 160,
        carry: float = 0.8,
        frame_octaves: int = 1,
        frame_iterations: Optional[int] = None,
        frame_lr: Optional[float] = None,
        keep_colors: float = 0.0,
        record: bool = False,
        mirror: bool = True,
        threads: Optional[int] = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            output,
            frame_octaves=frame_octaves,
            frame_iterations=frame_iterations,
            frame_lr=frame_lr,
            keep_colors=keep_colors,
            seed=seed,
        )
        if not 64 <= size <= 2048:
            raise ConfigError(f"data.size must be within 64 and 2048 px, got {size}")
        if not 0.0 <= carry <= 1.0:
            raise ConfigError(f"data.carry must be within [0, 1], got {carry}")
        if threads is not None and threads < 1:
            raise ConfigError(f"data.threads must be >= 1, got {threads}")
        self.size, self.carry_share, self.record, self.mirror = size, carry, record, mirror
        self.threads = threads or max(1, (os.cpu_count() or 2) - 1)
        self._camera: Optional[Camera] = None
        self._view: Optional[LiveView] = None
        self.threads_before = 0
        self.carry: Optional[FrameCarry] = None

    def watch(self, camera: Camera) -> None:
        """Dream ``camera``'s frames (the run's ``Runtime.camera``, handed over before the run is wired)."""
        self._camera = camera
        camera.recording = camera.recording or self.record
        self._view = LiveView(camera, self.output)

    @property
    def camera(self) -> Camera:
        """The camera it dreams.

        Raises:
            ConfigError: none was handed over (a live run dreams the camera of the page's Live tab).
        """
        if self._camera is None:
            raise ConfigError(NO_CAMERA)
        return self._camera

    @property
    def view(self) -> LiveView:
        """What shows and records its dreams, made when the camera is handed over."""
        if self._view is None:
            raise ConfigError(NO_CAMERA)
        return self._view

    @override
    def setup(self, stage: str) -> None:
        if self.plan is not None:
            return
        self.pace = self.frame_pace("Live")
        if self.device.type == "cpu":
            self.threads_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
        self.plan = MotionPlan()
        self.summary = RunSummary()

    @override
    def teardown(self, stage: str) -> None:
        if self.threads_before:
            torch.set_num_threads(self.threads_before)  # the page's other dreams use every thread again

    @override
    def dream_callbacks(self) -> list[Account]:
        return [self.view]

    @override
    def dream_listeners(self) -> list[Any]:
        return [TakesLayers(self.camera)]

    @override
    def frame_carry(self) -> FrameCarry:
        self.carry = FrameCarry()
        if self.camera.shown is not None:  # a restarted run (new settings) goes on from the dream shown
            self.carry.keep(self.virtual(-1), fitted(self.camera.shown.dream, self.side()))
        return self.carry

    def side(self) -> int:
        """The long side of the frames to dream now (the page may change it while it runs)."""
        return self.camera.tuning.size if self.camera.tuning is not None else self.size

    def mirrored(self, picture: np.ndarray) -> np.ndarray:
        """``picture`` flipped left-right where the camera is to be mirrored (the page may switch it)."""
        mirror = self.camera.tuning.mirror if self.camera.tuning is not None else self.mirror
        return np.ascontiguousarray(picture[:, ::-1]) if mirror else picture

    def virtual(self, number: int) -> Path:
        """The name a frame's dream is kept under in memory (nothing is written there)."""
        return self.output / "live.frames" / f"{number:09d}.png"

    @override
    def train_dataloader(self) -> DreamSteps:
        loader = DataLoader(CameraFrames(self), batch_size=None, num_workers=0, collate_fn=_as_is)
        return DreamSteps(loader, self.current_outline, total=ENDLESS)

    def camera_frames(self) -> Iterator[DreamBatch]:
        """A batch per camera frame taken, until the camera closes."""
        earlier: Optional[np.ndarray] = None
        shown = self.camera.shown
        if shown is not None:  # go on from the dream shown before new settings
            earlier = fitted(shown.source, self.side())
        number = 0
        while True:
            shot = self.camera.take(FIRST_FRAME_WAIT if number == 0 else None)
            if shot is None:
                return
            picture = fitted(self.mirrored(shot.picture), self.side())
            if earlier is not None and earlier.shape != picture.shape:  # a new size: the dream goes on, resized
                earlier = fitted(earlier, self.side())
                if self.carry is not None and self.camera.shown is not None and earlier.shape == picture.shape:
                    self.carry.keep(self.virtual(number - 1), fitted(self.camera.shown.dream, self.side()))
                else:
                    earlier = None  # the camera itself changed: start afresh
            yield self.frame_batch(number, shot, picture, earlier)
            earlier = picture
            number += 1

    def frame_batch(self, number: int, shot: Shot, picture: np.ndarray, earlier: Optional[np.ndarray]) -> DreamBatch:
        """Frame ``number``: its pixels and, when it continues a dream, the motion from ``earlier``."""
        continued = earlier is not None
        frame = Frame(
            sequence=0,
            number=number,
            count=ENDLESS,
            continues=continued,
            previous=self.virtual(number - 1) if continued else None,
            target=self.virtual(number),
            keep_colors=self.keep_colors,
        )
        self.view.expect(number, shot.arrived)
        tuning = self.camera.tuning
        pace = self.current_pace
        if tuning is not None:  # turned in the page while it runs
            pace = replace(pace, frame_iterations=tuning.steps, frame_lr=tuning.lr)
        if earlier is not None:
            backward, valid = motion(picture, earlier, FLOW_SIDE)
            kept = valid.astype(np.float32)
            carry = tuning.carry if tuning is not None else self.carry_share
            frame = replace(frame, backward=backward, valid=valid, carried=carry * kept, renewed=1 - kept)
        return DreamBatch(
            pixels=torch.from_numpy(np.ascontiguousarray(picture)).permute(2, 0, 1)[None].float().div_(255),
            names=["camera"],
            seeds=[image_seed(self.seed, f"camera#{number}")],
            alphas=[None],
            init="photo" if continued else None,
            frame=frame,
            pace=pace.of(continued),
        )

    # A live run has no files to plan: these parts of a sequence are not used.

    @override
    def find_sources(self, notes: list[str]) -> list[tuple[Path, str]]:
        return []

    @override
    def make_job(
        self, source: Path, name: str, paths: tuple[Path, Path], plan: MotionPlan, min_side: int
    ) -> Optional[MotionJob]:
        return None
