"""The layer schedule: which layers (and channels) a dream climbs at each octave, as ``model.layers``
and ``model.channels`` give them, stretched over however many levels a dream has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, Union

from dreamer.engine.image.pyramid import stretched
from dreamer.engine.networks.backbones import LayerRef
from dreamer.errors import ConfigError

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


def entry_list(entry: Any) -> list[Any]:
    """A schedule entry (one layer, or a list of layers whose objectives are summed) as a list."""
    return list(entry) if isinstance(entry, list) else [entry]


class Schedule:
    """``model.layers`` and ``model.channels`` resolved, each layer named by ``layer`` (the network's
    ``Network.layer``): as many entries as the longer
    per-octave list gives (else one), each a tuple of layer names and the channels to climb there
    (``None``: all).

    Raises:
        ConfigError: per-octave lists of different lengths, or a layer the network does not have.
    """

    def __init__(self, layer: Callable[[LayerRef], str], layers: LayerSchedule, channels: ChannelSchedule) -> None:
        layer_entries = len(layers) if isinstance(layers, list) else 1
        channel_entries = len(per_octave_channels(channels))
        if min(layer_entries, channel_entries) > 1 and layer_entries != channel_entries:
            raise ConfigError(
                f"model.layers has {layer_entries} entries and model.channels {channel_entries}; "
                "give each one per octave, or one for all"
            )
        entries = max(layer_entries, channel_entries)
        self.layers: list[tuple[str, ...]] = [
            tuple(layer(reference) for reference in entry_list(entry))
            for entry in per_octave(layers, entries, "layers")
        ]
        self.channels: list[Optional[list[int]]] = per_octave(per_octave_channels(channels), entries, "channels")
        self.layers_given_per_octave = isinstance(layers, list) and len(layers) == entries

    def entry(self, octave: int, levels: int) -> int:
        """The entry of level ``octave`` of a dream of ``levels`` levels (-1: the last)."""
        return stretched(octave, levels, len(self.layers))

    def check_entries(self, octaves: Union[int, str]) -> None:
        """A per-octave schedule has one entry per octave when ``octaves`` is a number.

        Raises:
            ConfigError: a per-octave layer or channel list of another length.
        """
        entries = len(self.layers)
        if isinstance(octaves, int) and entries not in (1, octaves):
            what = "layers" if self.layers_given_per_octave else "channels"
            raise ConfigError(
                f"model.{what} has {entries} entries but there are {octaves} octaves; "
                "give one per octave or one for all"
            )
