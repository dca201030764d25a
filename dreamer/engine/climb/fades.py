"""Keyframes' cross-fades of layers and channels: between two keyframes a dream climbs both, each
weighted by how near its keyframe is (``animation.keyframes``, ``motion.timeline``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

from torch import Tensor

from dreamer.engine.climb.schedule import Schedule, entry_list
from dreamer.engine.networks.backbones import LayerRef
from dreamer.engine.networks.extractor import LayerExtractor

# The value at one layer: (activation, layer, channels, the layers being climbed) → per image [B].
LayerValue = Callable[[Tensor, str, Optional[Sequence[int]], tuple[str, ...]], Tensor]


class CrossFade:
    """``Σ weight · objective`` over weighted layer entries and channel lists, in place of the
    schedule's entry while ``active``."""

    def __init__(self, layer: Callable[[LayerRef], str]) -> None:
        self.layer = layer  # a layer reference → its node (``Network.layer``)
        self.terms: Optional[list[tuple[float, tuple[str, ...], Optional[list[int]]]]] = None

    @property
    def active(self) -> bool:
        return self.terms is not None

    def set(
        self, layers: Optional[Sequence[tuple[float, Any]]], channels: Optional[Sequence[tuple[float, Any]]]
    ) -> None:
        """From now on climb the given layer entries and channel lists (``[(weight, value), …]``;
        ``None``: the schedule's own); ``None`` for both returns to the schedule."""
        if layers is None and channels is None:
            self.terms = None
            return
        layer_terms = [(w, tuple(self.layer(x) for x in entry_list(v))) for w, v in layers or []]
        channel_terms = [(w, None if v is None else entry_list(v)) for w, v in channels or []]
        self.terms = [
            (wl * wc, entry, chosen)
            for wl, entry in layer_terms or [(1.0, ())]
            for wc, chosen in channel_terms or [(1.0, None)]
            if wl * wc > 0
        ]

    def objectives(
        self, images: Tensor, entry: int, schedule: Schedule, extractor: LayerExtractor, value: LayerValue
    ) -> dict[str, Tensor]:
        """Per-image objective of every cross-faded term at the schedule's ``entry``, weighted."""
        assert self.terms is not None
        terms = [
            (weight, layers or schedule.layers[entry], schedule.channels[entry] if chosen is None else chosen)
            for weight, layers, chosen in self.terms
        ]
        needed = tuple(dict.fromkeys(layer for _, layers, _ in terms for layer in layers))
        covering = extractor.covering(needed)
        activations = extractor(images, covering)
        objectives: dict[str, Tensor] = {}
        for weight, layers, chosen in terms:
            for layer in layers:
                key = layer if chosen is None else f"{layer}{list(chosen)}"
                term = weight * value(activations[layer], layer, chosen, covering)
                objectives[key] = objectives[key] + term if key in objectives else term
        return objectives
