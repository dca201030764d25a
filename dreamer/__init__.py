"""dreamer: DeepDream as a PyTorch Lightning program."""

from dreamer.api import dream
from dreamer.data import DreamDataModule
from dreamer.module import DreamModule
from dreamer.quiet import silence_known_noise
from dreamer.strategy import IndependentDDPStrategy

__all__ = ["DreamDataModule", "DreamModule", "IndependentDDPStrategy", "dream", "silence_known_noise"]
__version__ = "0.1.0"
