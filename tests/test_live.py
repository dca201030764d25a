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


def play(camera: Camera, seconds: float = 60.0, fps: float = 30.0) -> threading.Thread:
    """A thread that films the panning scene into ``camera`` until it is closed (or for ``seconds``)."""
    world = texture(96, 128 + 2 * 400, seed=1)

    def film() -> None:
        started, number = time.monotonic(), 0
        while not camera.closed and time.monotonic() - started < seconds:
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
        play(camera, seconds=6.0)  # a fixed length: what it measures is frames dropped while it films
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
        """Turns the settings after three continued frames, as the page would, and closes the camera
        three frames after that: waits for frames, never for a time."""

        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            if batch.frame is None or batch.position.step != 0:
                return
            steps.append((batch.frame.number, batch.position.steps))
            if len(steps) == 4:
                camera.tuning = Tuning(steps=5, lr=0.01, carry=0.5, size=160)
            if len(steps) >= 4 and sum(count == 5 for _, count in steps) == 3:
                camera.close()

    camera.recording = True
    play(camera)
    ran = live(tmp_path, camera, [Steps()])
    assert ran.error is None
    counts = [count for _, count in steps[1:]]  # after the first (full) dream
    assert counts[:3] == [2, 2, 2]  # the preset's 2 steps per frame …
    assert counts[-3:] == [5, 5, 5]  # … then the 5 turned in while it ran, without a restart
    assert counts == sorted(counts)
    # The recording's recipe holds the settings over time, and says its source was a camera.
    recording = tmp_path / "live-1.mp4"
    recipe = yaml.safe_load(read_recipe(recording).partition("\n")[2])["recipe"]
    assert recipe["source"] == "camera"
    first, *_, last = recipe["keyframes"]
    assert (first["frame"], first["seconds"]) == (0, 0.0)
    assert (last["steps"], last["carry"]) == (5, 0.5)
    assert last["seconds"] > 0
    with pytest.raises(ConfigError, match="made by Live"):
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


def test_auto_size_takes_the_largest_size_holding_the_rate_and_does_not_swing():
    from dreamer.live.auto import AutoSize

    auto = AutoSize((160, 224, 320), rate=10.0, start=320)

    def film(side: int, fps: float, seconds: float, start: float) -> tuple[int, float]:
        size, at = side, start
        while at < start + seconds and size == side:
            size = auto.shown(side, at)
            at += 1 / fps
        return size, at

    assert film(320, 8.0, 2.5, 0.0)[0] == 320  # under the hold: one slow stretch never moves it
    size, now = film(320, 8.0, 10.0, 2.5)
    assert size == 224 and now < 6  # too slow at 320: down, after the hold
    assert auto.shown(320, now) == 224  # a frame dreamed before the change says nothing
    size, now = film(224, 30.0, 20.0, now)  # fast enough for 320 now (30 × (224/320)² = 14.7 ≥ 12) …
    assert size == 224  # … but 320 was too slow 20 s ago: not tried again yet
    size, now = film(224, 30.0, 20.0, now)
    assert size == 320 and now > 32  # after BARRED seconds it is tried again
    size, now = film(320, 11.0, 30.0, now)
    assert size == 320  # it holds 10 frames/s, and there is no larger size: it stays
    auto = AutoSize((160, 224, 320), rate=10.0, start=160)
    size, now = film(160, 20.0, 10.0, 0.0)
    assert size == 160  # 20 × (160/224)² = 10.2 < 12: not enough margin to go up
    assert film(160, 30.0, 10.0, now)[0] == 224


