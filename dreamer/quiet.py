"""Silence, precisely, the messages that mean nothing to someone dreaming an image."""

from __future__ import annotations

import logging
import sys
import warnings

from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override


class _DropTips(logging.Filter):
    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡 Tip:")  # tips advertise services


def silence_known_noise() -> None:
    """Drop Lightning's advertising tips and warnings that are expected for a frozen backbone."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in logger.filters):
        logger.addFilter(_DropTips())
    # The backbone is in eval mode on purpose: its BatchNorm statistics must not change.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    # Emitted by Lightning's own pytree use with newer torch; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")
    # Nothing left to dream (all outputs exist, or all inputs failed): the run's summary says so.
    warnings.filterwarnings("ignore", message=r"Total length of `\w+` across ranks is zero")
    # The data loader is ours and sized to the batch; worker count is a user choice (data.num_workers).
    warnings.filterwarnings("ignore", message=r"The '\w+_dataloader' does not have many workers")


class _OnlyWarnings(logging.Filter):
    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_from_python() -> None:
    """From Python (a notebook): also Lightning's lines about the devices found and the fit's end,
    which a user of ``dream`` or ``run`` did not ask for (its warnings stay)."""
    silence_known_noise()
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _OnlyWarnings) for f in logger.filters):
        logger.addFilter(_OnlyWarnings())


@rank_zero_only
def warn(message: str) -> None:
    """One line on stderr, ``warning: <message>``, from rank 0 only: no file name, line or source."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
