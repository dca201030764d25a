"""dreamer: DeepDream as a PyTorch Lightning program."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DreamDataModule",
    "DreamListener",
    "DreamModule",
    "IndependentDDPStrategy",
    "Octaves",
    "dream",
    "run",
    "silence_known_noise",
    "wire",
]
__version__ = "0.3.0"

_HOMES = {
    "dream": "dreamer.command.api",
    "run": "dreamer.command.api",
    "DreamDataModule": "dreamer.photos.data",
    "DreamModule": "dreamer.engine.module",
    "DreamListener": "dreamer.engine.contract.events",
    "silence_known_noise": "dreamer.quiet",
    "IndependentDDPStrategy": "dreamer.engine.strategy",
    "Octaves": "dreamer.engine.contract.octaves",
    "wire": "dreamer.command.wiring",
}


def __getattr__(name: str) -> Any:
    """Import on first use: ``import dreamer.motion.videoio`` (say, in a video encoding process) must not
    pay for torch and Lightning."""
    if name not in _HOMES:
        raise AttributeError(f"module 'dreamer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
