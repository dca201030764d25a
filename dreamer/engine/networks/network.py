"""The network a dream climbs through, as one idea: the module (frozen, in eval mode), its weights,
the pixels it wants (``model.input``) and how its layers are named, built from ``model.backbone``,
``model.weights`` and ``model.input``.

``model.backbone`` is any torchvision classification model by name (``convnext_tiny``,
``efficientnet_b0``, ``regnet_y_400mf`` …), ``timm:<name>`` for any timm model, or the user's own
``nn.Module``: an importable class path (``my_pkg.nets.ShapesNet``), a file form
(``path/to/nets.py:ShapesNet``), or either with constructor arguments the LightningCLI way
(``{class_path: nets.py:ShapesNet, init_args: {width: 32}}``). A ``LightningModule`` is an
``nn.Module``: the module a user trained with Lightning works as it is.

``model.weights`` is ``imagenet`` (torchvision's and timm's pretrained weights), a state dict
(``.pth``, ``.pt``, ``.safetensors``), a Lightning checkpoint (``.ckpt``: its ``state_dict``) or
``null``. No file is ever loaded in a way that runs code from it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import urlparse

import torch
import torchvision.models as tvm
from torch import nn

from dreamer.engine.networks.backbones import (
    BACKBONES,
    IMAGENET,
    BackboneSpec,
    LayerRef,
    backbone_spec,
    build_backbone,
    frozen,
    hf_cached,
    hub_reachable,
    node_name,
    pretrained_wanted,
    returned_node,
)
from dreamer.engine.networks.clip import CLIP, TextTower, clip_like, open_clip_parts, reads_text
from dreamer.engine.networks.weights import load_weights
from dreamer.errors import ConfigError, WeightsNotFoundError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TIMM = "timm:"

Backbone = Union[str, dict[str, Any]]


@dataclass(frozen=True)
class Input:
    """How the network wants its pixels (the ``model.input`` group).

    Each ``null``: what the network says (its first convolution's channels, torchvision's weight
    transforms, timm's pretrained config), else ImageNet's (grey: their means).

    Args:
        channels: 3 (colour) or 1 (grey: the network sees the mean of a picture's colours, and
            pictures are dreamed and written grey).
        mean: Per channel: each channel in [0, 1] becomes ``(x − mean) / std``.
        std: Per channel, > 0 (see ``mean``).
        size: The network sees every picture resized to ``size × size`` (a network that takes only
            its own size, or one trained on small pictures, dreamed at its own scale); the gradient
            flows back through the resizing.

    Raises:
        ConfigError: channels other than 1 or 3, a std that is not positive, or a size below 8.
    """

    channels: Optional[int] = None
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    size: Optional[int] = None

    def __post_init__(self) -> None:
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"model.input.channels: 1 (grey) or 3 (colour), got {self.channels}")
        if self.std is not None and not all(value > 0 for value in self.std):
            raise ConfigError(f"model.input.std must be > 0, got {list(self.std)}")
        if self.size is not None and self.size < 8:
            raise ConfigError(f"model.input.size must be at least 8 px, got {self.size}")


NETWORK_INPUT = Input()


@dataclass(frozen=True)
class TokenGrid:
    """A vision transformer's tokens as maps: its ``prefix`` tokens (class, registers) left out, the
    others ``[B, N, C]`` laid out as ``[B, C, ⌈H/p⌉, ⌈W/p⌉]`` for a picture of ``H × W`` and patches
    of ``patch`` (the network interpolates its position embeddings to the picture, and pads it)."""

    prefix: int
    patch: tuple[int, int]

    def maps(self, outputs: dict[str, torch.Tensor], size: Sequence[int]) -> dict[str, torch.Tensor]:
        """``outputs`` with every token sequence laid out as a map; other activations as they are."""
        rows, columns = -(-size[0] // self.patch[0]), -(-size[1] // self.patch[1])  # a partial patch is padded
        laid = {}
        for name, value in outputs.items():
            if isinstance(value, torch.Tensor) and value.dim() == 3 and value.shape[1] == self.prefix + rows * columns:
                value = value[:, self.prefix :].transpose(1, 2).reshape(value.shape[0], value.shape[2], rows, columns)
            laid[name] = value
        return laid


@dataclass(frozen=True)
class Layout:
    """How a network's activations become maps ``[B, C, h, w]``: a vision transformer's tokens
    (``tokens``), and the layers that run ``[B, H, W, C]`` (Swin's stages: names starting with one
    of ``channels_last``) permuted."""

    tokens: Optional[TokenGrid] = None
    channels_last: tuple[str, ...] = ()

    def maps(self, outputs: dict[str, torch.Tensor], size: Sequence[int]) -> dict[str, torch.Tensor]:
        """``outputs`` (by layer name) of a picture of ``size`` as maps; other activations as they are."""
        if self.tokens is not None:
            outputs = self.tokens.maps(outputs, size)
        if self.channels_last:
            outputs = {
                name: value.permute(0, 3, 1, 2)
                if isinstance(value, torch.Tensor) and value.dim() == 4 and name.split(".")[0] in self.channels_last
                else value
                for name, value in outputs.items()
            }
        return outputs


@dataclass
class Network:
    """A built network: its module (frozen, eval), its name (for messages and layer shortcuts), the
    normalisation its input gets, and the names of its classes where its weights carry them."""

    name: str
    module: nn.Module
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    categories: Optional[list[str]] = None
    tracer_kwargs: Optional[dict[str, Any]] = None  # what the network's own tracing leaves whole (timm's)
    tokens: Optional[TokenGrid] = None  # a vision transformer: its tokens as maps
    channels_last_layers: tuple[str, ...] = ()  # layers laid out [B, H, W, C] (Swin's stages), by name prefix
    size: Optional[int] = None  # the side every picture is resized to for the network (None: as it is)
    text: Optional[TextTower] = None  # a CLIP-like network's text tower (``text`` terms read it)

    @property
    def channels(self) -> int:
        """The picture channels the network takes: 3, or 1 (grey)."""
        return len(self.mean)

    @property
    def layout(self) -> Optional[Layout]:
        """How its activations become maps, where some are not maps already (``None``: all are)."""
        if self.tokens is None and not self.channels_last_layers:
            return None
        return Layout(self.tokens, self.channels_last_layers)

    @property
    def spec(self) -> Optional[BackboneSpec]:
        """What dreamer knows of it where it is one of the documented networks (``None``: it is not)."""
        return BACKBONES.get(self.name)

    def layer(self, reference: LayerRef) -> str:
        """The node a layer reference names: a name as it is, a number the documented network's
        shortcut (``11`` → ``features.11``).

        Raises:
            ConfigError: a number for a network without numbered layers.
        """
        return node_name(self.name, reference)

    @property
    def output(self) -> str:
        """The name of the node the network returns (the first tensor, where it returns several):
        a classifier's logits, which class terms climb."""
        return returned_node(self.module, self.tracer_kwargs)


def build_network(backbone: Backbone, weights: Optional[str] = IMAGENET, given: Input = NETWORK_INPUT) -> Network:
    """The network ``backbone`` names, with ``weights``, normalised as ``given`` says (else as the network says).

    Raises:
        ConfigError: a name that names no network (with the closest matches), a class that cannot
            be built, or weights that do not fit (``WeightsNotFoundError``: pretrained weights that are not here).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # random weights (``null``) are the same on every run: a saved config makes the same dream
        if isinstance(backbone, Mapping) or is_class_reference(backbone):
            network = _users(backbone, weights)
        elif backbone.startswith(TIMM):
            network = _timm(backbone[len(TIMM) :], weights)
        elif backbone.startswith(CLIP):
            network = _clip(backbone[len(CLIP) :], weights)
        else:
            network = _torchvision(backbone, weights)
    return with_input(network, given)


def with_input(network: Network, given: Input) -> Network:
    """``network`` taking its pixels as ``given`` says where it says (else as the network says).

    Raises:
        ConfigError: a mean or std with another number of values than the network's channels, or a
            network whose first convolution takes neither 1 nor 3 channels.
    """
    own = first_channels(network.module)
    if given.channels is not None and own is not None and given.channels != own:
        raise ConfigError(f"model.input.channels: {network.name}'s first convolution takes {own}, not {given.channels}")
    channels = given.channels or own or 3
    if channels not in (1, 3):
        raise ConfigError(
            f"model.backbone: {network.name}'s first convolution takes {channels} channels; dreamer dreams "
            "pictures of 1 (grey) or 3 (colour)"
        )
    if channels == 1 and len(network.mean) == 3:  # a grey network: the colour means' means
        network.mean, network.std = (sum(network.mean) / 3,), (sum(network.std) / 3,)
    elif channels == 3 and len(network.mean) == 1:
        network.mean, network.std = network.mean * 3, network.std * 3
    for name, values in (("mean", given.mean), ("std", given.std)):
        if values is not None and len(values) != channels:
            raise ConfigError(
                f"model.input.{name}: one number per channel the network takes ({channels}), got {list(values)}"
            )
    network.mean = tuple(given.mean) if given.mean is not None else network.mean
    network.std = tuple(given.std) if given.std is not None else network.std
    network.size = given.size or network.size
    return network


def first_channels(module: nn.Module) -> Optional[int]:
    """The channels the first convolution of ``module`` takes (``None``: it has none)."""
    first = next((layer for layer in module.modules() if isinstance(layer, nn.Conv2d)), None)
    return first.in_channels if first is not None else None


def is_class_reference(backbone: str) -> bool:
    """``pkg.module.Class`` or ``path/to/file.py:Class`` (a torchvision, timm or clip name has neither form)."""
    return not backbone.startswith((TIMM, CLIP)) and (":" in backbone or "." in backbone)


# torchvision ---------------------------------------------------------------------------------------


def _torchvision(name: str, weights: Optional[str]) -> Network:
    if name.startswith("vit_"):  # torchvision's ViTs check for their one size: they cannot dream at others
        timm_name = {"vit_b_16": "vit_base_patch16_224", "vit_b_32": "vit_base_patch32_224"}.get(
            name, "vit_base_patch16_224"
        )
        raise ConfigError(
            f"model.backbone: torchvision's {name} takes pictures of exactly its own size, which a dream's "
            f"octaves are not; use a timm ViT, which takes any size: timm:{timm_name}"
        )
    spec = backbone_spec(name)  # any classification model, or a one-line error with the closest names
    module = build_backbone(name, weights)
    transforms = spec.weights.transforms()
    categories = spec.weights.meta.get("categories") if weights == IMAGENET else None
    network = Network(name, module, tuple(transforms.mean), tuple(transforms.std), categories)
    if isinstance(module, tvm.SwinTransformer):  # its stages run [B, H, W, C] until the head permutes
        network.channels_last_layers = ("features", "norm")
    return network


# timm ------------------------------------------------------------------------------------------


def _timm(name: str, weights: Optional[str]) -> Network:
    try:
        import timm
    except ImportError:
        raise ConfigError("model.backbone: timm is not installed (pip install timm)") from None
    if not timm.list_models(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise ConfigError(f"model.backbone: timm has no model {name!r}; closest: {', '.join(close) or 'none'}")
    pretrained = pretrained_wanted(weights)
    if pretrained and not timm_weights_here(name) and not hub_reachable():
        raise WeightsNotFoundError(  # at once: offline, the hub's retries would take a minute to say so
            f"Pretrained weights for timm:{name} are not on this machine and the Hugging Face hub cannot be "
            f"reached. On a machine with internet: python -c \"import timm; timm.create_model('{name}', "
            'pretrained=True)", then copy its Hugging Face cache (~/.cache/huggingface, or HF_HOME) here.'
        )
    try:
        try:  # a vision transformer at any size: its position embeddings interpolated to the picture's
            module = timm.create_model(name, pretrained=pretrained, dynamic_img_size=True, dynamic_img_pad=True)
        except TypeError:  # a network without that option (a CNN takes any size as it is)
            module = timm.create_model(name, pretrained=pretrained)
    except Exception as error:  # no network, no cache: timm's hub download fails in many ways
        if not pretrained:
            raise ConfigError(f"model.backbone: timm could not build {name!r}: {error}") from None
        raise WeightsNotFoundError(
            f"Pretrained weights for timm:{name} were not found and could not be downloaded "
            f'({type(error).__name__}). On a machine with internet: python -c "import timm; '
            f"timm.create_model('{name}', pretrained=True)\", then copy its Hugging Face cache "
            "(~/.cache/huggingface, or HF_HOME) to this machine."
        ) from None
    if weights not in (None, IMAGENET):
        load_weights(module, Path(weights).expanduser(), f"timm:{name}")
    config: dict[str, Any] = dict(getattr(module, "pretrained_cfg", None) or {})
    mean, std = tuple(config.get("mean", IMAGENET_MEAN)), tuple(config.get("std", IMAGENET_STD))
    categories = None
    if weights == IMAGENET and timm.data.infer_imagenet_subset(module) == "imagenet-1k":
        categories = [text.split(",")[0] for text in timm.data.ImageNetInfo().label_descriptions()]
    from timm.models._features_fx import get_notrace_functions, get_notrace_modules

    tracing = {"leaf_modules": list(get_notrace_modules()), "autowrap_functions": list(get_notrace_functions())}
    tokens = None
    embed: Any = getattr(module, "patch_embed", None)
    prefix: Any = getattr(module, "num_prefix_tokens", None)
    if embed is not None and prefix is not None:
        patch = embed.patch_size
        tokens = TokenGrid(int(prefix), (int(patch[0]), int(patch[1])))
    network = Network(f"{TIMM}{name}", frozen(module), mean, std, categories, tracing, tokens)
    if getattr(module, "output_fmt", None) == "NHWC":  # Swin and kin: stages laid out [B, H, W, C]
        network.channels_last_layers = ("patch_embed", "layers", "norm")
    return network


def timm_weights_here(name: str) -> bool:
    """Whether timm's pretrained weights for ``name`` are in the Hugging Face or torch hub cache
    (``True`` where timm does not say where they come from: let it try)."""
    from timm.models import get_pretrained_cfg

    config = get_pretrained_cfg(name)
    if config is None:
        return True
    if config.file:
        return Path(config.file).is_file()
    if config.hf_hub_id:
        names = [config.hf_hub_filename] if config.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
        if hf_cached(config.hf_hub_id, names):
            return True
    url = config.url[0] if isinstance(config.url, tuple) else config.url
    if url:
        return (Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name).is_file()
    return False


# the user's own ----------------------------------------------------------------------------------


def _users(backbone: Backbone, weights: Optional[str]) -> Network:
    if isinstance(backbone, Mapping):
        reference, arguments = str(backbone.get("class_path", "")), dict(backbone.get("init_args") or {})
        if not reference:
            raise ConfigError("model.backbone: a mapping needs a class_path (and may give init_args)")
    else:
        reference, arguments = backbone, {}
    cls = import_class(reference)
    try:
        module = cls(**arguments)
    except Exception as error:
        raise ConfigError(f"model.backbone: {reference}({_arguments(arguments)}) failed: {error}") from None
    if not isinstance(module, nn.Module):
        raise ConfigError(f"model.backbone: {reference} made a {type(module).__name__}, not a torch nn.Module")
    if weights == IMAGENET:
        raise ConfigError(
            f"model.weights: imagenet is for torchvision and timm networks; give {reference} a weights file or null"
        )
    if weights is not None:
        load_weights(module, Path(weights).expanduser(), reference)
    if reads_text(module):  # CLIP-like: its image tower dreams, its text tower reads prompts
        return Network(reference, **clip_like(module))
    return Network(reference, frozen(module))


# clip ------------------------------------------------------------------------------------------


def _clip(name: str, weights: Optional[str]) -> Network:
    model, tokenize, side = open_clip_parts(name, weights)
    return Network(f"{CLIP}{name}", **{**clip_like(model, tokenize), "size": side})


def _arguments(arguments: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


def import_class(reference: str) -> type:
    """The class ``pkg.module.Class`` (imported) or ``path/to/file.py:Class`` (that file, run as a module).

    Raises:
        ConfigError: a module or file that is not there or fails to import, or no such class in it.
    """
    if ":" in reference:
        file, _, name = reference.rpartition(":")
        path = Path(file).expanduser()
        if not path.is_file():
            raise ConfigError(f"model.backbone: {path} is not a file (the form is path/to/nets.py:ClassName)")
        spec = importlib.util.spec_from_file_location(f"dreamer_user_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"model.backbone: {path} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look their module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise ConfigError(f"model.backbone: importing {path} failed: {type(error).__name__}: {error}") from None
    else:
        module_name, _, name = reference.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ConfigError(f"model.backbone: cannot import {module_name} ({error})") from None
    found = getattr(module, name, None)
    if not isinstance(found, type):
        classes = [
            key for key, value in vars(module).items() if isinstance(value, type) and issubclass(value, nn.Module)
        ]
        close = difflib.get_close_matches(name, classes, n=5)
        hint = f"; closest: {', '.join(close)}" if close else (f"; it has {', '.join(classes[:8])}" if classes else "")
        raise ConfigError(f"model.backbone: {reference}: no class {name!r} there{hint}")
    return found
