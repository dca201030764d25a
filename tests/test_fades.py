"""``engine.fades``: keyframes' cross-fades climb several layers or channels, each by its weight."""

from __future__ import annotations

from functools import partial

import torch

from dreamer.engine.climb.fades import CrossFade
from dreamer.engine.climb.schedule import Schedule
from dreamer.engine.networks.backbones import node_name
from dreamer.engine.networks.extractor import LayerExtractor
from tests.conftest import tiny_model

MOBILENET = partial(node_name, "mobilenet_v2")  # its layers by name or number, as Network.layer names them


def mean_value(activation, layer, channels, layers):
    chosen = activation if channels is None else activation[:, list(channels)]
    return chosen.mean(dim=(1, 2, 3))


def test_no_fade_is_the_schedule_and_none_for_both_returns_to_it():
    fade = CrossFade(MOBILENET)
    assert not fade.active
    fade.set([(1.0, 7)], None)
    assert fade.active
    fade.set(None, None)
    assert not fade.active


def test_faded_layers_are_climbed_each_by_its_weight():
    objective = tiny_model(animated_layers=[[7, 11]]).objective  # as keyframes build it (fading_layers)
    extractor: LayerExtractor = objective.extractor
    images = torch.rand(1, 3, 64, 64)
    fade = CrossFade(MOBILENET)
    fade.set([(0.25, 7), (0.75, 11)], None)
    faded = fade.objectives(images, 0, Schedule(MOBILENET, 7, None), extractor, mean_value)
    with torch.no_grad():
        both = extractor(images, ("features.7", "features.11"))
        seven, eleven = (both[name].mean(dim=(1, 2, 3)) for name in ("features.7", "features.11"))
    assert set(faded) == {"features.7", "features.11"}
    assert torch.allclose(faded["features.7"], 0.25 * seven, atol=1e-6)
    assert torch.allclose(faded["features.11"], 0.75 * eleven, atol=1e-6)


def test_faded_channels_keep_the_schedules_layer_and_are_told_apart():
    objective = tiny_model().objective
    fade = CrossFade(MOBILENET)
    fade.set(None, [(0.5, [3]), (0.5, 5)])
    images = torch.rand(1, 3, 64, 64)
    faded = fade.objectives(images, 0, Schedule(MOBILENET, 7, None), objective.extractor, mean_value)
    assert set(faded) == {"features.7[3]", "features.7[5]"}
