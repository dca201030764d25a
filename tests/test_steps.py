"""The step stream and the octave walk, without a Trainer: what each step of a dream sees."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dreamer.dream.octaves import OctaveSchedule, dream_position
from dreamer.dream.pyramid import octave_sizes
from dreamer.photos.data import DreamSteps


def test_every_batch_repeats_for_its_steps_and_only_the_first_carries_pixels():
    pixels = torch.rand(1, 3, 4, 4)
    loader = [{"pixels": pixels, "names": ["a"]}, {"pixels": pixels, "names": ["b"], "steps": 2}]
    stream = list(DreamSteps(loader, steps=3, total=5))
    assert [(item["names"], item["step"], item["steps"]) for item in stream] == [
        (["a"], 0, 3),
        (["a"], 1, 3),
        (["a"], 2, 3),
        (["b"], 0, 2),
        (["b"], 1, 2),
    ]
    assert ["pixels" in item for item in stream] == [True, False, False, True, False]


def test_a_process_with_less_to_dream_takes_idle_steps_up_to_the_busiest():
    stream = list(DreamSteps([{"pixels": torch.rand(1, 3, 4, 4), "names": ["a"]}], steps=2, total=5))
    assert len(stream) == 5
    assert [item["names"] for item in stream[2:]] == [[], [], []]
    assert all(item["pixels"].shape[0] == 0 and item["steps"] == 1 for item in stream[2:])


def test_the_stream_stops_at_its_total():
    stream = list(DreamSteps([{"pixels": torch.rand(1, 3, 4, 4), "names": ["a"]}] * 3, steps=4, total=6))
    assert [item["step"] for item in stream] == [0, 1, 2, 3, 0, 1]


def test_dream_positions_walk_the_octaves_and_a_continued_frame_starts_higher():
    assert [dream_position({"step": step}, 3) for step in range(7)] == [
        (0, 0, 3),
        (0, 1, 3),
        (0, 2, 3),
        (1, 0, 3),
        (1, 1, 3),
        (1, 2, 3),
        (2, 0, 3),
    ]
    frame = {"first_octave": 3, "iterations": 2}
    assert [dream_position({**frame, "step": step}, 10) for step in range(3)] == [(3, 0, 2), (3, 1, 2), (4, 0, 2)]


class FakeModule:
    """What OctaveSchedule asks of the LightningModule: its levels, minimum sizes and the image."""

    def __init__(self, levels: int, min_side: int = 1) -> None:
        self.levels, self.min_side = levels, min_side
        self.image = torch.nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.octave, self.octave_active = 0, True
        self.started: list = []

    def levels_for(self, size):
        return self.levels

    def min_input_size(self, octave):
        return self.min_side

    def start_dream(self, seeds, channels, names, levels):
        self.started.append((seeds, names, levels))


def walk(schedule: OctaveSchedule, module: FakeModule, pixels: torch.Tensor, iterations: int, dream=None):
    """Every step's image size and whether the optimizer's state was cleared before it."""
    optimizer = torch.optim.Adam([module.image], lr=0.1)
    trainer = SimpleNamespace(optimizers=[optimizer])
    seen = []
    for step in range(module.levels * iterations):
        optimizer.state[module.image] = {"step": torch.tensor(1.0)}
        batch = {"pixels": pixels, "seeds": [0], "names": ["a"], "step": step, "steps": module.levels * iterations}
        schedule.on_train_batch_start(trainer, module, batch, step)
        seen.append((tuple(module.image.shape[-2:]), module.octave, not optimizer.state))
        if dream is not None:
            module.image.data = dream(module.image.data)
    return seen


def test_octaves_go_smallest_first_and_each_starts_with_a_fresh_optimizer_state():
    photo = torch.rand(1, 3, 60, 90)
    sizes = octave_sizes(60, 90, 3, 1.5)
    seen = walk(OctaveSchedule(scale=1.5, iterations=2), FakeModule(levels=3), photo, iterations=2)
    assert [size for size, _, _ in seen] == [sizes[0], sizes[0], sizes[1], sizes[1], sizes[2], sizes[2]]
    assert [octave for _, octave, _ in seen] == [0, 0, 1, 1, 2, 2]
    assert [cleared for _, _, cleared in seen] == [True, False, True, False, True, False]


def test_the_next_octave_starts_from_the_dream_blended_with_alpha():
    photo = torch.full((1, 3, 40, 40), 0.5)
    schedule = OctaveSchedule(scale=2.0, iterations=1, alpha=0.25)
    module = FakeModule(levels=2)
    walk(schedule, module, photo, iterations=1, dream=lambda image: image + 0.2)  # every dream brightens by 0.2
    # The top level starts from the photo's level plus alpha × (the dream − its own start): 0.5 + 0.25·0.2.
    assert torch.allclose(module.image.data - 0.2, torch.full_like(module.image.data, 0.55), atol=1e-5)


def test_levels_too_small_for_their_layers_are_skipped_and_a_too_small_photo_refused():
    photo = torch.rand(1, 3, 40, 40)
    seen = walk(OctaveSchedule(scale=2.0, iterations=1), FakeModule(levels=3, min_side=15), photo, iterations=1)
    assert [size for size, _, _ in seen][1:] == [(20, 20), (40, 40)]  # the 10 px level is not dreamed
    with pytest.raises(ValueError, match="smaller than the 50 px"):
        walk(OctaveSchedule(scale=2.0, iterations=1), FakeModule(levels=2, min_side=50), photo, iterations=1)
