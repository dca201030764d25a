"""The Dream tab's form and the settings it stands for, keyed by their dotted names
(``model.layers``, ``octaves.count`` …): a preset's values into the form, the form's into settings."""

from __future__ import annotations

import functools
from typing import Any, Optional

import gradio as gr
import torchvision.models as tvm

from dreamer.app.recipe import SETTINGS, preset, preset_value
from dreamer.engine.climb.objectives import parse_objective
from dreamer.engine.networks.backbones import BACKBONES, backbone_spec
from dreamer.engine.networks.network import build_network, is_class_reference
from dreamer.errors import ConfigError

TILES = ["none", "256", "512", "1024", "2048"]


def layer_choices(config: dict[str, Any]) -> list[str]:
    """The documented layers of the preset's backbone, and the preset's own layer schedule."""
    backbone = preset_value(config, "model.backbone") or "vgg16"
    own = str(preset_value(config, "model.layers"))
    choices = list(backbone_spec(backbone).layers)
    return choices if own in choices else [own, *choices]


def network_choices(own: str) -> list[str]:
    """The networks the page lists: the documented six, then torchvision's other classification
    models (any timm name may be typed: ``timm:convnext_tiny``), with the preset's own first."""
    others = [name for name in tvm.list_models(module=tvm) if name not in BACKBONES and not name.startswith("vit_")]
    return list(dict.fromkeys([own, *BACKBONES, *sorted(others)]))


def page_network(text: Optional[str]) -> str:
    """The network the page's field names: a torchvision, timm or clip name only. A page may be served to
    others, so it never imports a class path or a file (the command line does).

    Raises:
        ConfigError: a class path or a file.
    """
    name = (text or "").strip()
    if not name or is_class_reference(name):
        raise ConfigError(
            "model.backbone: the page takes torchvision, timm and clip names (resnet50, timm:convnext_tiny, "
            f"clip:ViT-B-32/laion2b_s34b_b79k), not {name!r}; "
            "a network of your own dreams from the command line"
        )
    return name


@functools.lru_cache(maxsize=16)
def network_layers(backbone: str) -> tuple[list[str], str]:
    """The layers the page offers for ``backbone`` and the one it picks: a documented network's own
    list and first layer; any other's layers with maps, by the names ``dreamer layers`` lists, and
    one about 60 % of the way down.

    Raises:
        ConfigError: a name that names no torchvision or timm network (with the closest ones).
    """
    from dreamer.command.layers import layer_table, shown_side

    name = page_network(backbone)
    if name in BACKBONES:
        layers = list(BACKBONES[name].layers)
        return layers, layers[len(layers) * 3 // 5]
    network = build_network(name, None)  # names and shapes do not depend on the weights
    rows = layer_table(network, shown_side(network))
    layers = [row[0] for row in rows if row[2].count(",") == 3]  # [B, C, h, w]: a map, as dreams climb
    if network.text is not None:  # a CLIP-like network: its embedding too, where a prompt is climbed
        layers.append(network.output)
    if not layers:
        raise ConfigError(f"model.backbone: {name} has no layer with maps to dream")
    return layers, layers[len(layers) * 3 // 5]


def form_values(name: str) -> dict[str, Any]:
    """The form's fields at the preset's values, by setting (the layer with the backbone's choices;
    ``prompt``: the preset's prompt, where its objective is one)."""
    config = preset(name)
    value = {key: preset_value(config, key) for key in SETTINGS}
    tile = value["model.tile_size"]
    return {
        **value,
        "prompt": prompt_of(preset_value(config, "model.objective")),
        "model.layers": gr.update(choices=layer_choices(config), value=str(value["model.layers"])),
        "model.channels": channels_text(value["model.channels"]),
        "octaves.count": str(value["octaves.count"]),
        "model.tile_size": str(tile) if tile else "none",
    }


def form_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The form's fields (by setting) typed as the command line takes them; a prompt is the objective
    (``text '…'``), else the preset's objective holds."""
    count, tile = values["octaves.count"], values["model.tile_size"]
    prompt = prompt_objective(values.get("prompt"))
    return {
        "model.backbone": page_network(values["model.backbone"]),
        "model.layers": values["model.layers"],
        "model.channels": channel_list(values["model.channels"]),
        "octaves.count": count if count == "auto" else int(count),
        "octaves.scale": round(float(values["octaves.scale"]), 4),
        "octaves.iterations": int(values["octaves.iterations"]),
        "model.lr": float(values["model.lr"]),
        "octaves.alpha": round(float(values["octaves.alpha"]), 4),
        "model.jitter.roll": int(values["model.jitter.roll"]),
        "model.filters.laplacian_levels": int(values["model.filters.laplacian_levels"]),
        "model.tile_size": None if tile == "none" else int(tile),
        "data.seed": int(values["data.seed"] or 0),
        **({"model.objective": prompt} if prompt else {}),
    }


def prompt_objective(text: Optional[str]) -> Optional[str]:
    """The prompt box's sentence as an objective (``text 'a city of glass'``); ``None`` when empty.

    Raises:
        ConfigError: a sentence with both kinds of quotes (the objective could not hold it).
    """
    prompt = " ".join((text or "").split())
    if not prompt:
        return None
    if "'" in prompt and '"' in prompt:
        raise ConfigError(f"prompt: {prompt!r} has both ' and \"; keep one kind of quote")
    return f'text "{prompt}"' if "'" in prompt else f"text '{prompt}'"


def prompt_of(objective: Any) -> str:
    """The prompt of an objective that is one prompt alone (``text 'a city'``), else ``""``."""
    try:
        terms = parse_objective(str(objective)) if objective else []
    except ConfigError:
        return ""
    alone = len(terms) == 1 and terms[0].kind == "text" and terms[0].weight == 1
    return str(terms[0].label) if alone else ""


def channels_text(channels: Any) -> str:
    """A preset's channels as the form shows them: ``""`` (the whole layer), ``7`` or ``3, 7``."""
    if not isinstance(channels, list) or not channels or not all(isinstance(c, int) for c in channels):
        return "" if channels is None else str(channels)
    return ", ".join(map(str, channels))


def channel_list(text: Optional[str]) -> Optional[list[int]]:
    """The form's channels (``7``, ``3, 7, 12``) as the command line takes them; empty: the whole layer."""
    text = (text or "").strip().strip("[]")
    if not text:
        return None
    try:
        channels = [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"model.channels: {text!r} is not a channel number (e.g. 7, or 3, 7, 12)") from None
    if any(channel < 0 for channel in channels):
        raise ConfigError(f"model.channels: {text!r}: channels are numbered from 0")
    return channels
