"""The step stream, the octave walk and the frame carry, without a Trainer: what each step of a dream sees."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dreamer.engine.contract.batch import DreamBatch, Frame, Pace, Position
from dreamer.engine.contract.events import DreamListener
from dreamer.engine.contract.octaves import Octaves, OctaveWalk
from dreamer.engine.contract.outline import DreamOutline, DreamSteps
from dreamer.engine.contract.step import DreamStep
from dreamer.engine.image.pyramid import octave_sizes
from dreamer.errors import ConfigError
from dreamer.motion.carry import FrameCarry
from dreamer.motion.plan import FramePace, FrameSpan


def batch(name: str = "a", side: int = 4, **fields) -> DreamBatch:
    return DreamBatch(pixels=torch.rand(1, 3, side, side), names=[name], seeds=[0], **fields)


def test_every_batch_repeats_for_its_steps_and_only_the_first_carries_pixels():
    schedule = DreamOutline(Octaves(count=3, scale=1.5, iterations=1))
    loader = [batch("a"), batch("b", pace=Pace(first_octave=0, iterations=1, levels=2))]
    stream = list(DreamSteps(loader, schedule, total=5))
    assert [(item.names, item.position.step, item.position.steps) for item in stream] == [
        (["a"], 0, 3),
        (["a"], 1, 3),
        (["a"], 2, 3),
        (["b"], 0, 2),
        (["b"], 1, 2),
    ]
    assert [item.pixels is not None for item in stream] == [True, False, False, True, False]


def test_positions_walk_the_octaves_and_a_continued_frame_starts_higher():
    schedule = DreamOutline(Octaves(count=3, scale=1.5, iterations=2))
    positions = [item.position for item in DreamSteps([batch()], schedule, total=6)]
    assert [(p.octave, p.iteration) for p in positions] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert [p.octave_start for p in positions] == [True, False] * 3
    assert [p.octave_end for p in positions] == [False, True] * 3
    assert [p.dream_end for p in positions] == [False] * 5 + [True]
    frame = batch(pace=Pace(first_octave=2, iterations=3, levels=3))
    walked = [item.position for item in DreamSteps([frame], schedule, total=3)]
    assert walked == [Position(step, 3, 2, step, 3, 3) for step in range(3)]


def test_auto_octaves_give_each_size_its_own_levels():
    schedule = DreamOutline(Octaves(count="auto", scale=2.0, iterations=1, smallest=16))
    assert schedule.levels_for((16, 16)) == 1
    assert schedule.levels_for((64, 32)) == 3
    stream = list(DreamSteps([batch(side=64), batch(side=16)], schedule, total=4))
    assert [item.position.levels for item in stream] == [3, 3, 3, 1]


def test_a_process_with_less_to_dream_takes_idle_steps_up_to_the_busiest():
    schedule = DreamOutline(Octaves(count=2, scale=1.5, iterations=1))
    stream = list(DreamSteps([batch()], schedule, total=5))
    assert len(stream) == 5
    assert [item.names for item in stream[2:]] == [[], [], []]
    assert all(item.pixels is not None and item.pixels.shape[0] == 0 for item in stream[2:])
    assert all(item.position.dream_start and item.position.dream_end for item in stream[2:])


def test_the_stream_stops_at_its_total():
    schedule = DreamOutline(Octaves(count=4, scale=1.5, iterations=1))
    stream = list(DreamSteps([batch()] * 3, schedule, total=6))
    assert [item.position.step for item in stream] == [0, 1, 2, 3, 0, 1]


def test_a_continued_frame_dreams_only_the_top_octaves_for_its_own_iterations():
    pace = FramePace(octaves=3, iterations=10, frame_octaves=1, frame_iterations=2)
    assert pace.of(False) == Pace(0, 10, 3)
    assert pace.of(True) == Pace(2, 2, 3)
    span = FrameSpan(job=0, start=0, write_from=0, stop=4, resume=False)
    assert pace.span(span) == 30 + 3 * 2
    assert pace.span(span, carries=False) == 4 * 30


class FakeModule:
    """A ``Dreamable`` (what OctaveWalk may ask of the module): minimum sides, the picture, restarts."""

    def __init__(self, min_side: int = 1, base_lr: float = 0.1) -> None:
        self.sides = min_side
        self.image = torch.nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.device = torch.device("cpu")
        self.base_lr, self.spatial = base_lr, True
        self.steps: list[DreamStep] = []
        self.lrs: list[float] = []

    def min_side(self, octave: int, levels: int) -> int:
        return self.sides

    def noise(self, shape, seeds) -> torch.Tensor:
        return torch.full(shape, 0.5)

    def set_lr(self, lr: float) -> None:
        self.lrs.append(lr)

    def take(self, step: DreamStep) -> None:
        self.steps.append(step)

    def restart(self, start: torch.Tensor, original=None) -> None:
        self.image.data = start.clone()

    def picture(self) -> torch.Tensor:
        return self.image.detach()

    def gradient(self):
        return self.image.grad


class Recorder(DreamListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_dream_start(self, trainer, dream):
        self.events.append(("dream", dream.octave))

    def on_octave_start(self, trainer, dream):
        self.events.append(("octave", dream.octave))

    def on_octave_end(self, trainer, dream, images):
        self.events.append(("octave end", dream.octave))

    def on_dream_end(self, trainer, dream, images):
        self.events.append(("dream end", dream.octave))


def walk(schedule: OctaveWalk, module: FakeModule, pixels: torch.Tensor, levels: int, iterations: int, dream=None):
    """Every step's image size, octave and whether the optimizer's state was cleared before it."""
    optimizer = torch.optim.Adam([module.image], lr=0.1)
    trainer = SimpleNamespace(optimizers=[optimizer])
    steps = DreamSteps(
        [DreamBatch(pixels, ["a"], [0])],
        DreamOutline(Octaves(count=levels, scale=schedule.octaves.scale, iterations=iterations)),
        levels * iterations,
    )
    seen = []
    for index, step in enumerate(steps):
        optimizer.state[module.image] = {"step": torch.tensor(1.0)}
        schedule.on_train_batch_start(trainer, module, step, index)
        seen.append((tuple(module.image.shape[-2:]), step.position.octave, not optimizer.state))
        if dream is not None:
            module.image.data = dream(module.image.data)
        schedule.on_train_batch_end(trainer, module, {"objective": torch.ones(1)}, step, index)
    return seen


def test_octaves_go_smallest_first_each_with_a_fresh_optimizer_state_and_listeners_hear_each_event():
    photo = torch.rand(1, 3, 60, 90)
    sizes = octave_sizes(60, 90, 3, 1.5)
    recorder = Recorder()
    seen = walk(OctaveWalk(Octaves(scale=1.5), listeners=[recorder]), FakeModule(), photo, levels=3, iterations=2)
    assert [size for size, _, _ in seen] == [sizes[0], sizes[0], sizes[1], sizes[1], sizes[2], sizes[2]]
    assert [octave for _, octave, _ in seen] == [0, 0, 1, 1, 2, 2]
    assert [cleared for _, _, cleared in seen] == [True, False, True, False, True, False]
    assert recorder.events == [
        ("dream", 0),
        ("octave", 0),
        ("octave end", 0),
        ("octave", 1),
        ("octave end", 1),
        ("octave", 2),
        ("octave end", 2),
        ("dream end", 2),
    ]


def test_the_next_octave_starts_from_the_dream_blended_with_alpha():
    photo = torch.full((1, 3, 40, 40), 0.5)
    module = FakeModule()
    brighten = lambda image: image + 0.2  # noqa: E731  every dream brightens by 0.2
    walk(OctaveWalk(Octaves(scale=2.0, alpha=0.25)), module, photo, levels=2, iterations=1, dream=brighten)
    # The top level started from the photo's level plus alpha × (the dream − its own start): 0.5 + 0.25·0.2.
    assert torch.allclose(module.image.data - 0.2, torch.full_like(module.image.data, 0.55), atol=1e-5)


def test_levels_too_small_for_their_layers_are_skipped_and_not_heard_and_a_too_small_photo_refused():
    photo = torch.rand(1, 3, 40, 40)
    recorder = Recorder()
    schedule = OctaveWalk(Octaves(scale=2.0), listeners=[recorder])
    seen = walk(schedule, FakeModule(min_side=15), photo, levels=3, iterations=1)
    assert [size for size, _, _ in seen][1:] == [(20, 20), (40, 40)]  # the 10 px level is not dreamed
    assert ("octave end", 0) not in recorder.events
    assert ("octave end", 1) in recorder.events
    with pytest.raises(ConfigError, match="smaller than the 50 px"):
        walk(OctaveWalk(Octaves(scale=2.0)), FakeModule(min_side=50), photo, levels=2, iterations=1)


def test_a_continued_frame_starts_from_the_carry_of_the_previous_dream(tmp_path: Path):
    previous_png = tmp_path / "000000.png"
    carry = FrameCarry()
    first = torch.zeros(1, 3, 8, 8)
    first[..., 0] = 1.0  # a white left column
    frame = Frame(sequence=0, number=0, count=2, continues=False, previous=None, target=previous_png)
    dream = SimpleNamespace(batch=DreamBatch(first, ["clip"], [0], frame=frame))
    carry.on_dream_end(None, dream, first)  # kept in memory: no PNG is read
    step_right = (1.0, 0.0, (1.0, 0.0))  # a zoom step of one pixel to the right, nothing else
    following = Frame(0, 1, 2, continues=True, previous=previous_png, target=tmp_path / "000001.png", zoom=step_right)
    start = carry(DreamBatch(None, ["clip"], [0], frame=following), torch.device("cpu"))
    assert start.shape == (1, 3, 8, 8)
    assert torch.equal(start[0, :, :, 1], torch.ones(3, 8))
    assert start[0, :, :, 0].max() == 0
    schedule = OctaveWalk(Octaves(scale=2.0), carry=carry)
    module = FakeModule()
    step = DreamBatch(None, ["clip"], [0], frame=following, init="photo", position=Position(0, 1, 0, 0, 1, 1))
    schedule.on_train_batch_start(SimpleNamespace(optimizers=[]), module, step, 0)
    assert torch.equal(module.image.data, start)
