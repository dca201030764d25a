"""Networks that read text too (CLIP and its kin): an image tower dreamed like any network, and a
text tower that turns a prompt into the direction a ``text`` term climbs.

A CLIP-like model is any ``nn.Module`` with ``encode_image(pictures) → [B, D]``,
``encode_text(tokens) → [N, D]`` and ``tokenize(prompts) → tokens``: open_clip's models by name
(``clip:ViT-B-32/laion2b_s34b_b79k``, open_clip's own loading of weights) or a user's own class.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional, Protocol, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dreamer.engine.networks.backbones import IMAGENET, frozen, hf_cached, hub_reachable, pretrained_wanted
from dreamer.engine.networks.weights import load_weights
from dreamer.errors import ConfigError, WeightsNotFoundError

CLIP = "clip:"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the normalisation CLIP's image tower was trained with
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEXT_TOWER = ("encode_image", "encode_text", "tokenize")  # what a CLIP-like model has


class ClipLike(Protocol):
    """What a CLIP-like model has."""

    def encode_image(self, pictures: Tensor) -> Tensor: ...

    def encode_text(self, tokens: Any) -> Tensor: ...

    def tokenize(self, prompts: list[str]) -> Any: ...


def reads_text(module: nn.Module) -> bool:
    """Whether ``module`` is CLIP-like: it encodes pictures and text into one space."""
    return all(callable(getattr(module, name, None)) for name in TEXT_TOWER)


class ImageTower(nn.Module):
    """A CLIP-like model's image tower as a plain backbone: its forward is ``encode_image``, so its
    layers dream, atlas and guide like any network's, and its output is the picture's embedding."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pictures: Tensor) -> Tensor:
        return cast(ClipLike, self.model).encode_image(pictures)


class TextTower:
    """A CLIP-like model's text tower: prompts → unit embeddings ``[N, D]``."""

    def __init__(self, model: nn.Module, tokenize: Optional[Callable[[list[str]], Any]] = None) -> None:
        self.model = cast(ClipLike, model)
        self.tokenize = tokenize or self.model.tokenize

    @torch.no_grad()
    def embed(self, prompts: Sequence[str], device: torch.device) -> Tensor:
        tokens = self.tokenize(list(prompts))
        tokens = tokens.to(device) if isinstance(tokens, Tensor) else tokens
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)


def open_clip_parts(name: str, weights: Optional[str]) -> tuple[nn.Module, Callable[[list[str]], Tensor], int]:
    """open_clip's model ``name`` (``ARCH`` or ``ARCH/TAG``), its tokenizer and its image size.
    ``weights``: ``imagenet`` (the tag's pretrained weights, loaded by open_clip), ``null`` (random)
    or a file (a state dict).

    Raises:
        ConfigError: open_clip missing, an unknown architecture or tag (the closest named), or
            pretrained weights asked for without a tag (``WeightsNotFoundError``: not on this machine).
    """
    open_clip = _open_clip()
    arch, _, tag = name.partition("/")
    pretrained = None
    if weights == IMAGENET:
        arch, tag = checked_name(name)
        pretrained = tag if pretrained_wanted(weights) else None  # a dry run stands random weights in
        if pretrained and open_clip_weights_here(arch, tag) is False:
            raise WeightsNotFoundError(
                f"Pretrained weights for clip:{arch}/{tag} are not on this machine and the Hugging Face hub cannot be "
                f"reached. On a machine with internet: dreamer weights fetch clip:{arch}/{tag}, then copy its "
                "Hugging Face cache (~/.cache/huggingface, or HF_HOME) here."
            )
    else:
        checked_arch(arch)
    if pretrained is None:  # random weights were asked for: open_clip's warning that none were loaded is noise
        logging.disable(logging.WARNING)
    try:
        model = open_clip.create_model(arch, pretrained=pretrained)
    finally:
        logging.disable(logging.NOTSET)
    if weights not in (None, IMAGENET):
        load_weights(model, Path(weights).expanduser(), f"clip:{arch}")
    size = model.visual.image_size
    side = int(size[0] if isinstance(size, (tuple, list)) else size)
    return model, open_clip.get_tokenizer(arch), side


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError:
        raise ConfigError(
            "model.backbone: clip: networks need open_clip (pip install 'dreamer-deepdream[clip]')"
        ) from None
    return open_clip


def checked_arch(arch: str) -> None:
    """Raises ``ConfigError`` naming the closest of open_clip's models, where ``arch`` is none of them."""
    models = _open_clip().list_models()
    if arch not in models:
        close = difflib.get_close_matches(arch, models, n=5)
        raise ConfigError(f"model.backbone: open_clip has no model {arch!r}; closest: {', '.join(close) or 'none'}")


