"""``motion.retune``: each frame's animated model settings reach the module as its dream starts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.motion.retune import Retune
from dreamer.motion.timeline import FrameSettings


class Module:
    def __init__(self) -> None:
        self.calls: list[tuple[dict, dict]] = []

    def retune(self, values, adds) -> None:
        self.calls.append((dict(values), dict(adds)))


def dream_of(settings) -> SimpleNamespace:
    frame = Frame(0, 3, 8, True, Path("2.png"), Path("3.png"), settings=settings)
    return SimpleNamespace(batch=DreamBatch(None, ["clip"], [0], frame=frame))


def test_a_frames_model_settings_reach_the_module_without_their_prefix():
    module, retune = Module(), Retune()
    retune.setup(None, module, "fit")
    settings = FrameSettings({"model.lr": 0.02, "model.jitter.roll": 8, "data.zoom": 1.05}, {"model.lr": 0.001})
    retune.on_dream_start(None, dream_of(settings))
    assert module.calls == [({"lr": 0.02, "jitter.roll": 8}, {"lr": 0.001})]


def test_a_frame_without_animated_settings_leaves_the_module_alone():
    module, retune = Module(), Retune()
    retune.setup(None, module, "fit")
    retune.on_dream_start(None, dream_of(None))
    assert module.calls == []


def test_a_dream_heard_before_setup_is_a_bug_said_plainly():
    with pytest.raises(RuntimeError, match="before the Trainer set it up"):
        Retune().on_dream_start(None, dream_of(FrameSettings({"model.lr": 0.1})))
