"""How ``--config`` values become YAML for the parser: a preset by name, a YAML file (its relative
input paths relative to it), or a dream's file (its recipe); a recipe — from a dream, or a YAML file
dreamer wrote — only through the gate (``trust.admitted``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dreamer import __version__
from dreamer.command.trust import TRUST_NOTHING, Trust, admitted, trust_of
from dreamer.errors import ConfigError
from dreamer.files.bundled import anchored_inputs, config_path, read_yaml
from dreamer.files.earlier import upgraded, upgraded_args
from dreamer.files.recipes import RECIPE_SUFFIXES, check_version, recipe_config, written_by_dreamer


def resolved_content(config: str, sweep: bool = False, trust: Trust = TRUST_NOTHING) -> dict[str, Any]:
    """The settings of a config (a preset's name, a YAML file, a dream's file), in today's names, its
    relative input paths made absolute against its folder; a sweep config (a ``sweep:`` key) only
    where ``sweep`` allows it. A recipe passes the gate first, with what the command line says
    (``trust``).

    Raises:
        ConfigError: a file that is not there or not a config, or a recipe the gate refuses.
    """
    path = config_path(config)
    if path.suffix.lower() in RECIPE_SUFFIXES:  # a dream's file: the recipe inside it
        content = recipe_config(path, __version__)
    else:
        content = read_yaml(path, f"--config {config}")
    if not isinstance(content, dict):
        raise ConfigError(f"--config {config}: expected a mapping of model/data/trainer settings")
    if "sweep" in content and not sweep:
        raise ConfigError(
            f"--config {config} is a sweep (it has 'sweep:'); run it with: dreamer sweep --config {config}"
        )
    content = upgraded(content)  # a config written for dreamer 0.1 still runs
    if written_by_dreamer(path):
        check_version(content, path, __version__)
        content = admitted(content, path, trust, sweep)
    content.pop("recipe", None)  # what a recipe pins: checked by the gate, or the user's own config
    return anchored_inputs(content, path.resolve().parent)


def resolved_config(config: str, sweep: bool = False, trust: Trust = TRUST_NOTHING) -> str:
    """``resolved_content`` as the YAML text a ``--config`` value of the command line becomes."""
    return yaml.safe_dump(resolved_content(config, sweep, trust), sort_keys=False)


def config_files(args: Sequence[str]) -> list[Path]:
    """The config files ``args`` name (``--config``/``-c``), presets found by name."""
    values = [arg.split("=", 1)[1] for arg in args if arg.startswith("--config=")]
    values += [value for flag, value in zip(args, args[1:]) if flag in ("--config", "-c")]
    return [config_path(value) for value in values]


def with_resolved_configs(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--config``/``-c`` value replaced by its resolved YAML text (a recipe
    through the gate, trusting what the rest of ``args`` says), flags of dreamer 0.1 in today's
    names, and ``--import_recipe_network`` taken out (it is the gate's, not the parser's)."""
    args, trust = trust_of(args)
    out: list[str] = []
    pending = False
    for arg in upgraded_args(args):
        if pending:
            out.append(resolved_config(arg, trust=trust))
            pending = False
        elif arg in ("--config", "-c"):
            out.append(arg)
            pending = True
        elif arg.startswith("--config="):
            out.append("--config=" + resolved_config(arg.split("=", 1)[1], trust=trust))
        else:
            out.append(arg)
    return out
