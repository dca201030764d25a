"""``dream(image, config="clouds", **overrides)``: the CLI's run, from Python, returning a PIL image."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any, Union

from PIL import Image
from torch import Tensor

from dreamer.engine.module import DreamModule
from dreamer.errors import ConfigError
from dreamer.files.earlier import OLD_MODEL_KEYS
from dreamer.files.imageio import to_image
from dreamer.photos.data import DreamDataModule
from dreamer.quiet import silence_known_noise

# Keywords by section; an earlier name (``octaves=2``, ``alpha=0.5``) is the model's, read in today's
# name by the upgrade step like the flag it becomes.
_MODEL_ARGS = set(inspect.signature(DreamModule.__init__).parameters) - {"self"} | OLD_MODEL_KEYS
_DATA_ARGS = set(inspect.signature(DreamDataModule.__init__).parameters) - {"self", "images", "output"}


def cli_text(value: Any) -> str:
    """A value as the command line writes it (``null``, ``true``, ``[6, 12]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _argument(key: str, value: Any) -> str:
    section = "model" if key in _MODEL_ARGS else "data" if key in _DATA_ARGS else "trainer"
    key = key if "." in key else f"{section}.{key}"
    return f"--{key}={cli_text(value)}"


def dream(
    image: Union[str, Path, Image.Image, Tensor], config: Union[str, Path] = "quickstart", **overrides: Any
) -> Image.Image:
    """Dream one image with a preset (``"clouds"``) or YAML file, and return the dream.

    ``overrides`` are any model, data or trainer settings by name (``lr=0.05``, ``layers=[6, 30]``,
    ``precision="bf16-mixed"``), the octave walk's by its earlier names (``octaves=4``,
    ``iterations=5``, ``alpha=0.5``), or any setting by dotted path (``**{"octaves.scale": 1.6}``). The run is the
    CLI's: the same LightningCLI parser, LightningModule, Callbacks and Trainer. ``image`` is a path,
    a PIL image or a ``[3, H, W]`` tensor in [0, 1]. No logs are written unless ``logger=True``.

    Raises:
        ConfigError: a bad setting or an input that could not be dreamed, in one line.
    """
    from dreamer.command.report import outcome
    from dreamer.command.runner import execute  # torch and Lightning: only when a dream is asked for

    silence_known_noise()
    with tempfile.TemporaryDirectory(prefix="dreamer-") as folder:
        source = Path(folder) / "input.png"
        if isinstance(image, (str, Path)):
            source = Path(image)
        elif isinstance(image, Tensor):
            to_image(image).save(source)
        else:
            image.save(source)
        target = Path(folder) / "dream.png"
        settings = {"logger": False, "enable_progress_bar": True, **overrides}
        args = [
            "--config",
            str(config),
            f"--data.images={source}",
            f"--data.output={target}",
            "--data.overwrite=true",
            *(_argument(k, v) for k, v in settings.items()),
        ]
        ran = execute(args)
        if ran.error is not None or ran.cli is None:
            raise ConfigError(str(ran.error))
        failed = outcome(ran.cli).failed
        if failed or not target.is_file():
            raise ConfigError(failed[0] if failed else f"{source}: no dream was produced")
        with Image.open(target) as result:
            return result.copy()
