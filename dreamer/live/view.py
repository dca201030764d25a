"""What a live run shows and records: each finished dream goes to the camera's ``shown`` slot and,
while recording, to an MP4 at the real time its camera frame arrived, with the camera frames in a
second MP4 beside it (for measuring how coherent the shown dreams are)."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import asdict
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, Optional

import av
import lightning.pytorch as pl
import numpy as np
import yaml
from PIL import Image
from torch import Tensor
from typing_extensions import override

from dreamer.engine.contract.accounts import Account, SavesConfig
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.files.background import Background
from dreamer.files.imageio import save_image
from dreamer.files.outputs import atomic_path
from dreamer.files.sections import settings
from dreamer.live.camera import Camera, Shown
from dreamer.live.layers import layer_value
from dreamer.motion.carry import quantised
from dreamer.motion.videoio import even

TIME_BASE = Fraction(1, 1000)  # recordings keep real times, to the millisecond


class Recording:
    """An MP4 written frame by frame at given times (H.264, yuv420p, plays in a browser), under a
    temporary name until ``close`` renames it: a recording cut short leaves no half-written file."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._temporary: Optional[Path] = None
        self._stack = ExitStack()
        self._output: Any = None
        self._video: Any = None
        self._start: Optional[float] = None
        self._last = -1
        self.frames = 0

    def add(self, picture: np.ndarray, at: float) -> None:
        """``picture`` (RGB uint8) shown from ``at`` (``time.monotonic()``) on."""
        picture = np.ascontiguousarray(even(picture))
        if self._output is None:
            temporary = self._temporary = self._stack.enter_context(atomic_path(self.target))
            self._output = self._stack.enter_context(
                av.open(str(temporary), "w", format="mp4", options={"movflags": "+faststart"})
            )
            self._video = self._output.add_stream("libx264", rate=30, options={"crf": "18", "preset": "veryfast"})
            self._video.height, self._video.width = picture.shape[:2]
            self._video.pix_fmt = "yuv420p"
            self._video.time_base = self._video.codec_context.time_base = TIME_BASE
            self._start = at
        if picture.shape[:2] != (self._video.height, self._video.width):
            return  # a size changed mid-recording: the recording keeps its first size
        assert self._start is not None
        pts = max(self._last + 1, round((at - self._start) / TIME_BASE))
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, TIME_BASE
        self._output.mux(self._video.encode(frame))
        self._last, self.frames = pts, self.frames + 1

    def close(self, recipe: Optional[str] = None) -> bool:
        """Finish the file, with ``recipe`` in its comment tag; whether there is one (a recording
        with no frames leaves none)."""
        if self._output is None:
            return False
        self._output.mux(self._video.encode())
        self._output.close()
        if recipe is not None and self._temporary is not None:
            with_comment(self._temporary, recipe)  # known only at the end: the settings over time
        self._stack.close()
        return True


def with_comment(path: Path, text: str) -> None:
    """``path`` (an MP4) with ``text`` in its comment tag: its packets copied as they are."""
    copy = path.with_name(path.name + ".tag")
    with av.open(str(path)) as source, av.open(str(copy), "w", format="mp4") as target:
        target.metadata["comment"] = text
        video = source.streams.video[0]
        stream = target.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is None:
                continue
            packet.stream = stream
            target.mux(packet)
    os.replace(copy, path)


