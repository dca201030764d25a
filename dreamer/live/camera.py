"""Where a live run's camera frames arrive and its dreams leave: one slot each way, never a queue.

The page puts every camera frame it is sent into ``Camera.put``; the live data takes the freshest
with ``take`` (a frame not taken before a newer one came is dropped: a slow dream never falls
behind the camera). Each finished dream is put in ``shown`` with the time its camera frame arrived,
so the page can show the newest and say how late it is. The page hands its camera to the run
itself (``RunSpec.runtime.camera``), never by a name to look up.
"""

from __future__ import annotations

import collections
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Shot:
    """A camera frame (``[H, W, 3]`` uint8) and when it arrived (``time.monotonic()``)."""

    picture: np.ndarray
    arrived: float


@dataclass(frozen=True)
class Tuning:
    """Settings a running live dream takes from its next frame on, without a restart."""

    steps: int  # per continued frame
    lr: float  # step size of a continued frame
    carry: float  # weight of the carried dream in a frame's start
    size: int  # long side of the dreamed frames, px
    mirror: bool = True  # the camera mirrored left-right (what a room in front of it expects)
    layer: Optional[str] = None  # the layer climbed (None: the run's own)
    channels: Optional[tuple[int, ...]] = None  # its channels (None: the whole layer)


@dataclass(frozen=True)
class Shown:
    """A finished dream (``[H, W, 3]`` uint8), its camera frame, and when that frame arrived and the dream ended."""

    dream: np.ndarray
    source: np.ndarray
    arrived: float
    finished: float
    number: int
    layer: str = ""  # the layer it climbed (and its channels), as the stats line says it


class Camera:
    """One live stream's two slots: the freshest camera frame in, the newest dream out."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._latest: Optional[Shot] = None
        self.shown: Optional[Shown] = None
        self.closed = False
        self.received = self.dropped = 0
        self.recording = False  # whether the shown dreams are to be recorded (the page's Record toggle)
        self.tuning: Optional[Tuning] = None  # the page's strength and carry, taken at every frame
        self.recording_open = False  # whether a recording is being written
        self.recordings: list[Path] = []  # finished recordings (each dream MP4, then its camera MP4)
        self.snapshot_wanted: Optional[Shown] = None  # a dream the page asked to be written, with its recipe
        self.snapshots: list[Path] = []  # the snapshots written
        self.taken_at: Optional[float] = None  # when the dream running now took its frame
        self.durations: collections.deque[float] = collections.deque(maxlen=15)  # from a take to its dream shown

    def put(self, picture: np.ndarray) -> None:
        """A new camera frame; one that was waiting and not taken yet is dropped."""
        with self._changed:
            self.dropped += self._latest is not None
            self.received += 1
            self._latest = Shot(picture, time.monotonic())
            self._changed.notify_all()

    def take(self, timeout: Optional[float] = None) -> Optional[Shot]:
        """The freshest frame not taken yet, waiting for one up to ``timeout`` s (``None``: as long as
        it takes); ``None`` once the camera is closed (or nothing came in time)."""
        with self._changed:
            self._changed.wait_for(lambda: self._latest is not None or self.closed, timeout)
            shot, self._latest = (None, self._latest) if self.closed else (self._latest, None)
            if shot is not None:
                self.taken_at = time.monotonic()
            return shot

    def show(self, shown: Shown) -> None:
        with self._changed:
            if self.taken_at is not None:
                self.durations.append(shown.finished - self.taken_at)
                self.taken_at = None
            self.shown = shown
            self._changed.notify_all()

    def due(self) -> Optional[float]:
        """When the dream running now is expected to be shown (``time.monotonic()``; ``None``: none runs,
        or too few have been timed yet)."""
        with self._changed:
            if self.taken_at is None or len(self.durations) < 3:
                return None
            return self.taken_at + statistics.median(self.durations)

    def wait_shown(self, after: Optional[Shown], until: float) -> Optional[Shown]:
        """The newest dream once it is not ``after``, waiting for one until ``until`` (``time.monotonic()``)."""
        with self._changed:
            self._changed.wait_for(lambda: self.shown is not after or self.closed, max(0.0, until - time.monotonic()))
            return self.shown

    def recorded(self, paths: list[Path]) -> None:
        """A recording was finished (``paths``: its files)."""
        with self._changed:
            self.recordings.extend(paths)
            self.recording_open = False
            self._changed.notify_all()

    def wait_recorded(self, timeout: float) -> None:
        """Until no recording is being written (or ``timeout`` s)."""
        with self._changed:
            self._changed.wait_for(lambda: not self.recording_open or self.closed, timeout)

    def ask_snapshot(self, shown: Shown) -> int:
        """Ask for ``shown`` to be written as a PNG with its recipe (at the end of the next dream);
        the number of snapshots written before it, for ``wait_snapshot``."""
        with self._changed:
            self.snapshot_wanted = shown
            return len(self.snapshots)

    def snapshotted(self, path: Optional[Path]) -> None:
        """The snapshot asked for was written to ``path`` (``None``: it could not be)."""
        with self._changed:
            self.snapshot_wanted = None
            if path is not None:
                self.snapshots.append(path)
            self._changed.notify_all()

    def wait_snapshot(self, before: int, timeout: float) -> Optional[Path]:
        """The snapshot asked for when ``before`` had been written, once written (``None``: none came
        within ``timeout`` s, or it could not be written)."""
        with self._changed:
            self._changed.wait_for(lambda: self.snapshot_wanted is None or self.closed, timeout)
            return self.snapshots[before] if len(self.snapshots) > before else None

    def close(self) -> None:
        """No more frames: ``take`` returns ``None`` from now on."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()
