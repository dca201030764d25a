"""Beyond plain motion: ages that fade, anchored colours, keyframes, audio drives, masks, the scorecard."""

import wave
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import av
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.cli import main
from dreamer.command.runner import DreamerCLI
from dreamer.command.spec import spec_from
from dreamer.engine.contract.batch import DreamBatch, Frame, Pace, Position
from dreamer.engine.contract.octaves import Octaves, OctaveWalk
from dreamer.errors import ConfigError
from dreamer.motion.audio import envelopes
from dreamer.motion.drift import anchored, carried_share, fade_frames, first_ages, older
from dreamer.motion.flicker import FlickerMeter
from dreamer.motion.plan import FramePace
from dreamer.motion.timeline import Timeline, fading_layers
from dreamer.motion.tracks import SourceTrack
from dreamer.motion.videoio import read_frames
from dreamer.motion.warp import mean_warping_error
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model
from tests.test_motion import FAST, frames_of, video_data
from tests.videos import make_video

# ---------------------------------------------------------------- keyframes (pure)


def test_keyframes_interpolate_numbers_linearly_or_smoothly_and_hold_outside():
    keyframes = {0: {"data.zoom": 1.0, "data.translate": [0, 0]}, "2s": {"data.zoom": 2.0, "data.translate": [4, -8]}}
    linear, smooth = Timeline(keyframes), Timeline(keyframes, ease="smooth")
    fps = 10.0  # "2s" is frame 20
    assert linear.at(5, fps).number("data.zoom", 9) == pytest.approx(1.25)
    assert linear.at(10, fps).pair("data.translate", (0, 0)) == pytest.approx((2, -4))
    assert smooth.at(5, fps).number("data.zoom", 9) == pytest.approx(1 + 0.25**2 * (3 - 2 * 0.25))
    assert smooth.at(10, fps).number("data.zoom", 9) == pytest.approx(1.5)
    assert linear.at(40, fps).number("data.zoom", 9) == 2.0  # after the last: held
    assert linear.at(3, fps).number("model.lr", 0.3) == 0.3  # not animated: the configured value


def test_layers_and_channels_cross_fade_between_keyframes():
    timeline = Timeline(
        {0: {"model.layers": 7}, 10: {"model.layers": 11, "model.channels": [3]}, 20: {"model.channels": [5]}}
    )
    assert timeline.at(0, 12).values["model.layers"] == [(1.0, 7)]
    weights = timeline.at(4, 12).values["model.layers"]
    assert weights == [(pytest.approx(0.6), 7), (pytest.approx(0.4), 11)]
    assert timeline.at(15, 12).values["model.channels"] == [(0.5, [3]), (0.5, [5])]
    assert fading_layers({0: {"model.layers": 7}, 10: {"model.layers": [11, 14]}}) == [[7], [11, 14], [7, 11, 14]]


def test_a_setting_that_cannot_change_over_time_is_one_clear_line_before_any_work(tmp_path, capsys):
    with pytest.raises(ConfigError, match="model.octaves.*cannot change over time"):
        Timeline({0: {"model.octaves": 3}})
    with pytest.raises(ConfigError, match="not a frame number"):
        Timeline({"soon": {"data.zoom": 1.1}})
    code = main(["fit", "--config", "zoom", f"--data.output={tmp_path}", "--animation.keyframes={0: {model.scale: 2}}"])
    assert code == 2
    assert "model.scale' cannot change over time" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())
    code = main(
        ["fit", "--config", "quickstart", f"--data.output={tmp_path}", "--animation.keyframes={0: {data.zoom: 2}}"]
    )
    assert code == 2
    assert "keyframes and audio drives are for zooms and videos" in capsys.readouterr().err
    assert main(["fit", "--config", "zoom", f"--data.output={tmp_path}", "--data.max_age=12"]) == 2
    assert "data.max_age is for videos" in capsys.readouterr().err


def test_keyframed_layers_are_built_into_the_model_and_cross_fade_its_objective():
    cli = DreamerCLI(
        spec_from(
            [
                "--config=zoom",
                "--octaves.count=2",
                "--animation.keyframes={0: {model.layers: 7}, 10: {model.layers: 11}}",
            ]
        )
    )
    objective = cli.model.objective
    assert ("features.7", "features.11") in objective.extractor.layer_sets
    images = torch.rand(1, 3, 64, 64)
    batch = DreamBatch(pixels=None, position=Position(0, 1, 1, 0, 1, 2))
    alone = {}
    for layer in (7, 11):
        objective.cross_fade([(1.0, layer)], None)
        alone[layer] = objective.per_layer(images, batch)
    objective.cross_fade([(0.25, 7), (0.75, 11)], None)
    faded = objective.per_layer(images, batch)
    expected = 0.25 * alone[7]["features.7"] + 0.75 * alone[11]["features.11"]
    torch.testing.assert_close(sum(faded.values()), expected)
    cli.model.retune({"jitter.roll": 5}, {"jitter.roll": 2.4})
    assert cli.model.jitter.roll == 7


