"""The boundary between the owner of a dream and the module: one immutable record per step."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dreamer.engine.contract.batch import DreamBatch, Frame, Pace
from dreamer.engine.contract.octaves import Octaves, OctaveWalk, renewed_step_weights
from dreamer.engine.contract.outline import DreamOutline, DreamSteps
from dreamer.engine.contract.step import Dreamable, DreamStep
from tests.conftest import tiny_model
from tests.test_steps import FakeModule


def test_a_step_confines_the_images_to_the_mask_in_place():
    source, mask = torch.zeros(1, 3, 2, 2), torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    images = torch.ones(1, 3, 2, 2)
    DreamStep(0, 1, True, confinement=(source, mask)).confine(images)
    assert torch.equal(images[0, 0], torch.tensor([[1.0, 0.5], [0.0, 1.0]]))


def test_a_step_record_cannot_be_changed_by_whoever_reads_it():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DreamStep(0, 1, True).octave = 1  # type: ignore[misc]


def steps_taken(batch: DreamBatch, levels: int, iterations: int, module: FakeModule) -> list[DreamStep]:
    schedule = OctaveWalk(Octaves(scale=2.0))
    trainer = SimpleNamespace(optimizers=[])
    total = (levels - (batch.pace or Pace()).first_octave) * iterations
    for index, step in enumerate(
        DreamSteps([batch], DreamOutline(Octaves(count=levels, scale=2.0, iterations=iterations)), total)
    ):
        schedule.on_train_batch_start(trainer, module, step, index)
        schedule.on_train_batch_end(trainer, module, {"objective": torch.ones(1)}, step, index)
    return module.steps


def test_the_module_takes_one_record_per_step_with_its_own_level_and_the_dreams_jitter():
    module = FakeModule()
    taken = steps_taken(DreamBatch(torch.rand(1, 3, 32, 32), ["a"], [7]), levels=2, iterations=3, module=module)
    assert [(step.octave, step.levels, step.dreaming) for step in taken] == [(0, 2, True)] * 3 + [(1, 2, True)] * 3
    assert len({id(step.jitter[0]) for step in taken}) == 1  # one generator for the whole dream
    assert module.lrs == [0.1]  # the settings' step size, set once at the dream's start


def test_a_masked_frame_hands_each_level_its_own_confinement_and_renewed_pixels_their_step_weights():
    renewed = np.zeros((32, 32), np.float32)
    renewed[:, :16] = 1
    frame = Frame(0, 1, 2, continues=False, previous=None, target=Path("x.png"), renewed=renewed)
    batch = DreamBatch(
        torch.rand(1, 3, 32, 32), ["a"], [0], mask=torch.ones(1, 1, 32, 32), frame=frame, pace=Pace(1, 2, 2, lr=0.025)
    )
    module = FakeModule(base_lr=0.1)
    taken = steps_taken(batch, levels=2, iterations=2, module=module)
    assert [step.octave for step in taken] == [1, 1]  # a frame that dreams its top level only
    assert module.lrs == [0.025]
    source, mask = taken[0].confinement  # type: ignore[misc]
    assert source.shape[-2:] == (32, 32)
    assert torch.equal(mask, torch.ones(1, 1, 32, 32))
    weights = taken[0].step_weights
    assert weights is not None
    torch.testing.assert_close(weights[0, 0, :, :16], torch.full((32, 16), 4.0))  # 0.1 / 0.025
    torch.testing.assert_close(weights[0, 0, :, 16:], torch.ones(32, 16))


def test_renewed_step_weights_leave_out_the_levels_a_frame_does_not_dream():
    renewed = np.ones((8, 8), np.float32)
    frame = Frame(0, 1, 2, continues=True, previous=None, target=Path("x.png"), renewed=renewed)
    batch = DreamBatch(None, frame=frame, pace=Pace(1, 4, 2, lr=0.005))
    weights = renewed_step_weights(batch, [torch.rand(1, 3, 4, 4), torch.rand(1, 3, 8, 8)], full=4.0)
    assert weights is not None
    assert weights[0] is None
    torch.testing.assert_close(weights[1], torch.full((1, 1, 8, 8), 4.0))
    assert renewed_step_weights(DreamBatch(None), [torch.rand(1, 3, 8, 8)], full=4.0) is None


def test_the_module_and_the_tests_fake_both_offer_what_the_owner_may_ask():
    assert isinstance(tiny_model(), Dreamable)
    assert isinstance(FakeModule(), Dreamable)
