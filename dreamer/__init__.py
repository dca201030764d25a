"""dreamer: DeepDream as a PyTorch Lightning program."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DreamDataModule", "DreamModule", "IndependentDDPStrategy", "dream", "silence_known_noise"]
__version__ = "0.1.0"

_HOMES = {
    "dream": "dreamer.api",
    "DreamDataModule": "dreamer.data",
    "DreamModule": "dreamer.module",
    "silence_known_noise": "dreamer.quiet",
    "IndependentDDPStrategy": "dreamer.strategy",
}


def __getattr__(name: str) -> Any:
    """Import on first use: ``import dreamer.videoio`` (say, in a video encoding process) must not
    pay for torch and Lightning."""
    if name not in _HOMES:
        raise AttributeError(f"module 'dreamer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
