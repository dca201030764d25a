"""A frozen backbone that returns chosen layers' activations and runs nothing past the deepest one."""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, Optional, Union, cast

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.func import functional_call
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.feature_extraction import create_feature_extractor
from typing_extensions import override

from dreamer.engine.networks.backbones import call_site_names, layer_names, traceable
from dreamer.engine.networks.network import IMAGENET_MEAN, IMAGENET_STD, Layout
from dreamer.errors import ConfigError

Compile = Union[bool, Literal["reduce-overhead"]]


class LayerExtractor(nn.Module):
    """Maps images in [0, 1] ``[B, 3, H, W]`` to ``{layer: activation}`` for one of its layer sets.

    The network's input normalisation (``mean``, ``std``; ImageNet's by default) happens here. For
    each layer set a truncated graph is traced once (``torchvision.models.feature_extraction``), so
    layers after the deepest requested one never run, and only those graphs are kept: modules no
    layer set reaches (VGG-16's classifier, 470 MB) are freed. Each convolution followed by a batch
    norm becomes one convolution (a frozen batch norm is an affine map): a quarter less time per
    step for MobileNetV2 on a CPU. The graphs stay frozen and in eval mode whatever ``train()`` is
    called with.
    """

    def __init__(
        self,
        backbone: nn.Module,
        layer_sets: Sequence[Sequence[str]],
        channels_last: bool = False,
        compile: Compile = False,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        tracer_kwargs: Optional[dict[str, Any]] = None,
        layout: Optional[Layout] = None,
        size: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.compiled = compile
        self.register_buffer("mean", torch.tensor(tuple(mean)).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(tuple(std)).view(1, -1, 1, 1), persistent=False)
        self.layout, self.size = layout, size
        known = set(layer_names(backbone, tracer_kwargs))
        self.layer_sets: list[tuple[str, ...]] = list(dict.fromkeys(tuple(layers) for layers in layer_sets))
        for layers in self.layer_sets:
            check_layers(layers, known)
        folded: dict[tuple[int, int], nn.Module] = {}  # one folded convolution per pair, shared by the graphs
        self.graphs = nn.ModuleList(
            fold_batch_norms(trace(backbone.eval(), layers, tracer_kwargs), folded) for layers in self.layer_sets
        )
        self.graphs.requires_grad_(False).to(memory_format=self.memory_format)
        self._compiled: dict[tuple[str, ...], Callable[..., dict[str, Tensor]]] = {}

    @override
    def train(self, mode: bool = True) -> LayerExtractor:
        return super().train(False)

    def _graph(self, layers: tuple[str, ...]) -> nn.Module:
        try:
            return self.graphs[self.layer_sets.index(layers)]
        except ValueError:
            raise ConfigError(f"Layers {list(layers)} are not among this extractor's {self.layer_sets}") from None

    def covering(self, layers: tuple[str, ...]) -> tuple[str, ...]:
        """The smallest layer set of this extractor that holds all of ``layers``."""
        holding = [chosen for chosen in self.layer_sets if set(layers) <= set(chosen)]
        if not holding:
            raise ConfigError(f"Layers {list(layers)} are not among this extractor's {self.layer_sets}")
        return min(holding, key=len)

    def _runner(self, layers: tuple[str, ...]) -> Callable[..., dict[str, Tensor]]:
        if not self.compiled:
            return self._graph(layers)
        if layers not in self._compiled:
            if self.compiled == "reduce-overhead":
                # CUDA graphs replay a whole forward (and backward) as one launch; they need fixed
                # shapes, so each octave's size is compiled and captured once.
                self._compiled[layers] = torch.compile(self._graph(layers), mode="reduce-overhead", dynamic=False)
            else:
                # dynamic=True: sizes share compiled code; new sizes recompile only past a shape guard.
                self._compiled[layers] = torch.compile(self._graph(layers), dynamic=True)
        return self._compiled[layers]

    @override
    def forward(self, images: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        mean, std = cast(Tensor, self.mean), cast(Tensor, self.std)
        if mean.shape[1] == 1:  # a grey network sees the mean of the colours
            images = images.mean(dim=1, keepdim=True)
        if self.size is not None and images.shape[-2:] != (self.size, self.size):
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        normalised = ((images - mean) / std).contiguous(memory_format=self.memory_format)
        if self.compiled == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # each call is a new step: earlier outputs are done with
        outputs = self._runner(tuple(layers))(normalised)
        return self.layout.maps(outputs, images.shape[-2:]) if self.layout else outputs

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one extractor per run; the cache lives as long)
    def min_input_size(self, layers: tuple[str, ...]) -> int:
        """The smallest square side worth dreaming at for these layers.

        It is at least the layers' total stride (so their activation covers a real pixel: 32 px for
        ``vgg16.features[30]``), and at least the side below which the network cannot run at all
        (unpadded convolutions and pools, as in Inception v3). Shapes are propagated on the ``meta``
        device: no arithmetic runs and no memory is taken, so asking costs about a millisecond per layer.
        A network that sees every picture at one ``size`` is worth dreaming from that size up.
        """
        if self.size is not None:
            return self.size

        def output_side(side: int) -> int:
            try:
                outputs = [out for out in self._meta_outputs(layers, side).values() if out.dim() == 4]
            except (RuntimeError, ValueError):
                return 0
            return min((min(out.shape[-2:]) for out in outputs), default=side)

        reference = 512
        reference_out = output_side(reference)
        if reference_out < 1:
            raise ConfigError(f"Layers {list(layers)} give no output even for a {reference}px image")
        stride = math.ceil(reference / reference_out)
        if output_side(stride) >= 1:
            return stride
        low, high = stride + 1, reference
        while low < high:  # the smallest side that runs at all lies above the stride
            middle = (low + high) // 2
            if output_side(middle) >= 1:
                high = middle
            else:
                low = middle + 1
        return low

    def widths(self, layers: tuple[str, ...]) -> dict[str, int]:
        """Channels of each of ``layers``' activations, found on the ``meta`` device (no arithmetic).

        Raises:
            ConfigError: a network that takes pictures of one size only (a dream's octaves are many).
        """
        try:
            outputs = self._meta_outputs(layers, 512)
        except (AssertionError, RuntimeError) as error:
            reason = " ".join(str(error).split())[:160]
            raise ConfigError(
                f"model.backbone: the network cannot run a 512×512 picture ({reason}); a dream's octaves come "
                "in many sizes, so it needs a network that takes any size"
            ) from None
        return {name: out.shape[1] for name, out in outputs.items()}

    def _meta_outputs(self, layers: tuple[str, ...], side: int) -> dict[str, Tensor]:
        """The activations of ``layers`` for a ``side``² image as shapes only, on the ``meta`` device."""
        graph = self._graph(layers)
        shapes = {name: torch.empty_like(value, device="meta") for name, value in _tensors(graph)}
        side = self.size or side
        with torch.no_grad():
            picture = torch.empty(1, cast(Tensor, self.mean).shape[1], side, side, device="meta")
            outputs = functional_call(graph, shapes, (picture,))
        return self.layout.maps(outputs, (side, side)) if self.layout else outputs


def check_layers(layers: Sequence[str], known: set[str]) -> None:
    """A layer is a traced node (``features.29``) or a module whose last node is used (``layer3``);
    a misspelled one is one line with the closest names (``dreamer layers`` lists them all)."""
    unknown = [
        layer for layer in layers if layer not in known and not any(node.startswith(layer + ".") for node in known)
    ]
    if unknown:
        names = known - {"x"} | {".".join(node.split(".")[:depth]) for node in known for depth in (1, 2, 3)}
        close = difflib.get_close_matches(unknown[0], sorted(names - {"x"}), n=6, cutoff=0.4)
        hint = f"closest: {', '.join(close)}" if close else "none is close"
        raise ConfigError(
            f"model.layers: the network has no layer {unknown[0]!r} ({hint}); "
            "dreamer layers --model.backbone <network> lists every one"
        )


def trace(backbone: nn.Module, layers: Sequence[str], tracer_kwargs: Optional[dict[str, Any]] = None) -> fx.GraphModule:
    """The backbone's graph up to ``layers``, returning ``{layer: activation}``; it shares the backbone's modules."""
    with call_site_names(), traceable(backbone):
        return create_feature_extractor(backbone, return_nodes=list(layers), tracer_kwargs=tracer_kwargs).eval()


def _folded(conv: nn.Module, norm: nn.Module, folded: dict[tuple[int, int], nn.Module]) -> nn.Module:
    key = (id(conv), id(norm))
    if key not in folded:
        folded[key] = fuse_conv_bn_eval(conv.eval(), norm.eval())  # type: ignore[type-var, arg-type]
    return folded[key]


def _folded_sequence(sequence: nn.Sequential, folded: dict[tuple[int, int], nn.Module]) -> Optional[nn.Sequential]:
    """A new ``Sequential`` (a leaf of the graph, e.g. ``Conv2dNormActivation``) with each
    convolution → batch norm pair as one convolution, or ``None`` when it has no such pair."""
    children, parts = list(sequence), []
    index = 0
    while index < len(children):
        child = children[index]
        following = children[index + 1] if index + 1 < len(children) else None
        if type(child) is nn.Conv2d and isinstance(following, nn.BatchNorm2d):
            parts.append(_folded(child, following, folded))
            index += 2
        else:
            parts.append(child)
            index += 1
    return nn.Sequential(*parts) if len(parts) < len(children) else None


def fold_batch_norms(graph: fx.GraphModule, folded: dict[tuple[int, int], nn.Module]) -> fx.GraphModule:
    """``graph`` (in eval mode) with every convolution whose only use is a ``BatchNorm2d`` replaced by
    one convolution that does both, also inside the graph's leaf ``Sequential`` blocks; ``folded``
    holds the folded convolutions by pair, so that graphs sharing a pair share its folded weights. A
    convolution whose output is also used elsewhere (a requested layer) is left as it is."""
    plain = fx.GraphModule(graph, graph.graph)  # a plain module: torchvision's switches graphs with the mode
    modules = dict(plain.named_modules())
    for node in list(plain.graph.nodes):
        if node.op == "call_module" and isinstance(modules.get(node.target), nn.Sequential):
            sequence = _folded_sequence(modules[node.target], folded)
            if sequence is not None:
                parent, _, name = str(node.target).rpartition(".")
                setattr(plain.get_submodule(parent) if parent else plain, name, sequence)
            continue
        source = node.args[0] if node.args else None
        if not (
            node.op == "call_module"
            and isinstance(modules.get(node.target), nn.BatchNorm2d)
            and isinstance(source, fx.Node)
            and source.op == "call_module"
            and type(modules.get(source.target)) is nn.Conv2d
            and len(source.users) == 1
        ):
            continue
        parent, _, name = str(source.target).rpartition(".")
        folding = _folded(modules[source.target], modules[node.target], folded)
        setattr(plain.get_submodule(parent) if parent else plain, name, folding)
        node.replace_all_uses_with(source)
        plain.graph.erase_node(node)
        plain.delete_submodule(str(node.target))
    plain.graph.lint()
    plain.recompile()
    return plain.eval()


def _tensors(module: nn.Module) -> list[tuple[str, Tensor]]:
    return [*module.named_parameters(), *module.named_buffers()]
