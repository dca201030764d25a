"""``engine.climb.schedule``: ``model.layers`` and ``model.channels`` resolved into per-octave entries."""

from __future__ import annotations

from functools import partial

import pytest

from dreamer.engine.climb.schedule import Schedule, per_octave_channels
from dreamer.engine.networks.backbones import node_name
from dreamer.errors import ConfigError

MOBILENET = partial(node_name, "mobilenet_v2")  # its layers by name or number, as Network.layer names them


def test_one_layer_is_one_entry_for_every_octave():
    schedule = Schedule(MOBILENET, 7, None)
    assert schedule.layers == [("features.7",)]
    assert schedule.channels == [None]
    assert [schedule.entry(octave, 5) for octave in range(5)] == [0] * 5


def test_a_list_gives_one_entry_per_octave_and_an_entry_may_sum_layers():
    schedule = Schedule(MOBILENET, [3, [5, 7]], None)
    assert schedule.layers == [("features.3",), ("features.5", "features.7")]
    assert schedule.channels == [None, None]


def test_entries_stretch_over_any_number_of_levels_first_on_the_smallest_last_on_the_full_size():
    schedule = Schedule(MOBILENET, [4, 7, 11], None)
    assert [schedule.entry(octave, 5) for octave in range(5)] == [0, 1, 1, 2, 2]
    assert schedule.entry(-1, 2) == 2


def test_channels_are_one_list_for_all_octaves_or_one_per_octave():
    assert per_octave_channels([3, 7]) == [[3, 7]]
    assert per_octave_channels([[3], None]) == [[3], None]
    assert Schedule(MOBILENET, 7, [[3], [5]]).channels == [[3], [5]]
    assert Schedule(MOBILENET, 7, [[3], [5]]).layers == [("features.7",), ("features.7",)]


def test_per_octave_lists_of_different_lengths_are_refused():
    with pytest.raises(ConfigError, match="model.layers has 2 entries and model.channels 3"):
        Schedule(MOBILENET, [3, 7], [[1], [2], [3]])


@pytest.mark.parametrize(
    "layers, channels, octaves, message",
    [
        ([3, 5, 7], None, 2, "model.layers has 3 entries but there are 2 octaves"),
        (7, [[1], [2], [3]], 4, "model.channels has 3 entries but there are 4 octaves"),
    ],
)
def test_a_per_octave_list_must_match_a_number_of_octaves(layers, channels, octaves, message):
    with pytest.raises(ConfigError, match=message):
        Schedule(MOBILENET, layers, channels).check_entries(octaves)


def test_one_entry_or_auto_octaves_fit_any_list():
    Schedule(MOBILENET, 7, None).check_entries(6)
    Schedule(MOBILENET, [3, 5, 7], None).check_entries(3)
    Schedule(MOBILENET, [3, 5, 7], None).check_entries("auto")
