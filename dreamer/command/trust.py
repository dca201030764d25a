"""A dream from someone else is data: the gate every recipe passes before the parser or any import.

A recipe (inside a picture or a video, or a YAML file whose first line is ``# written by dreamer``)
may set the dream's own options and nothing else:

- **Options**: the sections of a dream (``model``, ``data``, ``octaves``, ``image_logger``,
  ``animation``, ``embed_recipe``, ``seed_everything``; a sheet's ``sweep``) and, in each, only the
  parameters of dreamer's own classes. Class paths only from fixed lists: dreamer's data modules
  (``DATA_MODULES``) and optimizers (``OPTIMIZERS``); never a callback, a logger, a plugin, a
  strategy object or any other class. Where the dream goes (``data.output``, ``data.overwrite``) is
  the user's: a recipe's is left out.
- **The Trainer**: every option at dreamer's default, except those that change the pixels
  (``PIXELS``), where it runs by registered name or number (``PLACES``) and what it shows (``SHOWN``:
  progress bar, logger on or off); the command line overrides any of them.
- **The network**: by torchvision, timm or clip (open_clip) name. A class path from a recipe is never imported. A
  network file (``nets.py:Net``) is imported only with ``--import_recipe_network`` (then only the
  file of that name beside the recipe, with the recorded SHA-256) or when the user names it on the
  command line (its SHA-256 still checked against the recipe's).
- **Files**: every file a setting reads (``FILE_SETTINGS``, direction files in the objective) must be
  pinned in ``recipe.inputs`` with its SHA-256 and is checked before any work; a relative path must
  stay inside the recipe's folder once resolved (links included); an absolute one is read as
  recorded. A setting the command line gives is the user's own and is not the recipe's to pin.

Anything refused is one line naming the setting and why (``ConfigError``: exit 2, before any work).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl

from dreamer.engine.climb.objectives import direction_sources
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.module import DreamModule
from dreamer.engine.optim import NormalizedGD
from dreamer.errors import ConfigError
from dreamer.explore.atlas import AtlasDataModule
from dreamer.explore.classes import ClassesDataModule
from dreamer.files.bundled import INPUT_KEYS
from dreamer.files.earlier import upgraded_args
from dreamer.files.recipes import sha256
from dreamer.files.sections import plain_key
from dreamer.files.sections import settings as settings_of
from dreamer.motion.timeline import Timeline
from dreamer.motion.video import VideoDataModule
from dreamer.motion.zoom import ZoomDataModule
from dreamer.photos.data import DreamDataModule
from dreamer.watch.image_logger import DreamImageLogger

FLAG = "--import_recipe_network"
# The Trainer's settings of every dream (the command line's defaults over Lightning's).
TRAINER_DEFAULTS: dict[str, Any] = {
    "max_epochs": 1,  # one epoch = every image dreamed through all its octaves
    "enable_checkpointing": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 10,
}
PIXELS = ("precision", "deterministic", "benchmark")  # Trainer options a recipe may set: they change the pixels
# Where it runs and what it shows: a recipe may say, by name or number only (the command line overrides).
SHOWN: dict[str, type] = {"logger": bool, "enable_progress_bar": bool, "enable_model_summary": bool}
SHOWN["log_every_n_steps"] = int
PLACES = ("accelerator", "strategy", "devices", "num_nodes")
WHERE_IT_GOES = ("output", "overwrite")  # data settings a recipe never carries: left out where one does
DATA_MODULES = (DreamDataModule, VideoDataModule, ZoomDataModule, AtlasDataModule, ClassesDataModule)
OPTIMIZERS = (f"{NormalizedGD.__module__}.NormalizedGD",) + tuple(
    f"torch.optim.{name}" for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam")
)
SECTIONS: dict[str, type] = {"octaves": Octaves, "image_logger": DreamImageLogger, "animation": Timeline}
TOP = {"recipe", "seed_everything", "trainer", "model", "data", "embed_recipe", *SECTIONS}
FILE_SETTINGS = sorted(f"{section}.{key}" for section, key in INPUT_KEYS)


@dataclass(frozen=True)
class Trust:
    """What the user said on the command line: ``--import_recipe_network``, and the settings given
    there (dotted name → value as given), which are the user's own, not the recipe's."""

    import_network: bool = False
    given: Mapping[str, str] = field(default_factory=dict)


TRUST_NOTHING = Trust()  # no opt-in, nothing given on the command line


def trust_of(args: Sequence[str]) -> tuple[list[str], Trust]:
    """``args`` without ``--import_recipe_network`` (``[=true|false]``), and what they trust."""
    rest: list[str] = []
    opt_in, skip = False, False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        flag, equals, value = arg.partition("=")
        if flag != FLAG:
            rest.append(arg)
            continue
        following = args[index + 1] if index + 1 < len(args) else ""
        if not equals and following.lower() in ("true", "false"):
            value, skip = following, True
        if value.lower() not in ("", "true", "false") or (equals and not value):
            raise ConfigError(f"{FLAG}: expected true or false (or the flag alone), got {value!r}")
        opt_in = value.lower() != "false"
    return rest, Trust(opt_in, given_settings(rest))


def given_settings(args: Sequence[str]) -> dict[str, str]:
    """The settings ``args`` give (``model.backbone`` → ``nets.py:Net``), ``--config`` aside."""
    given: dict[str, str] = {}
    upgraded = upgraded_args(args)
    for index, arg in enumerate(upgraded):
        flag, equals, value = arg.partition("=")
        if not flag.startswith("--") or flag in ("--config", "--print_config"):
            continue
        if not equals:
            value = upgraded[index + 1] if index + 1 < len(upgraded) else ""
        given[plain_key(flag[2:])] = value
    return given


def admitted(content: dict[str, Any], origin: Path, trust: Trust, sweep: bool = False) -> dict[str, Any]:
    """``content`` (a recipe's config, in today's names) once checked: its options and Trainer
    options allowed, where its dream goes left out, its network allowed or refused, its files
    found where they are pinned (each setting then names the file checked).

    Raises:
        ConfigError: a setting a recipe may not make, in one line naming ``origin`` and the setting.
    """
    where = f"--config {origin}: its recipe"
    unknown = sorted(set(content) - TOP - ({"sweep"} if sweep else set()))
    if unknown:
        raise ConfigError(f"{where} sets {unknown[0]!r}, which is not a dream's option; refused")
    _options(content, where)
    for key in WHERE_IT_GOES:  # the user's to say (the default folder, or --data.output)
        settings_of(content, "data").pop(key, None)
    _trainer(content, where)
    grid = content.get("sweep")
    for dotted, values in grid.items() if isinstance(grid, dict) else []:
        _not_a_file_or_a_class(dotted, values, f"{where}'s sweep")
    keyframes = settings_of(content, "animation").get("keyframes")
    for frame in keyframes.values() if isinstance(keyframes, dict) else []:
        for dotted, value in frame.items() if isinstance(frame, dict) else []:
            _not_a_file_or_a_class(dotted, value, f"{where}'s animation.keyframes")
    pins = _pins(content, where)
    _network(content, origin, trust, pins, where)
    _files(content, origin, trust, pins, where)
    return content


def parameters(cls: type) -> set[str]:
    """What ``cls`` takes: its own parameters, and its bases' where it passes ``**kwargs`` on."""
    names: set[str] = set()
    for klass in cls.__mro__:
        parameters = inspect.signature(klass.__init__).parameters  # type: ignore[misc]
        names |= {name for name, p in parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            break
    return names - {"self"}


def _names(cls: type) -> set[str]:
    """The names a class path may give ``cls`` by: its own, dreamer's alias, its module's."""
    return {cls.__name__, f"dreamer.{cls.__name__}", f"{cls.__module__}.{cls.__name__}"}


def _options(content: dict[str, Any], where: str) -> None:
    """Every section's keys are its class's parameters; class paths only from the fixed lists."""
    model, data = content.get("model"), content.get("data")
    if isinstance(model, dict) and "class_path" in model and model["class_path"] not in _names(DreamModule):
        raise ConfigError(f"{where} sets model.class_path {model['class_path']!r}: a recipe dreams with DreamModule")
    modules = {name: cls for cls in DATA_MODULES for name in _names(cls)}
    data_class: type = DreamDataModule
    if isinstance(data, dict) and "class_path" in data:
        if data["class_path"] not in modules:
            known = ", ".join(cls.__name__ for cls in DATA_MODULES)
            raise ConfigError(f"{where} sets data.class_path {data['class_path']!r}: a recipe may use {known}")
        data_class = modules[data["class_path"]]
    for section, cls in {"model": DreamModule, "data": data_class, **SECTIONS}.items():
        unknown = sorted(set(settings_of(content, section)) - parameters(cls))
        if unknown:
            raise ConfigError(f"{where} sets {section}.{unknown[0]}, which {cls.__name__} does not take; refused")
    settings = settings_of(content, "model")
    optimizer = settings.get("optimizer")
    if isinstance(optimizer, dict):
        path = str(optimizer.get("class_path", ""))
        if not any(path in (known, known.rpartition(".")[2]) for known in OPTIMIZERS):
            names = ", ".join(known.rpartition(".")[2] for known in OPTIMIZERS)
            raise ConfigError(f"{where} sets model.optimizer {path!r}: a recipe may use {names}; refused")
    for section in ("model", "data", *SECTIONS):
        for dotted, value in _walk(settings_of(content, section), section):
            if (
                isinstance(value, dict)
                and "class_path" in value
                and dotted not in ("model.optimizer", "model.backbone")
            ):
                raise ConfigError(f"{where} sets a class path at {dotted} ({value['class_path']}); refused")


def _walk(settings: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in settings.items():
        yield f"{prefix}.{key}", value
        if isinstance(value, dict):
            yield from _walk(value, f"{prefix}.{key}")


def _trainer(content: dict[str, Any], where: str) -> None:
    """The Trainer's options at dreamer's defaults but ``PIXELS``; the user's (``YOURS``) left out."""
    trainer = content.get("trainer")
    if trainer is None:
        return
    if not isinstance(trainer, dict):
        raise ConfigError(f"{where} sets trainer to {trainer!r}, not a mapping of options; refused")
    defaults = {
        name: parameter.default for name, parameter in inspect.signature(pl.Trainer.__init__).parameters.items()
    }
    defaults.update(TRAINER_DEFAULTS)
    for name, value in trainer.items():
        if name not in defaults or name == "self":
            raise ConfigError(f"{where} sets trainer.{name}, which is not a Trainer option; refused")
        if value == defaults[name] and not isinstance(value, dict):
            continue
        if name in PIXELS and (value is None or isinstance(value, (bool, int, float, str))):
            continue
        if name in SHOWN and type(value) is SHOWN[name]:
            continue
        if name in PLACES and _a_place(name, value):
            continue
        raise ConfigError(
            f"{where} sets trainer.{name} to {value!r}: a recipe may change only "
            f"{', '.join('trainer.' + n for n in PIXELS)}, where it runs ({', '.join(PLACES)}, by name) and what "
            "it shows (progress bar, logger on or off); refused"
        )


def _a_place(name: str, value: Any) -> bool:
    """Whether ``value`` names where a run happens without naming a class: a registered accelerator
    or strategy, a count or list of devices."""
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    if name == "accelerator":
        return value in ("auto", "gpu", *AcceleratorRegistry.available_accelerators())
    if name == "strategy":
        return value in ("auto", *StrategyRegistry.available_strategies())
    if isinstance(value, list):
        return all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    if isinstance(value, str):
        return value == "auto" or all(part.strip().lstrip("-").isdigit() for part in value.split(",") if part.strip())
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Pin:
    setting: str
    path: str
    sha256: str


def _pins(content: dict[str, Any], where: str) -> list[_Pin]:
    made = content.get("recipe")
    entries = made.get("inputs") if isinstance(made, dict) else None
    pins = []
    for entry in entries or []:
        if not (isinstance(entry, dict) and {"setting", "path", "sha256"} <= set(entry)):
            raise ConfigError(f"{where}'s recipe.inputs holds {entry!r}: each needs its setting, path and sha256")
        pins.append(_Pin(str(entry["setting"]), str(entry["path"]), str(entry["sha256"])))
    return pins


def _found(pin: _Pin, origin: Path, where: str) -> Path:
    """Where ``pin``'s file is, checked: inside the recipe's folder for a relative path (links
    resolved), as recorded for an absolute one, and the same SHA-256."""
    path = Path(pin.path).expanduser()
    folder = origin.parent.resolve()
    if not path.is_absolute():
        path = (folder / path).resolve()
        if not path.is_relative_to(folder):
            raise ConfigError(
                f"{where}'s {pin.setting} ({pin.path}) leads out of the recipe's folder {folder}; refused"
            )
    if not path.is_file():
        raise ConfigError(f"--config {origin}: its input {path} is not there ({pin.setting})")
    if sha256(path) != pin.sha256:
        raise ConfigError(f"--config {origin}: {path} is not the file it was dreamed from (its SHA-256 differs)")
    return path


def _network(content: dict[str, Any], origin: Path, trust: Trust, pins: list[_Pin], where: str) -> None:
    """A network by name passes; a class path never; a file only as the user says (``Trust``)."""
    settings = settings_of(content, "model")
    backbone = settings.get("backbone")
    reference = str(backbone.get("class_path", "")) if isinstance(backbone, dict) else backbone
    if (
        not isinstance(reference, str)
        or reference.startswith(("timm:", "clip:"))  # names: their libraries build them, importing nothing
        or (":" not in reference and "." not in reference)
    ):
        return
    given = trust.given.get("model.backbone") or trust.given.get("model.backbone.class_path")
    if ":" not in reference:
        if given:
            return  # the user's own network replaces it
        raise ConfigError(
            f"{where} names the network {reference}, a class path: a recipe never imports one (nothing was); "
            f"if you trust it, name it yourself: --model.backbone {reference}"
        )
    file, _, name = reference.rpartition(":")
    pin = next((pin for pin in pins if pin.setting == "model.backbone"), None)
    if pin is None:
        raise ConfigError(f"{where} names the network file {file} without its SHA-256 in recipe.inputs; refused")
    if given:  # the user names the file: theirs to import, but it must be the one the dream was made with
        mine = Path(given.rpartition(":")[0]).expanduser()
        if mine.is_file() and sha256(mine) != pin.sha256:
            raise ConfigError(f"--model.backbone {given}: {mine} is not the network the dream was made with")
        return
    beside = origin.parent / Path(pin.path).name
    if not trust.import_network:
        raise ConfigError(
            f"{where}'s network is a Python file ({Path(file).name}:{name}), which runs its code: nothing was "
            "imported. "
            f"To import it, put {Path(file).name} beside {origin.name} and add {FLAG} (its SHA-256 is checked), "
            f"or name it yourself: --model.backbone {Path(file).name}:{name}"
        )
    path = _found(_Pin(pin.setting, beside.name, pin.sha256), origin, where)
    value = f"{path}:{name}"
    if isinstance(backbone, dict):
        backbone["class_path"] = value
    else:
        settings["backbone"] = value


def _files(content: dict[str, Any], origin: Path, trust: Trust, pins: list[_Pin], where: str) -> None:
    """Every file setting is pinned and checked, and reads the file checked; the user's own aside."""
    for dotted in FILE_SETTINGS:
        section, key = dotted.split(".", 1)
        holder, value = _holder(content, section, key)
        if holder is None or value is None or value == "imagenet" or dotted in trust.given:
            continue
        pin = next((pin for pin in pins if pin.setting == dotted), None)
        if pin is None and "recipe" not in content:  # a config saved beside a dream by dreamer 0.2.0
            raise ConfigError(
                f"{where}'s {dotted} ({value}) is not pinned: a config that dreamer 0.2.0 saved pins no file, and "
                "a file dreamer wrote is read as someone else's; if it is your own, delete its first line "
                "('# written by dreamer …') to run it as your own config"
            )
        if pin is None:
            raise ConfigError(
                f"{where}'s {dotted} ({value}) is not pinned in recipe.inputs with its SHA-256: a recipe reads "
                "only the files it pins; refused"
            )
        holder[key.rpartition(".")[2]] = str(_found(pin, origin, where))
    settings = settings_of(content, "model")
    objective = settings.get("objective")
    if not isinstance(objective, str) or "model.objective" in trust.given:
        return
    for source in direction_sources(objective):
        pin = next((pin for pin in pins if pin.setting == "model.objective" and pin.path == source), None)
        if pin is None:
            raise ConfigError(f"{where}'s model.objective reads {source}, which recipe.inputs does not pin; refused")
        objective = objective.replace(source, str(_found(pin, origin, where)))
    settings["objective"] = objective


def _holder(content: dict[str, Any], section: str, key: str) -> tuple[Optional[dict[str, Any]], Any]:
    """The mapping that holds ``section.key`` (``model``, ``guide.image``) and its value."""
    holder: Any = settings_of(content, section)
    *groups, last = key.split(".")
    for group in groups:
        holder = holder.get(group) if isinstance(holder, dict) else None
    if not isinstance(holder, dict):
        return None, None
    return holder, holder.get(last)


def pinned_inputs(content: dict[str, Any]) -> list[tuple[str, Path]]:
    """The files a run's config (resolved: absolute paths) reads, which every recipe of the run pins:
    each file setting's (a folder of photos is not one: each dream pins its own photo), the
    network's file, the objective's direction files."""
    found = []
    for dotted in FILE_SETTINGS:
        _, value = _holder(content, *dotted.split(".", 1))
        if isinstance(value, str) and value != "imagenet" and Path(value).is_file():
            found.append((dotted, Path(value)))
    settings = settings_of(content, "model")
    backbone = settings.get("backbone")
    reference = backbone.get("class_path") if isinstance(backbone, dict) else backbone
    if isinstance(reference, str) and ":" in reference and not reference.startswith(("timm:", "clip:")):
        file = Path(reference.rpartition(":")[0])
        if file.is_file():
            found.append(("model.backbone", file))
    objective = settings.get("objective")
    for source in direction_sources(objective) if isinstance(objective, str) else []:
        if Path(source).is_file():
            found.append(("model.objective", Path(source)))
    return found


def _not_a_file_or_a_class(dotted: str, value: Any, where: str) -> None:
    """A sweep's or keyframe's setting: no file, no network, no Trainer option, no class path."""
    if dotted in FILE_SETTINGS or dotted.startswith(("model.backbone", "trainer.", "data.class_path")):
        raise ConfigError(f"{where} sets {dotted}: only settings that read no file and import nothing; refused")
    values = value if isinstance(value, list) else [value]
    if any(isinstance(item, dict) for item in values):
        raise ConfigError(f"{where} sets {dotted} to a mapping; refused")
    if dotted == "model.objective" and any(direction_sources(str(item)) for item in values):
        raise ConfigError(f"{where} sets model.objective to one that reads a file; refused")