def lit_on_the_left(camera: Camera, frames: int = 1000) -> threading.Thread:
    """A thread that films a picture bright on its left half, dark on its right, until closed."""
    picture = np.zeros((96, 128, 3), np.uint8)
    picture[:, :64] = 220

    def film() -> None:
        while not camera.closed:
            camera.put(picture)
            time.sleep(1 / 30)

    thread = threading.Thread(target=film, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("mirror", [True, False])
def test_the_camera_is_mirrored_unless_switched_off_and_what_is_shown_is_recorded(tmp_path, mirror):
    from dreamer.live.camera import Tuning

    camera = Camera()
    camera.recording = True
    camera.tuning = Tuning(steps=1, lr=0.01, carry=0.9, size=128, mirror=mirror)

    class Enough(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            if camera.shown is not None and camera.shown.number >= 4:
                camera.close()

    lit_on_the_left(camera)
    assert live(tmp_path, camera, [Enough()]).error is None
    source, dream = camera.shown.source, camera.shown.dream
    bright_left = source[:, :64].mean() > source[:, 64:].mean() + 100
    assert bright_left is not mirror  # mirrored: the bright half is on the right
    assert (dream[:, :64].mean() > dream[:, 64:].mean()) is not mirror  # the dream is of what is shown
    with av.open(str(tmp_path / "live-1-camera.mp4")) as video:
        recorded = [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)][-1]
    assert (recorded[:, :64].mean() > recorded[:, 64:].mean()) is not mirror


def test_a_snapshot_writes_the_shown_dream_with_the_settings_of_that_moment(tmp_path):
    from PIL import Image

    from dreamer.live.camera import Tuning

    camera = Camera()
    camera.tuning = Tuning(steps=3, lr=0.02, carry=0.7, size=128, mirror=False)
    asked: dict = {}

    class Snap(pl.Callback):
        """Asks for a snapshot of the third dream shown, as the page's button does, and closes
        the camera once it is written."""

        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            shown = camera.shown
            if shown is not None and shown.number >= 2 and not asked:
                asked["shown"], asked["before"] = shown, camera.ask_snapshot(shown)
            elif asked and camera.snapshots:
                camera.close()

    play(camera)
    ran = live(tmp_path, camera, [Snap()])
    assert ran.error is None
    assert camera.wait_snapshot(asked["before"], timeout=0) == tmp_path / "live-snapshot-1.png"
    with Image.open(tmp_path / "live-snapshot-1.png") as picture:
        assert np.array_equal(np.asarray(picture.convert("RGB")), asked["shown"].dream)  # the shown dream
    recipe = yaml.safe_load(read_recipe(tmp_path / "live-snapshot-1.png").partition("\n")[2])
    assert (recipe["recipe"]["source"], recipe["recipe"]["mirror"]) == ("camera", False)
    data = recipe["data"]["init_args"]
    assert (data["size"], data["carry"], data["frame_iterations"], data["frame_lr"]) == (128, 0.7, 3, 0.02)
    assert "live-snapshot-1.png" in [path.name for path in ran.cli.datamodule.view.also_written]
    with pytest.raises(ConfigError, match="made by Live"):
        spec_from(["--config", str(tmp_path / "live-snapshot-1.png"), *QUIET])


def test_a_layer_turned_while_it_runs_is_climbed_from_the_next_frame_through_the_same_network(tmp_path, monkeypatch):
    import dreamer.engine.module as module_file
    from dreamer.live.camera import Tuning

    built = []
    build = module_file.build_network
    monkeypatch.setattr(module_file, "build_network", lambda *args: built.append(args) or build(*args))
    camera = Camera()
    camera.tuning = Tuning(steps=2, lr=0.012, carry=0.9, size=128, layer="11")
    climbed: list[tuple[int, tuple]] = []  # (frame, its layers)

    class Watch(pl.Callback):
        """Turns the layer after three frames, as the page would, and closes the camera three frames later."""

        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            if batch.frame is None or batch.position.step != 0:
                return
            climbed.append((batch.frame.number, tuple(module.objective.schedule.layers[0])))
            if len(climbed) == 3:
                camera.tuning = Tuning(steps=2, lr=0.012, carry=0.9, size=128, layer="7", channels=(3, 5))
            if sum(layers != climbed[0][1] for _, layers in climbed) == 3:
                camera.close()

    play(camera)
    ran = live(tmp_path, camera, [Watch()])
    assert ran.error is None
    numbers = [number for number, _ in climbed]
    assert numbers == sorted(set(numbers))  # one run: its frames numbered on, never from 0 again
    first, last = climbed[0][1], climbed[-1][1]
    assert "11" in first[0] and "7" in last[0]
    assert ran.cli.model.hparams.layers == 7 and ran.cli.model.hparams.channels == [3, 5]
    assert len(built) == 1  # the network was built once
