"""Nothing outside the network waits on the step: background writes, batches prepared ahead, no
reads from the device between logging steps, sampled TensorBoard images."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dreamer.cli import main
from dreamer.files.background import Background, ahead, overlaps
from dreamer.photos.data import DreamDataModule
from tests.conftest import REPO, make_photo, run_dream, tiny_model, tiny_octaves


def test_background_runs_jobs_in_order_and_a_full_queue_makes_the_caller_wait():
    background, done, gate = Background("test", depth=2), [], threading.Event()
    background.submit(gate.wait)  # the worker is busy until the gate opens
    time.sleep(0.05)  # the worker has taken it: 2 more fit in the queue
    for index in range(2):
        background.submit(lambda index=index: done.append(index))
    third = threading.Thread(target=background.submit, args=(lambda: done.append(2),))
    third.start()
    third.join(timeout=0.3)
    assert third.is_alive()  # bounded: the third waits for room
    gate.set()
    third.join(timeout=5)
    background.drain()
    assert done == [0, 1, 2]


def test_on_a_cpu_work_beside_the_dream_runs_in_place_and_nothing_is_prepared_ahead():
    """The dream's threads use every core of a CPU: a thread beside them only slows them down."""
    from dreamer.photos.data import DreamDataModule

    assert not overlaps(torch.device("cpu"))
    assert overlaps(torch.device("cuda"))
    where: list[str] = []
    Background("test", threaded=False).submit(lambda: where.append(threading.current_thread().name))
    assert where == [threading.current_thread().name]
    assert DreamDataModule().prefetch(num_workers=0) == 0


def test_an_unexpected_error_in_a_background_job_is_raised_at_drain_and_later_jobs_still_run():
    background, done = Background("test"), []

    def broken() -> None:
        raise RuntimeError("encoder bug")

    background.submit(broken)
    background.submit(lambda: done.append("after"))
    with pytest.raises(RuntimeError, match="encoder bug"):
        background.drain()
    assert done == ["after"]
    background.drain()  # raised once


