"""A run as typed settings: what every entry point builds and ``execute`` runs.

Text — the command line, a preset, a YAML file, a recipe after its gate — becomes a ``RunSpec``
through the one parser of ``dreamer fit`` (``spec_from``, ``spec_of``), with every default in that
parser. ``dream()``, ``run()``, sweeps, the page and Live take a spec and change it by attribute
(``spec.model.lr = 0.05``, ``spec.data.images = "cat.jpg"``) or by dotted name (``spec.set``), and
hand it to ``execute``, which checks it again as the parser would; none of them writes argv or YAML
to reach the engine. What is never written out — the page's listeners, Live's camera — rides in
``Runtime``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.cli import LightningArgumentParser

from dreamer.command.configs import config_files, resolved_content, with_resolved_configs
from dreamer.command.parser import parser_of_dreams
from dreamer.command.parsing import closest_option, one_line
from dreamer.command.trust import trust_of
from dreamer.errors import ConfigError
from dreamer.files.bundled import config_path
from dreamer.files.earlier import upgraded, upgraded_args, upgraded_setting
from dreamer.files.recipes import RECIPE_SUFFIXES
from dreamer.files.sections import nested_key


@dataclass(frozen=True)
class Runtime:
    """What a run is handed that no config holds: listeners of the run (the page's preview), Live's
    camera (the object itself, never a name to look up) and pictures in memory (``dream()``'s PIL
    images and tensors, by name: never written to disk)."""

    callbacks: Sequence[pl.Callback] = ()
    camera: Optional[Any] = None
    pictures: Optional[Mapping[str, Any]] = None


@dataclass
class RunSpec:
    """One dream run: ``config``, the parser's typed settings by section (``model``, ``data``,
    ``octaves``, ``trainer``, ``image_logger``, ``animation``, ``embed_recipe``); the config files
    it was read from (inputs a run never writes to); what it was parsed from (``text``: to name a
    recipe in an error); and its ``runtime``."""

    config: Namespace
    protected: tuple[Path, ...] = ()
    text: tuple[str, ...] = ()
    runtime: Runtime = field(default_factory=Runtime)

    @property
    def model(self) -> Namespace:
        return self.config.model

    @property
    def data(self) -> Namespace:
        """The data module's settings (``data_class`` says which module)."""
        return self.config.data.init_args

    @property
    def data_class(self) -> str:
        return str(self.config.data.class_path)

    @property
    def octaves(self) -> Namespace:
        return self.config.octaves

    @property
    def trainer(self) -> Namespace:
        return self.config.trainer

    def set(self, settings: Mapping[str, Any]) -> RunSpec:
        """The settings given by dotted name (``{"model.lr": 0.05, "data.images": "cat.jpg"}``), set
        and checked as the parser checks them.

        Raises:
            ConfigError: a setting that does not exist or a value it does not take, in one line.
        """
        nested: dict[str, Any] = {}
        for given, value in settings.items():
            dotted, value = upgraded_setting(given, value)  # an earlier dreamer's name, as a flag's
            *groups, key = nested_key(dotted).split(".")
            node = nested
            for group in groups:
                node = node.setdefault(group, {})
            node[key] = value
        try:
            self.config = dream_parser().parse_object(nested, namespace=self.config)
        except ArgumentError as error:
            raise ConfigError(reason_of(error)) from None
        return self

    def copy(self) -> RunSpec:
        """Another spec with the same settings, to change without changing this one."""
        return replace(self, config=self.config.clone())

    def with_runtime(self, **runtime: Any) -> RunSpec:
        return replace(self, runtime=replace(self.runtime, **runtime))


