"""``motion.sequences``: a sequence's frames are written as they come, and its video encoded once all are there."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from dreamer.engine.contract.batch import DreamBatch, Frame
from dreamer.files.background import Background
from dreamer.motion.frames import frame_path
from dreamer.motion.plan import MotionJob, MotionPlan
from dreamer.motion.sequences import SequenceWriter
from dreamer.motion.videoio import probe


def job_in(tmp_path: Path, frames: int) -> MotionJob:
    return MotionJob(
        tmp_path / "clip.mp4", "clip.mp4", tmp_path / "out" / "clip.mp4", tmp_path / "out" / "clip.frames",
        (16, 16), frames, Fraction(12), 0,
    )  # fmt: skip


def dreamed(writer: SequenceWriter, job: MotionJob, number: int, picture: torch.Tensor) -> None:
    frame = Frame(0, number, job.frames, number > 0, None, frame_path(job.frames_dir, number))
    writer.on_dream_end(None, SimpleNamespace(batch=DreamBatch(None, ["clip.mp4"], [0], frame=frame)), picture[None])


def trainer() -> SimpleNamespace:
    return SimpleNamespace(world_size=1, global_rank=0, is_global_zero=True)


def test_each_frame_is_written_as_its_png_and_the_video_once_all_are_there(tmp_path):
    job = job_in(tmp_path, 3)
    job.frames_dir.mkdir(parents=True)
    plan = MotionPlan(jobs=[job])
    writer = SequenceWriter(lambda: plan, Background("frames", threaded=False), keep_frames=False)
    for number in range(3):
        dreamed(writer, job, number, torch.full((3, 16, 16), number / 4))
    assert np.asarray(Image.open(frame_path(job.frames_dir, 2)))[0, 0, 0] == round(2 / 4 * 255)
    writer.on_train_end(trainer(), None)
    assert writer.written == [job.target]
    assert probe(job.target).frames == 3
    assert not job.frames_dir.exists()  # keep_frames false
    assert writer.accounted == 1


def test_a_diverged_frame_fails_its_sequence_and_nothing_of_it_is_encoded(tmp_path):
    job = job_in(tmp_path, 2)
    job.frames_dir.mkdir(parents=True)
    writer = SequenceWriter(lambda: MotionPlan(jobs=[job]), Background("frames", threaded=False))
    dreamed(writer, job, 0, torch.full((3, 16, 16), float("nan")))
    dreamed(writer, job, 1, torch.zeros(3, 16, 16))
    writer.on_train_end(trainer(), None)
    assert writer.failed == ["clip.mp4: frame 1 diverged (NaN or inf); not written"]
    assert writer.written == []
    assert not job.target.exists()
    assert writer.accounted == 1  # failed, and said so


def test_a_sequence_the_run_did_not_finish_is_not_encoded_nor_accounted(tmp_path):
    job = job_in(tmp_path, 3)
    job.frames_dir.mkdir(parents=True)
    writer = SequenceWriter(lambda: MotionPlan(jobs=[job]), Background("frames", threaded=False))
    dreamed(writer, job, 0, torch.zeros(3, 16, 16))
    writer.on_train_end(trainer(), None)
    assert writer.written == []
    assert writer.accounted == 0  # the report counts it as not dreamed
