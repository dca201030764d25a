"""``motion.carry``: a continued frame's start is the previous dream moved as its ``Frame`` says,
colours held; with a target flicker, the carried share is tuned from what the carry saw."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.motion.carry import CarryTuner, FrameCarry

STILL = np.zeros((8, 8, 2), np.float32)  # a backward flow of no motion
ALL = np.ones((8, 8), bool)


def frame(number: int, folder: Path, **moves) -> Frame:
    previous = folder / f"{number - 1:06d}.png" if number else None
    return Frame(0, number, 4, number > 0, previous, folder / f"{number:06d}.png", **moves)


def dreamed(carry: FrameCarry, number: int, folder: Path, picture: torch.Tensor, pixels: torch.Tensor, **moves):
    """Tell ``carry`` that frame ``number`` (of ``pixels``) was dreamed into ``picture``."""
    batch = DreamBatch(pixels[None], ["clip"], [0], frame=frame(number, folder, **moves))
    carry.on_dream_end(None, SimpleNamespace(batch=batch), picture[None])


def test_a_video_frame_starts_from_the_carried_share_of_the_previous_dream_and_the_rest_of_the_frame(tmp_path):
    carry = FrameCarry()
    white, grey = torch.ones(3, 8, 8), torch.full((3, 8, 8), 0.5)
    dreamed(carry, 0, tmp_path, white, grey)
    carried = np.full((8, 8), 0.25, np.float32)
    batch = DreamBatch(grey[None], ["clip"], [0], frame=frame(1, tmp_path, backward=STILL, carried=carried))
    start = carry(batch, torch.device("cpu"))
    assert torch.allclose(start, torch.full((1, 3, 8, 8), 0.25 * 1.0 + 0.75 * 0.5))


def test_held_colours_pull_the_start_towards_the_frames_means(tmp_path):
    carry = FrameCarry()
    dreamed(carry, 0, tmp_path, torch.ones(3, 8, 8), torch.zeros(3, 8, 8))
    carried = np.ones((8, 8), np.float32)  # all of the white dream …
    moves = dict(backward=STILL, carried=carried, keep_colors=0.5)  # … pulled half way to the black frame
    batch = DreamBatch(torch.zeros(1, 3, 8, 8), ["clip"], [0], frame=frame(1, tmp_path, **moves))
    assert torch.allclose(carry(batch, torch.device("cpu")), torch.full((1, 3, 8, 8), 0.5))


def test_a_zoom_frame_starts_from_the_previous_dream_moved_by_its_step(tmp_path):
    carry = FrameCarry()
    left = torch.zeros(3, 8, 8)
    left[..., 0] = 1.0
    dreamed(carry, 0, tmp_path, left, left)
    start = carry(DreamBatch(None, ["z"], [0], frame=frame(1, tmp_path, zoom=(1.0, 0.0, (2.0, 0.0)))), "cpu")
    assert start[0, 0, 0].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]  # two pixels to the right


def test_the_previous_dream_is_read_back_from_its_png_when_it_is_not_in_memory(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(tmp_path / "000000.png")
    carry = FrameCarry()  # a resumed run: frame 0 was dreamed by an earlier one
    batch = DreamBatch(None, ["z"], [0], frame=frame(1, tmp_path, zoom=(1.0, 0.0, (0.0, 0.0))))
    assert torch.equal(carry(batch, torch.device("cpu")), torch.ones(1, 3, 8, 8))


def test_the_tuner_carries_more_while_it_flickers_above_target_and_less_below():
    tuner = CarryTuner(target=2.0)
    carried = np.array([0.0, 0.5, 0.7], np.float32)
    tuner.restart(0)
    for _ in range(5):
        tuner.observe(0, dreamed=6.0, original=1.0)  # 6x the source: too much flicker
    more = tuner.carried(0, carried)
    assert more[0] == 0  # hidden pixels stay fresh
    assert more[1] > 0.5
    assert more[2] == pytest.approx(CarryTuner.HIGHEST)
    tuner.restart(0)
    tuner.observe(0, dreamed=1.0, original=1.0)  # half the target: room to dream more freely
    assert tuner.carried(0, carried)[1] < 0.5


def test_a_tuning_carry_measures_each_frames_flicker_against_its_source_and_carries_more_after_it(tmp_path):
    tuner = CarryTuner(target=1.0)
    carry = FrameCarry(tuner=tuner)
    still = torch.full((3, 8, 8), 0.5)  # the source does not change …
    dreamed(carry, 0, tmp_path, torch.zeros(3, 8, 8), still)
    assert tuner.factors[0] == 1.0  # a fresh dream restarts the tuning
    dreamed(carry, 1, tmp_path, torch.ones(3, 8, 8), still, backward=STILL, valid=ALL)  # … the dream flickers
    assert tuner.factors[0] > 1.0