def test_ahead_keeps_the_order_raises_where_the_item_failed_and_closes_the_source_when_stopped():
    assert list(ahead(range(50), depth=2)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("damaged file")

    items = ahead(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="damaged file"):
        next(items)

    closed = threading.Event()

    def endless():
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    items = ahead(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the consumer stops early (max_steps): the producer stops and closes its source
    assert closed.wait(timeout=5)


def photos(folder: Path, count: int, size=(64, 64)) -> Path:
    for index in range(count):
        make_photo(folder / f"p{index:02d}.png", size=size, seed=index)
    return folder


QUICK = ["--config", str(REPO / "configs" / "quickstart.yaml"), "--model.octaves", "1", "--model.iterations", "2"]


def test_a_write_that_fails_on_the_writers_thread_still_gives_its_failed_line_and_status_1(
    tmp_path, monkeypatch, capsys
):
    import dreamer.photos.writer as writer

    monkeypatch.setattr(writer, "overlaps", lambda device: True)  # as on a GPU: written on the writer's thread
    real = writer.save_image

    def full_disk_for_p01(image, path, *args, **kwargs):
        assert threading.current_thread().name == "dreamer-writer"  # written off the loop
        if path.name == "p01.png":
            raise OSError(28, "No space left on device")
        real(image, path, *args, **kwargs)

    monkeypatch.setattr(writer, "save_image", full_disk_for_p01)
    monkeypatch.chdir(tmp_path)
    source, out = photos(tmp_path / "in", 3), tmp_path / "out"
    status = main(["fit", *QUICK, "--data.images", str(source), "--data.output", str(out), "--trainer.logger", "false"])
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert status == 1
    assert failed == [f"failed: {out / 'p01.png'}: not written (No space left on device)"]
    assert sorted(path.name for path in out.glob("*.png")) == ["p00.png", "p02.png"]


KILLED_WRITER = """
import sys, time
import dreamer.files.imageio as imageio
from PIL import Image

real_save = Image.Image.save

def slow_save(self, fp, *args, **kwargs):  # writes half a file, then takes its time over the rest
    fp.write(b"\\x89PNG\\r\\n\\x1a\\n half")
    fp.flush()
    time.sleep(30)
    real_save(self, fp, *args, **kwargs)

Image.Image.save = slow_save
import dreamer.photos.writer
dreamer.photos.writer.overlaps = lambda device: True  # as on a GPU: written on the writer's thread
from dreamer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_while_its_background_writer_writes_leaves_no_partial_file(tmp_path):
    source, out = photos(tmp_path / "in", 2), tmp_path / "out"
    args = ["fit", *QUICK, "--data.images", str(source), "--data.output", str(out), "--trainer.logger", "false"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, *args], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.part")) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert list(out.glob("*.part")), "the writer never started"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not list(out.glob("*.png"))  # the half-written dream never took its name
    again = subprocess.run([sys.executable, "-m", "dreamer.cli", *args], cwd=tmp_path, env=env, capture_output=True)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert not list(out.glob("*.part"))  # what the killed run left is gone
    for name in ("p00.png", "p01.png"):
        with Image.open(out / name) as image:
            image.load()  # whole files


def test_between_logging_steps_nothing_is_read_back_from_the_dream(tmp_path, monkeypatch):
    """On a GPU every read of a device tensor's value (``item``, ``tolist``, ``bool`` …) waits for the
    device. With a logger and the progress bar on, logging every 5 steps, the steps between logging
    steps read no value of any floating-point tensor (Lightning's ``self.log`` would read every value
    logged so far at every step); a logging step reads its scalars."""
    reads: Counter[str] = Counter()
    watching = ["none"]  # "plain": a step that neither logs nor starts or ends an octave; "logging"
    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "numpy"):
        real = getattr(torch.Tensor, name)

        def read(self, *args, _real=real, _name=name, **kwargs):
            if watching[0] != "none" and self.is_floating_point():
                reads[f"{watching[0]} {_name}"] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, read)

    every = 5

    class Window(pl.Callback):  # from the start of a step to the start of the next one
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            position = batch.position
            logs = (trainer.global_step + 1) % every == 0  # the step about to be taken logs
            edge = position.octave_start or position.octave_end or position.dream_end
            watching[0] = "logging" if logs and not edge else "none" if edge else "plain"
            if watching[0] == "plain":
                plain.append(trainer.global_step)

    plain: list[int] = []
    model = tiny_model(jitter=4)
    data = DreamDataModule(images=str(photos(tmp_path / "in", 1)), output=str(tmp_path / "out"))
    logged = dict(logger=pl.loggers.TensorBoardLogger(str(tmp_path / "logs")), log_every_n_steps=every)
    run_dream(model, data, tiny_octaves(iterations=8), **logged, enable_progress_bar=True, callbacks=[Window()])
    watching[0] = "none"
    assert len(plain) >= 8  # plain steps were watched, before and after logging steps
    assert not {key: count for key, count in reads.items() if key.startswith("plain")}, reads
    assert sum(count for key, count in reads.items() if key.startswith("logging")) >= 1  # reads are seen


def test_tensorboard_images_are_sampled_every_n_dreams(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = photos(tmp_path / "in", 3)
    args = ["fit", *QUICK, "--data.images", str(source), "--data.output", str(tmp_path / "out")]
    assert main([*args, "--image_logger.every_n_dreams", "2", "--trainer.enable_progress_bar", "false"]) == 0
    (run,) = (tmp_path / "out" / "lightning_logs").iterdir()
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {"p00.png/octaves", "p02.png/octaves", "originals|dreams"}
    assert len(events.Images("originals|dreams")) == 2
    assert len(list((tmp_path / "out").glob("*.png"))) == 3  # every dream is written all the same