def spec_from(args: Sequence[str]) -> RunSpec:
    """The spec ``dreamer fit``'s arguments (without ``fit``) describe: ``--config`` a preset's name,
    a YAML file (its relative inputs relative to it) or a recipe (through its gate), then the flags.
    ``--help`` and ``--print_config`` print and exit, as they do anywhere.

    Raises:
        ConfigError: a bad option, value or config, in one line (naming the closest options of a
            misspelled one, and the dream file whose recipe set a bad value).
    """
    args = list(args)
    try:
        config = dream_parser().parse_args(with_resolved_configs(args))
    except ArgumentError as error:
        reason = reason_of(error)
        raise ConfigError(from_recipe(reason, args)) from None
    return RunSpec(config, tuple(config_files(args)), tuple(args))


def spec_of(config: str, settings: Optional[Mapping[str, Any]] = None, **runtime: Any) -> RunSpec:
    """A preset's, config file's or dream's spec (as ``--config`` reads it: a recipe through its gate)
    with ``settings`` set by dotted name and ``runtime`` (``callbacks``, ``camera``) handed over.

    Raises:
        ConfigError: a config that cannot be read or a setting it does not take, in one line.
    """
    spec = spec_of_content(resolved_content(config), [config_path(config)])
    return spec.set(settings or {}).with_runtime(**runtime)


def spec_of_content(content: Mapping[str, Any], protected: Sequence[Path] = ()) -> RunSpec:
    """The spec of a config's mapping (read and resolved already: a sweep's base, Live's settings),
    read as a config file would be: earlier dreamers' names in today's.

    Raises:
        ConfigError: a bad setting or value, in one line.
    """
    try:
        config = dream_parser().parse_object(upgraded(dict(content)))
    except ArgumentError as error:
        raise ConfigError(reason_of(error)) from None
    return RunSpec(config, tuple(protected))


def with_flags(spec: RunSpec, args: Sequence[str]) -> RunSpec:
    """``spec`` with the command line's flags ``args`` on top (``--octaves.count 2``), as
    ``dreamer fit`` reads them after its ``--config``.

    Raises:
        ConfigError: a bad option or value, in one line.
    """
    args = upgraded_args(trust_of(args)[0])
    try:
        config = dream_parser().parse_args(args, namespace=spec.config.clone())
    except ArgumentError as error:
        raise ConfigError(reason_of(error)) from None
    return replace(spec, config=config, text=(*spec.text, *args))


def from_recipe(reason: str, args: Sequence[str]) -> str:
    """``reason`` (``model.lr: Expected a float …``) naming the dream file whose recipe set that option,
    where a ``--config`` is a dream's file and the option was not given on the command line."""
    option = reason.split(":", 1)[0].strip()
    given = any(arg == f"--{option}" or arg.startswith(f"--{option}=") for arg in args)
    recipes = [path for path in config_files(args) if path.suffix.lower() in RECIPE_SUFFIXES]
    if not recipes or given or "." not in option or " " in option:
        return reason
    return f"--config {recipes[-1]}: its recipe's {reason}"


def reason_of(error: ArgumentError) -> str:
    """The parser's many-line message as one line, naming the closest options of a misspelled one."""
    return closest_option(one_line(str(error)), option_names())


@functools.cache
def dream_parser() -> LightningArgumentParser:
    """``dreamer fit``'s parser, built once: every option, its type and its default."""
    return parser_of_dreams()


def default_of(dotted: str) -> Any:
    """A setting's default as ``dreamer fit``'s parser holds it (``data.seed``: the photos' data
    module's); ``None`` for a setting it does not know."""
    return _defaults().get(nested_key(dotted))


@functools.cache
def _defaults() -> Namespace:
    return dream_parser().get_defaults()


@functools.cache
def option_names() -> list[str]:
    """Every option ``dreamer fit`` takes, dotted (``model.layers``), the data modules' included."""
    from dreamer.command.trust import DATA_MODULES, parameters

    parser = dream_parser()
    names = {name[2:] for action in parser._actions for name in action.option_strings if name.startswith("--")}
    names |= {f"data.{name}" for cls in DATA_MODULES for name in parameters(cls)}
    return sorted({name.rstrip("+") for name in names if not name.endswith(".help")})
