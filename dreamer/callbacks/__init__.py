"""Callbacks that turn a Trainer run into a DeepDream run."""

from dreamer.callbacks.octaves import OctaveSchedule
from dreamer.callbacks.writer import DreamWriter

__all__ = ["DreamWriter", "OctaveSchedule"]