# ---------------------------------------------------------------- audio


def write_beats(path: Path, beats: list[float], seconds: float, rate: int = 22050) -> Path:
    """A quiet 220 Hz hum with a loud click (a decaying 1 kHz burst) at each of ``beats`` seconds."""
    t = np.arange(int(rate * seconds)) / rate
    signal = 0.02 * np.sin(2 * np.pi * 220 * t)
    for beat in beats:
        start, length = int(beat * rate), int(0.05 * rate)
        signal[start : start + length] += 0.8 * np.sin(2 * np.pi * 1000 * t[:length]) * np.exp(-t[:length] * 60)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(signal, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def test_audio_envelopes_of_a_tone_with_known_beats_peak_on_the_beats(tmp_path):
    beats = [0.5, 1.25, 2.0, 2.75]
    fps, frames = 12.0, 40
    curves = envelopes(write_beats(tmp_path / "beats.wav", beats, 3.3), fps, frames)
    onsets, loudness = curves["onsets"], curves["loudness"]
    beat_frames = [int(beat * fps) for beat in beats]
    for frame in beat_frames:
        assert onsets[frame] > 0.6, (frame, onsets)
        assert onsets[frame] == onsets[frame - 2 : frame + 3].max(), (frame, onsets)
        assert loudness[frame] > 0.9
    quiet = [f for f in range(frames) if all(abs(f - b) > 3 for b in beat_frames)]
    assert onsets[quiet].max() < 0.2
    assert loudness[quiet].mean() < 0.6
    onsets_after = onsets[beat_frames[0] : beat_frames[0] + 4]
    assert list(onsets_after) == sorted(onsets_after, reverse=True)  # each pulse falls away
    drive = Timeline(
        {0: {"data.zoom": 1.02}}, audio=[{"setting": "data.zoom", "envelope": "onsets", "range": [0, 0.1]}]
    )
    zoom = [drive.at(f, fps, curves).number("data.zoom", 1.0) for f in range(frames)]
    assert zoom[beat_frames[1]] == pytest.approx(1.02 + 0.1 * onsets[beat_frames[1]])
    assert min(zoom) >= 1.02
    assert max(zoom) <= 1.12


# ---------------------------------------------------------------- drift


def test_ages_fade_a_carried_dream_after_max_age_and_start_over():
    max_age = 8
    ages = np.zeros((4, 4), np.float32)
    identity = np.ones((4, 4), bool)
    shares = []
    for _ in range(max_age + fade_frames(max_age) + 2):
        ages = older(ages, lambda a: a, identity, max_age)
        shares.append(float(carried_share(ages, max_age)[0, 0]))
    assert shares[:max_age] == [1.0] * max_age
    assert shares[max_age] < 1.0
    assert shares[max_age + fade_frames(max_age) - 1] == 0.0
    assert shares[-1] == 1.0  # started over
    hidden = older(np.full((4, 4), 5, np.float32), lambda a: a, ~identity, max_age)
    assert not hidden.any()  # newly seen pixels are young
    first = first_ages((30, 40), max_age, seed=1)
    assert first.min() == 0
    assert first.max() == pytest.approx(max_age - 1)


def test_keep_colors_moves_the_means_towards_the_source():
    start = np.full((4, 4, 3), 0.6, np.float32)
    moved = anchored(start, np.array([0.4, 0.5, 0.6]), 0.5)
    np.testing.assert_allclose(moved.reshape(-1, 3).mean(0), [0.5, 0.55, 0.6], atol=1e-6)


# ---------------------------------------------------------------- masks


def test_a_first_frame_mask_is_carried_along_a_known_translation():
    mask = np.zeros((20, 30), np.float32)
    mask[5:10, 4:9] = 1
    track = SourceTrack((20, 30), mask=mask)
    shift = np.zeros((20, 30, 2), np.float32)
    shift[..., 0] = -2  # backward flow: each pixel came from 2 px to its left (the picture moves right)
    from dreamer.motion.warp import warp

    track.advance(None, None)
    for _ in range(5):
        track.advance(lambda values: warp(values, shift), np.ones((20, 30), bool))
    expected = np.zeros_like(mask)
    expected[5:10, 14:19] = 1
    np.testing.assert_array_equal(track.mask(), expected)


def test_outside_the_mask_a_photo_dream_is_the_photo(tmp_path):
    photo = make_photo(tmp_path / "in" / "photo.png", size=(80, 64))
    mask = np.zeros((64, 80), np.uint8)
    mask[:, :40] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    data = DreamDataModule(str(photo), str(tmp_path / "out"), mask=str(tmp_path / "mask.png"), mask_feather=2)
    run_dream(tiny_model(jitter=4), data)
    source = np.asarray(Image.open(photo)).astype(int)
    dream = np.asarray(Image.open(tmp_path / "out" / "photo.png")).astype(int)
    assert np.abs(dream - source)[:, 48:].max() == 0  # beyond the soft edge: untouched
    assert np.abs(dream - source)[:, :32].mean() > 3  # inside: dreamed


def test_outside_a_carried_mask_a_dreamed_video_is_its_source_and_the_scorecard_matches(tmp_path, capsys):
    source = make_video(tmp_path / "clip.mp4", frames=6, size=(48, 64))
    mask = np.zeros((48, 64), np.uint8)
    mask[:, :28] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    data = video_data(source, tmp_path / "out", mask=str(tmp_path / "mask.png"), mask_feather=1.5)
    trainer = run_dream(tiny_model(jitter=4), data)
    meter = next(c for c in trainer.callbacks if isinstance(c, FlickerMeter))
    dreams, sources = frames_of(tmp_path / "out" / "clip.frames"), list(read_frames(source, (48, 64)))
    assert len(dreams) == 6
    for dream, frame in zip(dreams, sources):
        difference = np.abs(dream.astype(int) - frame.astype(int))
        assert difference[:, 40:].max() <= 1  # the pan (2 px a frame) moves the mask right by at most 10 px
        assert difference[:, :20].mean() > 2
    # The scorecard against an independent computation: flows recomputed from the decoded source.
    ((dream_score, source_score),) = meter.scores().values()
    assert dream_score == pytest.approx(mean_warping_error(dreams, sources), rel=1e-4)
    assert source_score == pytest.approx(mean_warping_error(sources, sources), rel=1e-4)


def test_ages_and_anchored_colours_run_end_to_end_and_the_scorecard_is_reported(tmp_path, capsys):
    source = make_video(tmp_path / "clip.mp4", frames=6, size=(48, 64))
    code = main(
        [
            "fit",
            "--config",
            "video",
            f"--data.video={source}",
            f"--data.output={tmp_path / 'out'}",
            *FAST,
            "--data.max_age=2",
            "--data.frame_lr=0.003",
            "--data.keep_colors=0.5",
            "--animation.keyframes={0: {data.carry: 0.9}, 5: {data.carry: 0.5}}",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "clip.mp4: flicker (warping error)" in out
    assert len(list((tmp_path / "out" / "clip.frames").glob("*.png"))) == 6


def test_continued_frames_step_with_frame_lr_and_fresh_ones_with_the_model_lr(tmp_path):
    pace = FramePace(octaves=3, iterations=8, frame_octaves=1, frame_iterations=4, frame_lr=0.006)
    assert pace.of(True).lr == 0.006
    assert pace.of(False).lr is None
    source = make_video(tmp_path / "clip.mp4", frames=3, size=(48, 64))
    seen = []

    class StepSizes(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch.position.dream_end and batch.frame is not None:
                seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    run_dream(tiny_model(lr=0.02), video_data(source, tmp_path / "out", frame_lr=0.005), callbacks=[StepSizes()])
    assert seen == [0.02, 0.005, 0.005]


def test_pixels_with_no_dream_to_carry_take_full_size_steps_the_others_frame_lr():
    model = tiny_model(lr=0.02)
    renewed = np.zeros((64, 64), np.float32)
    renewed[:, :32] = 1  # the left half was just uncovered (or renewed)
    frame = Frame(sequence=0, number=1, count=2, continues=False, previous=None, target=Path("x.png"), renewed=renewed)
    batch = DreamBatch(pixels=torch.rand(1, 3, 64, 64), frame=frame, pace=Pace(1, 4, 2, lr=0.005))
    batch = replace(batch, position=Position(0, 4, 1, 0, 4, 2))
    model.take = lambda step: taken.append(step)  # type: ignore[method-assign]
    taken: list = []
    OctaveWalk(Octaves(scale=2.0)).on_train_batch_start(SimpleNamespace(optimizers=[]), model, batch, 0)
    top = taken[0].step_weights[0, 0]
    torch.testing.assert_close(top[:, :32], torch.full((64, 32), 4.0))  # 0.02 / 0.005
    torch.testing.assert_close(top[:, 32:], torch.ones(64, 32))


def test_a_mask_video_gives_each_frame_its_own_mask(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=4, size=(48, 64))
    with av.open(str(tmp_path / "mask.mp4"), "w") as output:  # the dreamed half moves right 8 px a frame
        stream = output.add_stream("libx264", rate=12, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for number in range(4):
            picture = np.zeros((48, 64, 3), np.uint8)
            picture[:, : 16 + 8 * number] = 255
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode())
    data = video_data(source, tmp_path / "out", mask=str(tmp_path / "mask.mp4"), mask_feather=1.0)
    run_dream(tiny_model(jitter=4), data)
    dreams, sources = frames_of(tmp_path / "out" / "clip.frames"), list(read_frames(source, (48, 64)))
    for number, (dream, frame) in enumerate(zip(dreams, sources)):
        edge = 16 + 8 * number
        difference = np.abs(dream.astype(int) - frame.astype(int))
        assert difference[:, edge + 4 :].max() <= 1, number  # beyond this frame's mask: the source
        assert difference[:, : edge - 4].mean() > 1, number