class LiveView(pl.Callback, DreamListener, Account, SavesConfig):
    """Puts every finished dream in the camera's ``shown`` slot; records while ``camera.recording`` is on
    (``live-<n>.mp4`` and the camera frames as ``live-<n>-camera.mp4`` in ``output``); stops the
    Trainer when the camera closes."""

    def __init__(self, camera: Camera, output: Path) -> None:
        super().__init__()
        self.camera, self.output = camera, output
        self.arrivals: dict[int, float] = {}  # frame number → when its camera frame arrived
        self._records: Optional[tuple[Recording, Recording]] = None
        self._keyframes: list[dict[str, Any]] = []  # the settings over the recording, as they changed
        self._started = 0.0
        # Live's dream leaves a core to the page: the recordings are encoded there, beside the steps
        self.encoding = Background("live recording", depth=8)

    def expect(self, number: int, arrived: float) -> None:
        self.arrivals[number] = arrived

    @override
    def on_dream_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        batch, frame = dream.batch, dream.batch.frame
        if frame is None or batch.pixels is None or not batch.names:
            return
        picture = quantised(images[0])
        source = quantised(batch.pixels[0])
        arrived = self.arrivals.pop(frame.number, time.monotonic())
        climbed = trainer.lightning_module.hparams
        layer = str(climbed.layers) + (f" channels {climbed.channels}" if climbed.channels else "")
        self.camera.show(Shown(picture, source, arrived, time.monotonic(), frame.number, layer))
        self.accounted += 1
        if self.camera.snapshot_wanted is not None:
            self.camera.snapshotted(self._snapshot(self.camera.snapshot_wanted))
        if self.camera.recording:
            if self._records is None:
                self._records = self._new_records()
                self.camera.recording_open = True
                self._keyframes, self._started = [], arrived
            tuning = asdict(self.camera.tuning) if self.camera.tuning is not None else {}
            if not self._keyframes or {k: v for k, v in self._keyframes[-1].items() if k in tuning} != tuning:
                at = {"frame": self._records[0].frames, "seconds": round(arrived - self._started, 3)}
                self._keyframes.append({**at, **tuning})
            for record, shown in zip(self._records, (picture, source)):
                self.encoding.submit(partial(record.add, shown, arrived))
        elif self._records is not None:
            self._finish()

    def _new_records(self) -> tuple[Recording, Recording]:
        self.output.mkdir(parents=True, exist_ok=True)
        number = 1
        while (self.output / f"live-{number}.mp4").exists():
            number += 1
        target = self.output / f"live-{number}.mp4"
        return Recording(target), Recording(target.with_name(f"live-{number}-camera.mp4"))

    def _finish(self) -> None:
        assert self._records is not None
        dreamed, camera = self._records
        self._records = None
        finished = []
        recipe = self.recipe()
        for record in (dreamed, camera):
            try:
                self.encoding.drain()  # every frame added
                if record.close(recipe):
                    (self.written if record is dreamed else self.also_written).append(record.target)
                    finished.append(record.target)
            except (OSError, av.FFmpegError) as error:
                self.failed.append(f"{record.target}: not written ({error})")
        self.camera.recorded(finished)

    def _snapshot(self, shown: Shown) -> Optional[Path]:
        """``shown``'s dream written as ``live-snapshot-<n>.png`` with the recipe of this moment."""
        self.output.mkdir(parents=True, exist_ok=True)
        number = 1
        while (target := self.output / f"live-snapshot-{number}.png").exists():
            number += 1
        try:
            save_image(Image.fromarray(shown.dream), target, recipe=self.recipe(snapshot=True))
        except OSError as error:
            self.failed.append(f"{target}: not written ({error})")
            return None
        self.also_written.append(target)
        return target

    def recipe(self, snapshot: bool = False) -> Optional[str]:
        """A recording's recipe: the run's settings, and how the page's controls moved them over time
        (``recipe.keyframes``, by recorded frame and second); a ``snapshot``'s, the settings of this
        moment. Its source was a camera: it says how the dream was made, but there is nothing to
        dream again."""
        what = "snapshot" if snapshot else "recording"
        text = self.recipe_text(note=f"a Live {what}: its source was a camera") if self.embed_recipe else None
        if text is None:
            return None
        header, _, body = text.partition("\n")
        content = yaml.safe_load(body)
        content["recipe"]["source"] = "camera"
        if snapshot:
            tuning = self.camera.tuning
            if tuning is not None:
                content["recipe"]["mirror"] = tuning.mirror
                if tuning.layer is not None:
                    climbed = {"layers": layer_value(tuning.layer), "channels": list(tuning.channels or []) or None}
                    settings(content, "model").update(climbed)
                now = {"size": tuning.size, "carry": tuning.carry, "frame_iterations": tuning.steps}
                settings(content, "data").update(now, frame_lr=tuning.lr)
        else:
            content["recipe"]["keyframes"] = self._keyframes
        return header + "\n" + yaml.safe_dump(content, sort_keys=False)

    @override
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if self.camera.closed:
            trainer.should_stop = True

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._records is not None:
            self._finish()

    @override
    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self._records is not None:
            self._finish()
