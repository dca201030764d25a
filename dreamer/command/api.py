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
from dreamer.quiet import quiet_from_python

# Keywords by section; an earlier name (``octaves=2``, ``alpha=0.5``) is the model's, read in today's
# name by the upgrade step like the flag it becomes.
_MODEL_ARGS = set(inspect.signature(DreamModule.__init__).parameters) - {"self"} | OLD_MODEL_KEYS
_DATA_ARGS = set(inspect.signature(DreamDataModule.__init__).parameters) - {"self", "images", "output"}


IN_MEMORY = "input.png"  # the name a picture handed over in memory dreams under (it seeds the jitter)


def _dotted(key: str) -> str:
    """A keyword of ``dream`` as a dotted setting: the model's, the data's, else the Trainer's."""
    if "." in key:
        return key
    section = "model" if key in _MODEL_ARGS else "data" if key in _DATA_ARGS else "trainer"
    return f"{section}.{key}"


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
    from dreamer.command.spec import Runtime, spec_of

    quiet_from_python()
    with tempfile.TemporaryDirectory(prefix="dreamer-") as folder:
        target = Path(folder) / "dream.png"
        settings = {"logger": False, "enable_progress_bar": True, **overrides}
        spec = spec_of(str(config), {_dotted(key): _value(value) for key, value in settings.items()})
        spec.set({"data.output": str(target), "data.overwrite": True})
        if isinstance(image, (str, Path)):
            spec.set({"data.images": str(image)})
        else:  # a picture in memory: handed to the run as it is, under the name that seeds its jitter
            picture = to_image(image) if isinstance(image, Tensor) else image
            spec.set({"data.images": IN_MEMORY}).runtime = Runtime(pictures={IN_MEMORY: picture})
        ran = execute(spec)
        if ran.error is not None or ran.cli is None:
            raise ConfigError(str(ran.error))
        failed = outcome(ran.cli).failed
        if failed or not target.is_file():
            raise ConfigError(
                failed[0]
                if failed
                else f"{image if isinstance(image, (str, Path)) else IN_MEMORY}: no dream was produced"
            )
        with Image.open(target) as result:
            return result.copy()


def run(config: Union[str, Path] = "quickstart", **overrides: Any) -> Any:
    """Run any preset or YAML file (photos, a zoom, a video, an atlas, classes) as ``dreamer fit``
    does, and return what it wrote as ``Dreamed``, which a notebook shows inline (a video plays, a
    contact sheet or a picture is shown, as small previews).

    ``overrides`` are settings by name, as for ``dream`` (``layers=7``, ``iterations=4``); names that
    are neither the model's nor the Trainer's are the data's (``frames=8``, ``size=64``), and any
    setting may be given by dotted path (``**{"data.channels": "0-7"}``: ``channels`` alone is the
    model's). Nothing is printed: the progress bar is the only output.

    Raises:
        ConfigError: a bad setting or an input that could not be dreamed, in one line.
    """
    from dreamer.command.report import outcome
    from dreamer.command.runner import execute
    from dreamer.command.shown import Dreamed
    from dreamer.command.spec import spec_of

    quiet_from_python()
    settings = {"logger": False, "enable_progress_bar": True, **overrides}
    ran = execute(spec_of(str(config), {_any_dotted(key): _value(value) for key, value in settings.items()}))
    if ran.error is not None or ran.cli is None:
        raise ConfigError(str(ran.error))
    done = outcome(ran.cli)
    if done.failed:
        raise ConfigError(done.failed[0])
    return Dreamed([*done.written, *done.also_written], list(done.sheets))


def _any_dotted(key: str) -> str:
    """A keyword of ``run`` as a dotted setting: the model's, the Trainer's, else the data's."""
    if "." in key or key in _MODEL_ARGS:
        return _dotted(key)
    return f"{'trainer' if key in _trainer_args() else 'data'}.{key}"


def _value(value: Any) -> Any:
    """A keyword's value as a setting takes it (a path as its text)."""
    return str(value) if isinstance(value, Path) else value


def _trainer_args() -> set[str]:
    import lightning.pytorch as pl

    return set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
