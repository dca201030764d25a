"""dreamer: DeepDream as a PyTorch Lightning program."""

from dreamer.data import DreamDataModule
from dreamer.module import DreamModule

__all__ = ["DreamDataModule", "DreamModule"]
__version__ = "0.1.0"
