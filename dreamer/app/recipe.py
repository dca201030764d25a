"""What the page was asked for: a preset, the settings that differ from it, and the files. The page
runs the spec of these (``Recipe.spec``) and shows the command line of the same settings
(``Recipe.command``): every value goes through the parser as the flag's text would, so the command
it shows makes the same pixels."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from dreamer.command.spec import RunSpec, default_of, spec_of
from dreamer.files.bundled import config_path, preset_names
from dreamer.files.sections import settings


def cli_text(value: Any) -> str:
    """A value as the command line writes it (``null``, ``true``, ``[6, 12]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# The form's settings, by dotted name; where a preset leaves one out, the parser's default holds.
SETTINGS = (
    "model.backbone",
    "model.layers",
    "model.channels",
    "octaves.count",
    "octaves.scale",
    "octaves.iterations",
    "model.lr",
    "octaves.alpha",
    "model.jitter.roll",
    "model.filters.laplacian_levels",
    "model.tile_size",
    "data.seed",
)
PHOTO_PRESETS = ("quickstart", "default", "clouds", "city", "portrait", "googlenet_classic", "caricature")


def preset(name: str) -> dict[str, Any]:
    """The bundled preset ``name`` as nested dicts."""
    return yaml.safe_load(config_path(name).read_text()) or {}


def preset_value(config: dict[str, Any], key: str) -> Any:
    """A dotted key's value in a preset (``data.seed`` for a data module by class path, too), or
    ``dreamer fit``'s default when the preset leaves it out."""
    section, *path = key.split(".")
    node: Any = settings(config, section)
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return default_of(key)
        node = node[part]
    return node


def photo_presets() -> list[str]:
    """The bundled presets that dream a photo, quickstart first."""
    bundled = set(preset_names())
    return [name for name in PHOTO_PRESETS if name in bundled]


@dataclass(frozen=True)
class Recipe:
    """A preset, the settings that differ from it (in the form's order) and the Trainer's options the
    page was started with (``--trainer.precision``)."""

    config: str
    settings: dict[str, Any] = field(default_factory=dict)
    trainer: tuple[str, ...] = ()

    @classmethod
    def from_form(cls, config: str, values: dict[str, Any], trainer: Sequence[str] = ()) -> Recipe:
        """Keep only what the form changed from the preset: the command stays short and readable."""
        base = preset(config)
        changed = {key: value for key, value in values.items() if not same(value, preset_value(base, key))}
        return cls(config, changed, tuple(trainer))

    def arguments(self, files: dict[str, str]) -> list[str]:
        """``--config … --key=value …`` with ``files`` (``{"data.images": "photo.jpg", …}``) last."""
        options = [f"--{key}={cli_text(value)}" for key, value in self.settings.items()]
        paths = [f"--{key}={value}" for key, value in files.items()]
        return ["--config", self.config, *options, *self.trainer, *paths]

    def spec(self, files: dict[str, str]) -> RunSpec:
        """The run: the preset with each setting, Trainer option and file read as its flag's text."""
        trainer = dict(option.removeprefix("--").split("=", 1) for option in self.trainer)
        return spec_of(
            self.config, {**{key: cli_text(value) for key, value in self.settings.items()}, **trainer, **files}
        )

    def command(self, files: dict[str, str]) -> str:
        """The ``dreamer fit …`` line that makes the same dream."""
        return shlex.join(["dreamer", "fit", *self.arguments(files)])


def same(value: Any, preset_value: Any) -> bool:
    """Whether a form value is the preset's (``11`` and ``"11"``, ``0.5`` and ``0.50`` are the same)."""
    if value is None or preset_value is None:
        return value is None and preset_value is None
    if isinstance(preset_value, (int, float)) and not isinstance(preset_value, bool):
        try:
            return float(value) == float(preset_value)
        except (TypeError, ValueError):
            return False
    return cli_text(value).replace(" ", "") == cli_text(preset_value).replace(" ", "")


def recipe_yaml(config_text: str, files: dict[str, str], drop: Sequence[str] = ()) -> str:
    """The resolved config the run saved, with the session's paths replaced by the names in ``files``
    (``dreamer fit --config recipe.yaml`` beside the photo makes the same dream) and the options in
    ``drop`` (``--trainer.logger=false``: the page's own, not the dream's) back at their defaults."""
    config = yaml.safe_load(config_text) or {}
    for option in drop:
        section, name = option.removeprefix("--").split("=")[0].split(".", 1)
        config.get(section, {}).pop(name, None)
    for key, value in files.items():
        section, name = key.split(".", 1)
        config.setdefault(section, {})
        settings(config, section)[name] = value
    return yaml.safe_dump(config, sort_keys=False)
