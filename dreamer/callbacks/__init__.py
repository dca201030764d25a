"""Callbacks that turn a Trainer run into a DeepDream run."""

from dreamer.callbacks.image_logger import DreamImageLogger
from dreamer.callbacks.metrics import DreamMetrics
from dreamer.callbacks.octaves import OctaveSchedule
from dreamer.callbacks.progress import DreamProgressBar
from dreamer.callbacks.writer import DreamWriter

__all__ = ["DreamImageLogger", "DreamMetrics", "DreamProgressBar", "DreamWriter", "OctaveSchedule"]