def checked_name(name: str) -> tuple[str, str]:
    """``ARCH/TAG`` of open_clip's pretrained models, checked: ``(arch, tag)``.

    Raises:
        ConfigError: an unknown architecture or tag (the closest named), or no tag.
    """
    arch, _, tag = name.partition("/")
    checked_arch(arch)
    tags = [known for model, known in _open_clip().list_pretrained() if model == arch]
    if not tag:
        example = f"clip:{arch}/{tags[0] if tags else '…'}"
        raise ConfigError(
            f"model.backbone: clip:{arch} needs a pretrained tag for its weights ({example}; it has "
            f"{', '.join(tags) or 'none'}), or --model.weights null for random ones"
        )
    if tag not in tags:
        close = difflib.get_close_matches(tag, tags, n=5) or tags[:5]
        raise ConfigError(f"model.backbone: clip:{arch} has no pretrained tag {tag!r}; it has {', '.join(close)}")
    return arch, tag


def fetch(name: str) -> None:
    """Download ``clip:ARCH/TAG``'s weights into the Hugging Face cache, as open_clip does."""
    arch, tag = checked_name(name[len(CLIP) :])
    if open_clip_weights_here(arch, tag) is False:  # at once, not after a minute of the hub's retries
        raise WeightsNotFoundError("the Hugging Face hub cannot be reached from this machine")
    _open_clip().create_model(arch, pretrained=tag)


def open_clip_weights_here(arch: str, tag: str) -> Optional[bool]:
    """``True``: the tag's weights are in the Hugging Face cache; ``False``: they are not and the hub
    cannot be reached (so loading would fail after a minute of retries); ``None``: they will be
    fetched (the hub answers) or are not on the hub (open_clip fetches them its own way)."""
    try:
        import open_clip
    except ImportError:
        return None  # building the network says what to install
    config: dict[str, Any] = open_clip.get_pretrained_cfg(arch, tag) or {}
    hub = config.get("hf_hub")
    if not hub:
        return None
    if hf_cached(str(hub).strip("/"), ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")):
        return True
    return None if hub_reachable() else False


def clip_like(model: nn.Module, tokenize: Optional[Callable[[list[str]], Tensor]] = None) -> dict[str, Any]:
    """What a ``Network`` of the CLIP-like ``model`` holds: its image tower as the (frozen) module, its
    text tower, its normalisation (the model's own ``mean``/``std`` where it has them, else CLIP's)
    and the side it sees pictures at (its ``image_size``, where it has one)."""
    mean = tuple(float(value) for value in getattr(model, "mean", CLIP_MEAN))
    std = tuple(float(value) for value in getattr(model, "std", CLIP_STD))
    side = getattr(model, "image_size", None)
    return {
        "module": frozen(ImageTower(model)),
        "text": TextTower(model, tokenize),
        "mean": mean,
        "std": std,
        "size": side if isinstance(side, int) else None,
    }


SMALLEST_VIEW = 0.4  # the smallest random view's side, as a share of the picture's shorter side


def cutouts(pictures: Tensor, count: int, side: int, generator: torch.Generator) -> Tensor:
    """The whole of each picture ``[B, 3, H, W]`` and ``count - 1`` random square crops of it (a side
    of ``SMALLEST_VIEW``–100 % of its shorter side, anywhere, mirrored at random), each resized to
    ``side`` px: ``[count·B, 3, side, side]``, view-major. Scoring a prompt over many views keeps a
    text-guided dream from turning into noise that fools one view (the way CLIP-guided art has worked
    since 2021); the whole picture among them keeps its composition in view."""
    height, width = pictures.shape[-2:]
    shorter = min(height, width)

    def resized(view: Tensor) -> Tensor:
        larger = max(view.shape[-2:]) > side
        return F.interpolate(view, size=(side, side), mode="bilinear", align_corners=False, antialias=larger)

    views = [resized(pictures)]
    for _ in range(count - 1):
        share = SMALLEST_VIEW + (1 - SMALLEST_VIEW) * torch.rand((), generator=generator).item()
        size = max(8, int(shorter * share))
        top = int(torch.randint(0, height - size + 1, (), generator=generator))
        left = int(torch.randint(0, width - size + 1, (), generator=generator))
        view = pictures[..., top : top + size, left : left + size]
        if torch.rand((), generator=generator).item() < 0.5:
            view = view.flip(-1)
        views.append(resized(view))
    return torch.cat(views)
