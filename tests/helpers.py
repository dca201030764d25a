"""A test-only callback, loadable by class path from a config file, also in DDP child processes."""

from pathlib import Path

import lightning.pytorch as pl
import torch


class FloatDreams(pl.Callback):
    """Saves every finished dream as a float tensor ``<folder>/<name>.pt`` (no 8-bit rounding)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch["step"] != batch["steps"] - 1:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, image in zip(batch["names"], pl_module.image.detach().cpu()):
            torch.save(image.clone(), self.folder / (name.replace("/", "__") + ".pt"))


def sleep_writing_pid(args: list[str]) -> None:
    """A child process's entry (``dreamer.files.children``): write this process's id to ``args[0]``, then wait."""
    import os
    import time

    Path(args[0]).write_text(str(os.getpid()))
    time.sleep(120)
