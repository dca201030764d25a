"""Live: a camera's frames dreamed as they come, each continuing the previous dream (``dreamer.live``),
without the page: a thread plays a clip into a camera while the engine dreams it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import lightning.pytorch as pl
import numpy as np
import pytest
import yaml

from dreamer.command.runner import execute
from dreamer.command.spec import spec_from
from dreamer.errors import ConfigError
from dreamer.files.recipes import read_recipe
from dreamer.live.camera import Camera
from dreamer.live.data import NO_CAMERA
from dreamer.live.view import Recording
from tests.videos import scene, texture

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.logger=false"]


def test_the_camera_keeps_only_the_freshest_frame():
    camera = Camera()
    first, second = np.zeros((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)
    camera.put(first)
    camera.put(second)
    shot = camera.take(timeout=0)
    assert shot is not None and shot.picture is second
    assert (camera.received, camera.dropped) == (2, 1)
    assert camera.take(timeout=0.01) is None  # nothing new
    camera.put(first)
    camera.close()
    assert camera.take(timeout=0) is None  # closed: nothing more, whatever was waiting


def test_a_recording_keeps_the_real_times_of_its_frames(tmp_path):
    record = Recording(tmp_path / "live.mp4")
    for index, at in enumerate((10.0, 10.1, 10.35, 11.0)):
        record.add(np.full((48, 64, 3), 60 * index, np.uint8), at)
    assert not (tmp_path / "live.mp4").exists()  # written under a temporary name until closed
    assert record.close()
    with av.open(str(tmp_path / "live.mp4")) as video:
        stream = video.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in video.decode(stream)]
    assert times == pytest.approx([0.0, 0.1, 0.35, 1.0], abs=0.002)


def play(camera: Camera, seconds: float, fps: float = 30.0) -> threading.Thread:
    """A thread that films the panning scene into ``camera`` for ``seconds``, then closes it."""
    world = texture(96, 128 + 2 * 400, seed=1)

    def film() -> None:
        started, number = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            camera.put(scene(world, number % 400, 128))
            number += 1
            time.sleep(1 / fps)
        camera.close()

    thread = threading.Thread(target=film, daemon=True)
    thread.start()
    return thread


def live(tmp_path: Path, camera: Camera, callbacks=()):
    """A live run of the preset dreaming ``camera`` (handed over in the spec's runtime)."""
    spec = spec_from(["--config=live", f"--data.output={tmp_path}", *QUIET])
    return execute(spec.with_runtime(camera=camera, callbacks=callbacks))


def test_live_dreams_each_frame_as_it_comes_continuing_the_last_and_records_it(tmp_path):
    camera = Camera()
    camera.recording = True
    shown = []
    ended = threading.Event()

    def watch() -> None:
        last = None
        while True:
            finished = ended.is_set()  # one more look after the run ended
            if camera.shown is not None and camera.shown is not last:
                last = camera.shown
                shown.append(last)
            if finished:
                return
            time.sleep(0.002)

    try:
        play(camera, seconds=6.0)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ran = live(tmp_path / "live", camera)
    finally:
        ended.set()
    watcher.join()
    assert ran.error is None
    numbers = [each.number for each in shown]
    assert len(numbers) >= 10
    assert numbers == sorted(numbers)
    assert camera.dropped > 0  # the camera films faster than the first (full) dream: frames were dropped
    first, later = shown[0], shown[-1]
    assert first.dream.shape == (120, 160, 3)  # the long side is data.size
    assert np.abs(later.dream.astype(int) - later.source.astype(int)).mean() > 3  # dreamed, not the camera
    recorded = sorted((tmp_path / "live").glob("live-*.mp4"))
    assert [path.name for path in recorded] == ["live-1-camera.mp4", "live-1.mp4"]
    with av.open(str(recorded[1])) as video:
        frames = [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]
    assert len(frames) >= len(shown) - 2
    assert camera.shown is shown[-1]  # the watcher saw the last dream
    assert np.abs(frames[-1].astype(int) - shown[-1].dream.astype(int)).mean() < 6  # the shown dream, encoded


def test_a_live_run_without_a_camera_is_one_line(tmp_path):
    ran = execute(spec_from(["--config=live", f"--data.output={tmp_path}", *QUIET]))
    assert ran.error == NO_CAMERA
    assert not list(tmp_path.iterdir())
    ran = execute(spec_from(["--config=quickstart", *QUIET]).with_runtime(camera=Camera()))
    assert "a camera was handed to a run whose data is not LiveDataModule" in ran.error


def test_strength_and_carry_turned_while_it_runs_are_taken_at_the_next_frame(tmp_path):
    from dreamer.live.camera import Tuning

    camera = Camera()
    steps = []

    class Steps(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            if batch.frame is not None and batch.position.step == 0:
                steps.append((batch.frame.number, batch.position.steps))

    camera.recording = True
    play(camera, seconds=4.0)
    threading.Timer(2.0, lambda: setattr(camera, "tuning", Tuning(steps=5, lr=0.01, carry=0.5, size=160))).start()
    ran = live(tmp_path, camera, [Steps()])
    assert ran.error is None
    counts = [count for _, count in steps[1:]]  # after the first (full) dream
    assert counts[0] == 2  # the preset's 2 steps per frame …
    assert counts[-1] == 5  # … then the 5 turned in while it ran, without a restart
    assert counts == sorted(counts)
    # The recording's recipe holds the settings over time, and says its source was a camera.
    recording = tmp_path / "live-1.mp4"
    recipe = yaml.safe_load(read_recipe(recording).partition("\n")[2])["recipe"]
    assert recipe["source"] == "camera"
    first, *_, last = recipe["keyframes"]
    assert (first["frame"], first["seconds"]) == (0, 0.0)
    assert (last["steps"], last["carry"]) == (5, 0.5)
    assert 0 < last["seconds"] < 4
    with pytest.raises(ConfigError, match="a Live recording"):
        spec_from(["--config", str(recording), *QUIET])


def test_closing_the_pages_session_closes_its_camera(tmp_path):
    from dreamer.app.workspace import Workspace

    workspace = Workspace(tmp_path)
    camera = workspace.cameras["session"] = Camera()
    workspace.close_session("session")
    assert camera.closed  # the live run sees the camera closed and ends
    assert "session" not in workspace.cameras
    workspace.close()


def test_the_live_tab_says_when_the_browser_will_not_give_it_a_camera(tmp_path):
    pytest.importorskip("gradio")
    from dreamer.app.page import Page, build
    from dreamer.app.workspace import Workspace

    def texts(host: str) -> str:
        workspace = Workspace(tmp_path)
        try:
            blocks = build(Page(workspace, (), host))
            return " ".join(str(getattr(block, "value", "")) for block in blocks.blocks.values())
        finally:
            workspace.close()

    assert "only to pages on localhost or https" in texts("0.0.0.0")
    assert "only to pages on localhost or https" not in texts("127.0.0.1")
