"""Work that no dream step should wait for: writing files, and preparing the next batch, on background threads."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, Optional, TypeVar

import torch

Job = Callable[[], None]
T = TypeVar("T")


def overlaps(device: torch.device) -> bool:
    """Whether work done beside the dream overlaps it on ``device``. On a GPU the host mostly waits
    for the device, so encoding, writing and decoding on other threads take time that was idle. On a
    CPU the dream's own threads already use every core, and a thread beside them only slows them
    down (measured on 2 cores: 48 photos 10-20 % slower with PNGs written on a thread, a video's frames
    15 % slower with the next frame's flow computed on one): there, the same work runs in place."""
    return device.type == "cuda"


class Background:
    """Runs jobs one after another on a worker thread, in the order they were submitted; or, when
    not ``threaded`` (see ``overlaps``), at once in the caller's thread.

    At most ``depth`` jobs wait; ``submit`` blocks while the queue is full, so the memory held by
    pending jobs (a finished dream each) is bounded however long the run. Jobs report their own
    expected failures (a full disk is the failure of one file, recorded by the job); an unexpected
    exception stops nothing but is raised again by the next ``submit`` or ``drain``. The thread
    starts with the first job and is a daemon: a killed process loses only jobs not yet done, and
    each of those writes atomically, so no file is left half-written.

    Args:
        name: The worker thread's name.
        depth: Jobs that may wait at most.
        threaded: Run jobs on the worker thread (else in place).
    """

    def __init__(self, name: str, depth: int = 4, threaded: bool = True) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.name, self.threaded = name, threaded
        self._jobs: queue.Queue[Job] = queue.Queue(maxsize=depth)
        self._worker: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    def __getstate__(self) -> dict[str, Any]:
        """A copy in another process (a DataLoader worker) starts with no jobs of its own."""
        return {"name": self.name, "depth": self._jobs.maxsize, "threaded": self.threaded}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["depth"], state["threaded"])  # type: ignore[misc]

    def submit(self, job: Job) -> None:
        """Queue ``job``; waits while ``depth`` jobs are already waiting. Not ``threaded``: run it now."""
        self._raise_pending()
        if not self.threaded:
            job()
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._worker.start()
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait until every job submitted so far has run; raise the first unexpected error of one."""
        if self._worker is not None:
            self._jobs.join()
        self._raise_pending()

    def settle(self) -> None:
        """``drain`` when the run already stops on an error: that error is the one to report, so one
        raised by a job is dropped."""
        with suppress(Exception):
            self.drain()

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException as error:  # kept for the loop's thread: a worker has no one to tell
                if self._error is None:
                    self._error = error
            finally:
                self._jobs.task_done()


_DONE = object()


def ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced up to ``depth`` ahead of the consumer on a background thread: the next
    batch is decoded and resized (the next frame's optical flow computed) while the current one is
    dreamed. The order is the same; an error while producing is raised at the item it replaced.
    Closing the iterator early stops the producer and closes ``items``' iterator in its own thread.
    """
    made: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    # The producer pins memory for this process's GPU, not for device 0 (a thread starts on device 0).
    gpu = torch.cuda.current_device() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    def produce() -> None:
        if gpu is not None:
            torch.cuda.set_device(gpu)
        iterator = iter(items)
        try:
            for item in iterator:
                if not _offer(made, item, stop):
                    return
            _offer(made, _DONE, stop)
        except BaseException as error:  # handed over: raised where the item was expected
            _offer(made, _Failure(error), stop)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="dreamer-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item = made.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _offer(made: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Put ``item`` once there is room; ``False`` if the consumer stopped first."""
    while not stop.is_set():
        try:
            made.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
