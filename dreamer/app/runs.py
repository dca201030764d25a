"""One run of the engine for the page: the CLI's own ``DreamerCLI`` and ``Trainer`` on a worker
thread, telling the page what happens (a picture at the end of every octave and frame, the step
count) and stopping when asked."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import lightning.pytorch as pl
from PIL import Image
from torch import Tensor
from typing_extensions import override

from dreamer.command.report import Outcome, outcome
from dreamer.command.runner import Ran, execute
from dreamer.command.spec import RunSpec
from dreamer.engine.contract.events import Dream, DreamListener
from dreamer.errors import ConfigError
from dreamer.files.imageio import to_image


@dataclass(frozen=True)
class Progress:
    """How much of the run is done (0 to 1); ``where`` says which octave (and frame)."""

    fraction: float
    where: str


@dataclass(frozen=True)
class Preview:
    """The dream at the end of an octave (a frame's dream, for motion)."""

    image: Image.Image
    where: str


@dataclass(frozen=True)
class Finished:
    """The run ended: what it wrote and failed, whether it was stopped, and its message if it could
    not start (a bad setting: one line)."""

    outcome: Optional[Outcome]
    stopped: bool
    error: Optional[str]
    config_text: str
    seconds: float


Event = Union[Progress, Preview, Finished]


class PageListener(pl.Callback, DreamListener):
    """Hands the page a picture at every octave's end and the step count; stops the Trainer when the
    page's stop button was pressed (at the next step's end)."""

    def __init__(self, events: queue.Queue[Event], stop: threading.Event) -> None:
        self.events, self.stop, self.steps, self.total = events, stop, 0, math.inf
        self.where, self.frames_done = "", 0.0

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.total = float(trainer.num_training_batches)  # inf for frames read as they come
        self.events.put(Progress(0.0, "starting"))

    @override
    def on_octave_start(self, trainer: pl.Trainer, dream: Dream) -> None:
        frame = dream.batch.frame
        self.where = f"octave {dream.octave + 1}/{dream.levels}"
        if frame is not None:
            self.where = f"frame {frame.number + 1}/{frame.count} · " + self.where
            self.frames_done = frame.number / frame.count

    @override
    def on_octave_end(self, trainer: pl.Trainer, dream: Dream, images: Tensor) -> None:
        self.events.put(Preview(to_image(images[0]), self.where))

    @override
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        self.steps += 1
        fraction = self.steps / self.total if math.isfinite(self.total) and self.total else self.frames_done
        self.events.put(Progress(min(fraction, 1.0), self.where))
        if self.stop.is_set():
            trainer.should_stop = True


class PageRun:
    """A dream run in this process, on a thread of its own; iterate ``events()``. ``spec`` makes its
    spec there, so a bad setting ends the run with its one line like any other error."""

    def __init__(self, spec: Callable[[], RunSpec]) -> None:
        self.spec = spec
        self.stop = threading.Event()
        self._events: queue.Queue[Event] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dreamer-page-run", daemon=True)

    def start(self) -> PageRun:
        self._thread.start()
        return self

    def events(self) -> Iterator[list[Event]]:
        """The events in order, in lists of those that came together (a slow page skips pictures
        by showing only a list's newest); the last list ends with ``Finished``."""
        while True:
            arrived = [self._events.get()]
            while not isinstance(arrived[-1], Finished):
                try:
                    arrived.append(self._events.get_nowait())
                except queue.Empty:
                    break
            yield arrived
            if isinstance(arrived[-1], Finished):
                return

    def _run(self) -> None:
        started = time.perf_counter()
        ran = Ran(None, "the run ended before it started")  # until ``execute`` returns
        try:
            spec = self.spec().with_runtime(callbacks=[PageListener(self._events, self.stop)])
            ran = execute(spec)
        except ConfigError as error:  # a setting the spec does not take
            ran = Ran(None, str(error))
        except Exception as failure:  # a bug: said in one line on the page, and raised on its thread
            ran = Ran(None, f"{type(failure).__name__}: {failure}")
            raise
        finally:
            done = outcome(ran.cli) if ran.cli is not None and ran.error is None else None
            seconds = time.perf_counter() - started
            self._events.put(Finished(done, self.stop.is_set(), ran.error, ran.config_text, seconds))


def first_written(done: Outcome, suffix: str) -> Optional[Path]:
    """The first file the run wrote with ``suffix`` (``.png``, ``.mp4``)."""
    return next((path for path in done.written + done.also_written if path.suffix == suffix), None)
