"""Helpers the tests share: a test-only callback (loadable by class path from a config file, also in
DDP child processes), a child entry point, a free port."""

import socket
from pathlib import Path

import lightning.pytorch as pl
import torch

from dreamer.engine.contract.events import DreamListener


class FloatDreams(pl.Callback, DreamListener):
    """Saves every finished dream as a float tensor ``<folder>/<name>.pt`` (no 8-bit rounding): a
    listener among the Trainer's callbacks, which ``wire`` subscribes to the dream's events."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_dream_end(self, trainer, dream, images) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, image in zip(dream.batch.names, images.cpu()):
            torch.save(image.clone(), self.folder / (name.replace("/", "__") + ".pt"))


def sleep_writing_pid(args: list[str]) -> None:
    """A child process's entry (``dreamer.files.children``): write this process's id to ``args[0]``, then wait."""
    import os
    import time

    Path(args[0]).write_text(str(os.getpid()))
    time.sleep(120)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
