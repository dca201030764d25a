"""``dreamer layers``: every layer a network can be dreamed at, by the names ``model.layers`` takes.

    dreamer layers --model.backbone resnet50
    dreamer layers --config quickstart                     # the preset's network
    dreamer layers --model.backbone nets.py:ShapesNet      # your own

Each line is a layer's name, what computes it (a module's type or a function), its output shape for
one picture at the network's own size, and its channels. The names are the traced graph's: a module
called several times in one place is ``relu``, ``relu_1``, ``relu_2`` in call order.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Optional

import torch
import yaml
from torch import nn

from dreamer.command.configs import resolved_content
from dreamer.command.trust import Trust, trust_of
from dreamer.engine.networks.backbones import call_site_names, layer_names
from dreamer.engine.networks.network import IMAGENET, Input, Network, build_network
from dreamer.errors import DreamerError
from dreamer.files.earlier import upgraded_args
from dreamer.files.sections import settings as settings_of

KEYS = ("backbone", "weights", "input")  # what says which network; the other settings play no part
SIDE = 224  # px: the side a network of unknown size is shown at


def network_settings(args: list[str]) -> dict[str, Any]:
    """``model.backbone``, ``model.weights`` and ``model.input`` from ``--config`` files and
    ``--model.*`` flags, later ones winning, as ``dreamer fit`` reads them; other options are ignored."""
    settings: dict[str, Any] = {}
    pending: Optional[str] = None
    args, trust = trust_of(args)
    for arg in upgraded_args(args):
        if pending is not None:
            _take(settings, pending, arg, trust)
            pending = None
            continue
        flag, equals, value = arg.partition("=")
        if flag in ("--config", "-c", *(f"--model.{key}" for key in KEYS)) or flag.startswith("--model.input."):
            if equals:
                _take(settings, flag, value, trust)
            else:
                pending = flag
    return settings


def _take(settings: dict[str, Any], flag: str, value: str, trust: Trust) -> None:
    if flag in ("--config", "-c"):
        model = settings_of(resolved_content(value, trust=trust), "model")
        settings.update({key: model[key] for key in KEYS if key in model})
    elif flag.startswith("--model.input."):
        settings.setdefault("input", {})[flag.removeprefix("--model.input.")] = yaml.safe_load(value)
    else:
        settings[flag.removeprefix("--model.")] = yaml.safe_load(value)


def shown_side(network: Network) -> int:
    """The side the network sees (``model.input.size``), else the one it was trained at (timm), else ``SIDE``."""
    if network.size:
        return network.size
    config = getattr(network.module, "pretrained_cfg", None) or {}
    size = config.get("input_size")
    return int(size[-1]) if size else SIDE


def layer_table(network: Network, side: int) -> list[tuple[str, str, str, str]]:
    """``(name, computed by, output shape, channels)`` of every layer: each node of the network's eval
    graph, and each module whose output is its last node's (``layer3``, ``features.11``), right after it."""
    from torchvision.models.feature_extraction import create_feature_extractor

    names = layer_names(network.module, network.tracer_kwargs)[1:]  # the first is the input picture
    with call_site_names():
        graph = create_feature_extractor(network.module, return_nodes=names, tracer_kwargs=network.tracer_kwargs)
    with torch.no_grad():
        outputs = graph(torch.zeros(1, network.channels, side, side))
    if network.layout:
        outputs = network.layout.maps(outputs, (side, side))
    modules = dict(network.module.named_modules())
    last: dict[str, str] = {}  # a module → its last node
    for name in names:
        for depth in range(1, name.count(".") + 1):
            last[name.rsplit(".", depth)[0]] = name
    ends: dict[str, list[str]] = {}
    for module, node in last.items():
        if module in modules and module not in outputs:
            ends.setdefault(node, []).append(module)
    rows = []
    for name in names:
        rows.append(_row(name, kind_of(name, network.module), outputs[name]))
        for module in sorted(ends.get(name, []), key=lambda m: -m.count(".")):  # the innermost first
            rows.append(_row(module, type(modules[module]).__name__, outputs[name]))
    return rows


def _row(name: str, kind: str, value: object) -> tuple[str, str, str, str]:
    if not isinstance(value, torch.Tensor):
        return name, kind, "—", "—"
    return name, kind, str(list(value.shape)), str(value.shape[1]) if value.dim() >= 2 else "—"


def kind_of(name: str, network: nn.Module) -> str:
    """What computes node ``name``: its module's type (``layer1.0.relu_1`` is the second call of
    ``layer1.0.relu``), else the function it calls (``layer1.0.add``: ``add``)."""
    base = re.sub(r"_\d+$", "", name)
    try:
        return type(network.get_submodule(base)).__name__
    except AttributeError:
        return base.rsplit(".", 1)[-1]


def main(args: list[str]) -> int:
    """Print the layer table of the network the options name; 2 for a bad option (one line)."""
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    try:
        settings = network_settings(args)
        given = settings.get("input") or {}
        network = build_network(settings.get("backbone", "vgg16"), None, Input(**given))  # no weights: same shapes
        side = shown_side(network)
        rows = layer_table(network, side)
    except DreamerError as error:
        print(f"dreamer: error: {error}", file=sys.stderr)
        return 2
    shortcut = network.spec.index_prefix if network.spec is not None else None
    width = max(len(row[0]) for row in rows)
    try:
        print(f"{network.name}: {len(rows)} layers, output shapes for a {side}×{side} picture")
        print_rows(rows, width, shortcut)
    except BrokenPipeError:  # ``dreamer layers | head``: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (Python flushes stdout once more at exit)
        return 0
    weights = settings.get("weights", IMAGENET)
    if weights not in (None, IMAGENET):
        print(f"(names and shapes do not depend on the weights: {weights} was not read)")
    return 0


def print_rows(rows: list[tuple[str, str, str, str]], width: int, shortcut: Optional[str]) -> None:
    """One line per layer; a documented network's integer shortcut beside its name (``features.11 (11)``)."""
    for name, kind, shape, channels in rows:
        alias = (
            f" ({name.split('.')[1]})" if shortcut and name.startswith(shortcut + ".") and name.count(".") == 1 else ""
        )
        print(f"{name + alias:<{width + 5}}  {kind:<22}  {shape:<20}  {channels}")
