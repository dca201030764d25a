"""What a dream climbs: the scheduled layers' (or channels', or guides') activation, per image."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from dreamer.engine.backbones import backbone_spec, build_backbone, node_name
from dreamer.engine.batch import DreamBatch
from dreamer.engine.extractor import Compile, LayerExtractor
from dreamer.engine.guide import NO_GUIDE, Guide, Guides, guided_objectives
from dreamer.engine.objectives import (
    VECTOR_SUFFIXES,
    Objective,
    Term,
    activation_objective,
    caricature_objective,
    diversity_penalty,
    load_direction,
    parse_objective,
    term_objective,
)
from dreamer.engine.pyramid import stretched
from dreamer.engine.tiling import tiled_gradient, tiled_objective
from dreamer.errors import ConfigError, ImageError
from dreamer.files.imageio import open_photo, to_tensor

Layer = Union[int, str]
LayerSchedule = Union[Layer, list[Union[Layer, list[Layer]]]]
ChannelSchedule = Optional[Union[list[int], list[Optional[list[int]]]]]


def per_octave(value: Any, entries: int, what: str) -> list[Any]:
    """A setting given once or once per octave → ``entries`` entries (a 1-entry list applies to all)."""
    if not isinstance(value, list):
        return [value] * entries
    if len(value) == 1:
        return value * entries
    if len(value) != entries:
        raise ConfigError(
            f"model.{what} has {len(value)} entries but there are {entries} octaves; give one per octave or one for all"
        )
    return list(value)


def per_octave_channels(channels: ChannelSchedule) -> list[Optional[list[int]]]:
    """``model.channels`` as a list of entries: one list of channels for all octaves, or one per octave."""
    per_octave_lists = bool(channels) and any(c is None or isinstance(c, list) for c in channels or [])
    return list(channels) if per_octave_lists and channels is not None else [channels]  # type: ignore[arg-type, list-item]


def schedule_entries(layers: LayerSchedule, channels: ChannelSchedule) -> int:
    """How many entries the layer and channel schedule have: the longer of the per-octave lists, else 1."""
    return max(len(layers) if isinstance(layers, list) else 1, len(per_octave_channels(channels)))


class DreamObjective(nn.Module):
    """Per-image objective ``[B]`` of images ``[B, 3, H, W]`` at a step of their dream.

    The layer (and channel) schedule has as many entries as the longer list gives, stretched over a
    dream's levels (``check_entries``: one per octave unless ``octaves.count`` is ``auto``). ``kind``
    is DeepDream's whole-layer objective or a sum of terms (``objectives.parse_objective``), applied
    to each scheduled layer; ``diversity`` subtracts Lucid's diversity penalty. A batch may give
    each image its own channel (an atlas); with ``guide`` each position excites the guide's
    best-matching feature instead. Images longer than ``tile_size`` are measured tile by tile.

    Raises:
        ConfigError: layers or channels that do not fit the schedule or the network, or a guide
            that does not exist (``WeightsNotFoundError``: pretrained weights that are not here).
    """

    def __init__(
        self,
        backbone: str,
        weights: Optional[str],
        layers: LayerSchedule,
        channels: ChannelSchedule,
        kind: Objective,
        guide: Guide = NO_GUIDE,
        tile_size: Optional[int] = None,
        channels_last: bool = False,
        compile: Compile = False,
        fades: Sequence[Any] = (),
        diversity: float = 0.0,
    ) -> None:
        super().__init__()
        if tile_size is not None and tile_size < 16:
            raise ConfigError(f"model.tile_size must be at least 16 px, got {tile_size}")
        if guide.image is not None and channels is not None:
            raise ConfigError("model.guide and model.channels both choose what to excite; set one of them")
        if diversity < 0:
            raise ConfigError(f"model.diversity must be >= 0, got {diversity}")
        self.terms: list[Term] = parse_objective(kind)
        if guide.image is not None and not all(term.plain for term in self.terms):
            raise ConfigError("model.guide and model.objective terms both choose what to excite; set one of them")
        self.caricature = any(term.kind == "caricature" for term in self.terms)
        if tile_size is not None and (self.caricature or diversity):
            raise ConfigError(
                "model.tile_size: a caricature and the diversity term compare whole images; unset model.tile_size"
            )
        self.kind = next((term.kind for term in self.terms if term.plain), "mean")
        self.tile_size, self.diversity = tile_size, diversity
        self.references: dict[str, Tensor] = {}  # caricature: the start photo's activations at this level
        self.directions: dict[tuple[Path, str], Tensor] = {}
        self.guides = Guides(guide.image, guide.side) if guide.image is not None else None
        entries = schedule_entries(layers, channels)
        self.layer_schedule: list[tuple[str, ...]] = [
            tuple(node_name(backbone, layer) for layer in (entry if isinstance(entry, list) else [entry]))
            for entry in per_octave(layers, entries, "layers")
        ]
        self.backbone, self.given_layers = backbone, layers
        fade_sets = [tuple(node_name(backbone, layer) for layer in self._entry(entry)) for entry in fades]
        self.extractor = LayerExtractor(
            build_backbone(backbone, weights), [*self.layer_schedule, *fade_sets], channels_last, compile
        )
        self.fade: Optional[list[tuple[float, tuple[str, ...], Optional[list[int]]]]] = None
        gc.collect()  # tracing leaves reference cycles that would keep the unused layers (VGG-16: 470 MB) alive
        self.channel_schedule = per_octave(per_octave_channels(channels), entries, "channels")
        self._check_terms()

    def _check_terms(self) -> None:
        """Channels and direction files fit every scheduled layer (before any dreaming)."""
        for name, width in self.widths().items():
            for term in self.terms:
                if term.channel is not None and term.channel >= width:
                    raise ConfigError(f"model.objective: channel {term.channel} is past {name}'s {width} channels")
                if term.source is not None and term.source.suffix.lower() in VECTOR_SUFFIXES:
                    vector = load_direction(term.source)
                    if len(vector) != width:
                        raise ConfigError(
                            f"model.objective: {term.source} has {len(vector)} numbers but {name} has {width} channels"
                        )
                    self.directions[term.source, name] = vector / vector.norm().clamp_min(1e-12)

    def _direction(self, term: Term, layer: str, layers: tuple[str, ...], device: torch.device) -> Tensor:
        """The unit direction of a ``direction`` term at ``layer``: its file's vector, or where the
        photo's activations point (their mean over positions)."""
        assert term.source is not None
        if (term.source, layer) not in self.directions:
            try:
                photo, _ = open_photo(term.source)
            except ImageError as error:
                raise ConfigError(f"model.objective: {error}") from None
            photo.thumbnail((448, 448))
            with torch.no_grad():
                activation = self.extractor(to_tensor(photo)[None].to(device), layers)[layer]
            vector = activation.float().mean(dim=(0, 2, 3)).cpu()
            self.directions[term.source, layer] = vector / vector.norm().clamp_min(1e-12)
        return self.directions[term.source, layer]

    def refer(self, pictures: Tensor, octave: int, levels: int) -> None:
        """Take ``pictures`` (the start photos at this level) as what a caricature accentuates."""
        if self.caricature:
            layers = self.layer_schedule[self.entry(octave, levels)]
            with torch.no_grad():
                self.references = {name: value.detach() for name, value in self.extractor(pictures, layers).items()}

    def layer_value(
        self,
        activation: Tensor,
        layer: str,
        layers: tuple[str, ...],
        channels: Optional[Sequence[int]],
        image_channels: Optional[Sequence[int]],
    ) -> Tensor:
        """The objective's per-image value ``[B]`` at one layer's ``activation``."""
        total: Optional[Tensor] = None
        for term in self.terms:
            if term.plain:
                value = activation_objective(activation, channels, term.kind, image_channels)
            elif term.kind == "caricature":
                value = caricature_objective(activation, self.references[layer])
            else:
                direction = self._direction(term, layer, layers, activation.device) if term.source else None
                value = term_objective(term, activation, direction)
            total = term.weight * value if total is None else total + term.weight * value
        assert total is not None
        if self.diversity:
            total = total - self.diversity * diversity_penalty(activation, image_channels)
        return total

    @staticmethod
    def _entry(entry: Any) -> list[Any]:
        return list(entry) if isinstance(entry, list) else [entry]

    def cross_fade(
        self, layers: Optional[Sequence[tuple[float, Any]]], channels: Optional[Sequence[tuple[float, Any]]]
    ) -> None:
        """From now on climb ``Σ weight · objective`` over the given layer entries and channel lists
        (``[(weight, value), …]``; ``None``: the schedule's own) instead of the schedule: keyframes'
        cross-fades. ``None`` for both returns to the schedule."""
        if layers is None and channels is None:
            self.fade = None
            return
        layer_terms = [(w, tuple(node_name(self.backbone, x) for x in self._entry(v))) for w, v in layers or []]
        channel_terms = [(w, None if v is None else self._entry(v)) for w, v in channels or []]
        self.fade = [
            (wl * wc, entry, chosen)
            for wl, entry in layer_terms or [(1.0, ())]
            for wc, chosen in channel_terms or [(1.0, None)]
            if wl * wc > 0
        ]

    def _faded(self, images: Tensor, entry: int) -> dict[str, Tensor]:
        """Per-image objective of every cross-faded term, weighted (``cross_fade``)."""
        assert self.fade is not None
        terms = [
            (weight, layers or self.layer_schedule[entry], self.channel_schedule[entry] if chosen is None else chosen)
            for weight, layers, chosen in self.fade
        ]
        needed = tuple(dict.fromkeys(layer for _, layers, _ in terms for layer in layers))
        covering = self.extractor.covering(needed)
        activations = self.extractor(images, covering)
        objectives: dict[str, Tensor] = {}
        for weight, layers, chosen in terms:
            for layer in layers:
                key = layer if chosen is None else f"{layer}{list(chosen)}"
                value = weight * self.layer_value(activations[layer], layer, covering, chosen, None)
                objectives[key] = objectives[key] + value if key in objectives else value
        return objectives

    @staticmethod
    def channels_last_for(backbone: str, channels_last: Union[bool, str]) -> bool:
        """``auto``: channels-last where it measured faster for ``backbone``."""
        return backbone_spec(backbone).channels_last_faster if channels_last == "auto" else bool(channels_last)

    def check_entries(self, octaves: Union[int, str]) -> None:
        """A per-octave schedule has one entry per octave when ``octaves`` is a number.

        Raises:
            ConfigError: a per-octave layer or channel list of another length.
        """
        entries = len(self.layer_schedule)
        if isinstance(octaves, int) and entries not in (1, octaves):
            what = "layers" if isinstance(self.given_layers, list) and len(self.given_layers) == entries else "channels"
            raise ConfigError(
                f"model.{what} has {entries} entries but there are {octaves} octaves; "
                "give one per octave or one for all"
            )

    def entry(self, octave: int, levels: int) -> int:
        """The schedule entry of level ``octave`` of a dream of ``levels`` levels (-1: the last)."""
        return stretched(octave, levels, len(self.layer_schedule))

    def min_side(self, octave: int, levels: int) -> int:
        """The smallest image side the layers of ``octave`` can work on."""
        return self.extractor.min_input_size(self.layer_schedule[self.entry(octave, levels)])

    def widths(self) -> dict[str, int]:
        """Channels of every scheduled layer."""
        return {name: width for layers in self.layer_schedule for name, width in self.extractor.widths(layers).items()}

    def check_names(self, names: Sequence[str]) -> None:
        """Every input has what the objective needs of it (its guide)."""
        if self.guides is not None:
            self.guides.check(names)

    def per_layer(self, images: Tensor, batch: DreamBatch, octave: Optional[int] = None) -> dict[str, Tensor]:
        """Per-image objective ``[B]`` of each layer scheduled for ``octave`` (default: the batch's)."""
        position = batch.position
        entry = self.entry(position.octave if octave is None else octave, position.levels)
        if self.fade is not None and self.guides is None:
            return self._faded(images, entry)
        layers = self.layer_schedule[entry]
        activations = self.extractor(images, layers)
        if self.guides is not None:
            names = batch.names or [""] * images.shape[0]
            guides = self.guides.features(
                [self.guides.source(name) for name in names],
                layers,
                lambda pixels: self.extractor(pixels.to(images.device), layers),
            )
            return {
                layer: guided_objectives(value, [guide[layer] for guide in guides])
                for layer, value in activations.items()
            }
        channels = self.channel_schedule[entry]
        return {
            layer: self.layer_value(value, layer, layers, channels, batch.channels)
            for layer, value in activations.items()
        }

    def forward(self, images: Tensor, batch: DreamBatch, octave: Optional[int] = None) -> Tensor:
        """The per-image objective ``[B]``: the layers' objectives summed."""
        return torch.stack(list(self.per_layer(images, batch, octave).values())).sum(dim=0)

    def tiles(self, images: Tensor) -> bool:
        """Whether ``images`` are measured tile by tile."""
        return self.tile_size is not None and max(images.shape[-2:]) > self.tile_size

    def gradient(self, images: Tensor, batch: DreamBatch) -> tuple[Tensor, Tensor]:
        """The objective's gradient and value ``[B]``, tile by tile (memory bounded by the tile)."""
        assert self.tile_size is not None
        return tiled_gradient(lambda piece: self(piece, batch), images, self.tile_size)

    def measure(self, images: Tensor, batch: DreamBatch) -> Tensor:
        """The objective ``[B]`` of the last octave's layers, without gradients."""
        octave = batch.position.levels - 1
        if self.tiles(images):
            assert self.tile_size is not None
            return tiled_objective(lambda piece: self(piece, batch, octave), images, self.tile_size)
        with torch.no_grad():
            return self(images, batch, octave)
