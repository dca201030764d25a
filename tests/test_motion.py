"""Zooms and dreamed videos end to end: files, timing, audio, resume, bad input, coherence, memory."""

import os
import subprocess
import sys
import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from PIL import Image

from dreamer.cli import main
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.module import DreamModule
from dreamer.motion.frames import video_pictures
from dreamer.motion.plan import FramePace, FrameSpan, share, split
from dreamer.motion.video import VideoDataModule
from dreamer.motion.videoio import probe, read_frames
from dreamer.motion.warp import mean_warping_error
from dreamer.motion.zoom import ZoomDataModule
from tests.cli_args import QUIET, flags
from tests.conftest import REPO, make_photo, run_dream, tiny_model
from tests.videos import make_video

FAST = [*flags(octaves_count=2, octaves_scale=1.5, octaves_iterations=2, model_layers=7), *QUIET]


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def frames_of(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def video_data(video: Path, out: Path, **kwargs) -> VideoDataModule:
    settings = dict(video=str(video), output=str(out), frame_iterations=2)
    settings.update(kwargs)
    return VideoDataModule(**settings)


# ---------------------------------------------------------------- planning and sharding (pure)


def test_split_cuts_chunks_warms_them_up_and_resumes_after_what_is_on_disk():
    assert split(0, 10, set(), None, 4) == [FrameSpan(0, 0, 0, 10, False)]
    assert split(0, 10, set(), 4, 2) == [
        FrameSpan(0, 0, 0, 4, False),
        FrameSpan(0, 2, 4, 8, False),
        FrameSpan(0, 6, 8, 10, False),
    ]
    done = {0, 1, 2, 3, 4, 5}
    assert split(1, 10, done, 4, 2) == [FrameSpan(1, 6, 6, 8, True), FrameSpan(1, 6, 8, 10, False)]
    assert split(0, 10, set(range(10)), None, 0) == []


def test_share_balances_steps_and_keeps_order():
    assert share([10, 1, 1, 1, 8], 2) == [[0, 3], [1, 2, 4]]  # loads 11 and 10
    assert share([5, 5, 5], 4) == [[0], [1], [2], []]
    pace = FramePace(octaves=3, iterations=10, frame_octaves=1, frame_iterations=2)
    assert pace.span(FrameSpan(0, 0, 0, 5, False)) == 30 + 4 * 2
    assert pace.span(FrameSpan(0, 5, 5, 7, True)) == 2 * 2


# ---------------------------------------------------------------- zoom


def test_zoom_writes_frames_an_mp4_a_gif_and_its_config(tmp_path, monkeypatch, capsys):
    photo = make_photo(tmp_path / "in" / "photo.png", size=(72, 56))
    out = tmp_path / "zoom"
    args = [
        "fit",
        "--config",
        str(REPO / "configs" / "zoom.yaml"),
        "--data.images",
        str(photo),
        "--data.output",
        str(out),
        "--data.frames",
        "5",
        "--data.fps",
        "10",
        "--data.frame_iterations",
        "2",
        "--data.rotate",
        "3",
        *FAST,
    ]
    assert main(args) == 0
    frames = frames_of(out / "photo.frames")
    assert len(frames) == 5
    assert frames[0].shape == (56, 72, 3)
    video = decoded(out / "photo.mp4")
    info = probe(out / "photo.mp4")
    assert len(video) == 5
    assert info.fps == 10
    assert info.size == (56, 72)
    with Image.open(out / "photo.gif") as gif:
        assert gif.n_frames == 5
    assert (out / "photo.yaml").is_file()
    assert "ZoomDataModule" in (out / "photo.yaml").read_text()
    assert not list(out.rglob(".*"))  # no temporary file left
    assert np.abs(frames[4].astype(float) - frames[0]).mean() > 5  # the picture moved
    printed = capsys.readouterr().out
    assert f"written: {out / 'photo.mp4'}" in printed
    assert "1 dreamed" in printed

    assert main(args) == 0  # nothing overwritten without asking
    assert "1 skipped" in capsys.readouterr().out


def test_both_presets_run_on_the_bundled_photo_and_clip(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert (
        main(
            [
                "fit",
                "--config",
                "configs/video.yaml",
                "--data.output",
                str(tmp_path / "v"),
                "--data.resize",
                "128",
                *FAST,
            ]
        )
        == 0
    )
    assert probe(tmp_path / "v" / "chelsea_pan.mp4").frames == probe(REPO / "assets" / "chelsea_pan.mp4").frames == 48
    assert (
        main(
            [
                "fit",
                "--config",
                "configs/zoom.yaml",
                "--data.output",
                str(tmp_path / "z"),
                "--data.resize",
                "128",
                "--data.frames",
                "3",
                *FAST,
            ]
        )
        == 0
    )
    assert probe(tmp_path / "z" / "chelsea.mp4").frames == 3
    assert (tmp_path / "z" / "chelsea.gif").is_file()


def test_zoom_frames_can_be_removed_after_the_video(tmp_path):
    photo = make_photo(tmp_path / "p.png", size=(48, 40))
    data = ZoomDataModule(
        images=str(photo), output=str(tmp_path / "z"), frames=3, keep_frames=False, frame_iterations=1
    )
    run_dream(tiny_model(), data)
    assert (tmp_path / "z" / "p.mp4").is_file()
    assert not (tmp_path / "z" / "p.frames").exists()


# ---------------------------------------------------------------- video


def test_video_keeps_frame_count_rate_duration_audio_and_orientation(tmp_path):
    source = make_video(tmp_path / "in" / "clip.mp4", frames=10, size=(48, 64), fps=12, audio=True, rotation=90)
    data = video_data(source, tmp_path / "out", resize=63)  # upright 64×48 → 63×47: odd sides
    run_dream(tiny_model(), data)
    result = tmp_path / "out" / "clip.mp4"
    before, after = probe(source), probe(result)
    assert after.frames == before.frames == 10
    assert after.fps == before.fps == 12
    assert after.rotation == 0
    assert after.size == (64, 48)  # stored upright; odd sides padded, not scaled
    with av.open(str(source)) as a, av.open(str(result)) as b:
        assert abs(a.duration - b.duration) <= av.time_base / 12
        audio_in = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        audio_out = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
        assert b.streams.audio[0].codec_context.name == "aac"
        assert audio_out == audio_in  # copied, not re-encoded
    dreamed = frames_of(tmp_path / "out" / "clip.frames")
    assert dreamed[0].shape == (63, 47, 3)
    first = decoded(result)[0].astype(float)
    rescaled = np.asarray(Image.fromarray(dreamed[0]).resize((48, 64), Image.Resampling.BILINEAR), dtype=float)
    # the picture as dreamed (H.264 is lossy), padded by a row and a column, not stretched to even sides
    assert np.abs(first[:63, :47] - dreamed[0]).mean() < 0.6 * np.abs(first - rescaled).mean()


def test_video_rotation_is_applied_to_the_frames(tmp_path):
    source = make_video(tmp_path / "r.mp4", frames=2, size=(32, 48), rotation=90)
    plain = make_video(tmp_path / "p.mp4", frames=2, size=(32, 48))
    turned, straight = next(read_frames(source)), next(read_frames(plain))
    assert turned.shape == (48, 32, 3)
    np.testing.assert_array_equal(turned, np.rot90(straight))  # a player turns it 90° counter-clockwise


def test_resume_after_an_interrupted_run_gives_the_same_video(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=8, size=(48, 64))
    run_dream(tiny_model(), video_data(source, tmp_path / "whole"))
    steps_to_frame_3 = 2 * 3 + 3 * 2 + 1  # frame 0 in full (6 steps), frames 1-3 (2 steps each), into frame 4
    run_dream(tiny_model(), video_data(source, tmp_path / "killed"), max_steps=steps_to_frame_3)
    assert not (tmp_path / "killed" / "clip.mp4").exists()
    assert len(list((tmp_path / "killed" / "clip.frames").glob("*.png"))) == 4
    run_dream(tiny_model(), video_data(source, tmp_path / "killed"))
    whole, resumed = frames_of(tmp_path / "whole" / "clip.frames"), frames_of(tmp_path / "killed" / "clip.frames")
    assert len(whole) == len(resumed) == 8
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(decoded(tmp_path / "whole" / "clip.mp4"), decoded(tmp_path / "killed" / "clip.mp4")):
        np.testing.assert_array_equal(a, b)


def test_chunks_cover_every_frame_once_and_cross_fade_over_their_warm_up(tmp_path):
    source = make_video(tmp_path / "clip.mp4", frames=9, size=(40, 48))
    run_dream(tiny_model(), video_data(source, tmp_path / "out", chunk_frames=4, overlap=2))
    folder = tmp_path / "out" / "clip.frames"
    assert len(frames_of(folder)) == 9
    assert probe(tmp_path / "out" / "clip.mp4").frames == 9
    assert sorted(p.name for p in (folder / "warmup").glob("*.png")) == [
        "000002.png",
        "000003.png",
        "000006.png",
        "000007.png",
    ]
    video = list(video_pictures(folder, 9))
    own, warm = frames_of(folder), {int(p.stem): np.asarray(Image.open(p)) for p in (folder / "warmup").glob("*.png")}
    for frame, weight in ((2, 1 / 3), (3, 2 / 3), (6, 1 / 3), (7, 2 / 3)):
        expected = (1 - weight) * own[frame] + weight * warm[frame]
        assert np.abs(video[frame] - expected).max() <= 0.5 + 1e-6
    for frame in (0, 1, 4, 5, 8):
        np.testing.assert_array_equal(video[frame], own[frame])


def test_decoding_workers_share_the_chunks_and_dream_every_frame_as_one_process_does(tmp_path):
    """``data.num_workers``: each worker streams its own chunks; every frame is dreamed once, as it is
    without workers (a continued frame whose previous dream came from the other worker reads it back)."""
    source = make_video(tmp_path / "clip.mp4", frames=6, size=(40, 48))
    for workers in (0, 2):
        data = video_data(source, tmp_path / f"w{workers}", chunk_frames=3, overlap=1, num_workers=workers)
        run_dream(tiny_model(), data)
        assert probe(tmp_path / f"w{workers}" / "clip.mp4").frames == 6
    for alone, shared in zip(frames_of(tmp_path / "w0" / "clip.frames"), frames_of(tmp_path / "w2" / "clip.frames")):
        np.testing.assert_array_equal(alone, shared)


def test_bad_videos_get_one_clear_line_and_the_others_finish(tmp_path, capsys):
    folder = tmp_path / "clips"
    make_video(folder / "good.mp4", frames=4, size=(48, 64))
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    (folder / "empty.mov").write_bytes(b"")
    make_video(folder / "tiny.mp4", frames=3, size=(8, 8))
    long = make_video(tmp_path / "long.mkv", frames=40, size=(48, 64), container="matroska").read_bytes()
    (folder / "cut.mkv").write_bytes(long[: len(long) // 2])
    with av.open(str(folder / "sound.mp4"), "w") as output:  # audio only
        tone = output.add_stream("aac", rate=8000)
        for start in range(0, 8000, 1024):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 8000, start
            output.mux(tone.encode(chunk))
        output.mux(tone.encode())
    out = tmp_path / "out"
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "video.yaml"),
            "--data.video",
            str(folder),
            "--data.output",
            str(out),
            "--data.resize",
            "null",
            "--data.frame_iterations",
            "1",
            *FAST,
        ]
    )
    captured = capsys.readouterr()
    failed = [line for line in captured.err.splitlines() if line.startswith("failed: ")]
    assert code == 1
    assert "Traceback" not in captured.err
    expect = {
        "garbage.mp4": "not a video",
        "empty.mov": "not a video",
        "tiny.mp4": "too small",
        "sound.mp4": "no video stream",
        "cut.mkv": "truncated or damaged stream",
    }
    for name, reason in expect.items():
        assert any(name in line and reason in line for line in failed), (name, failed)
    assert len(failed) == len(expect)
    assert probe(out / "good.mp4").frames == 4
    assert 0 < probe(out / "cut.mp4").frames < 40  # the frames before the damage, dreamed
    assert "2 dreamed" in captured.out


def test_existing_frames_and_video_are_not_overwritten_without_asking(tmp_path, capsys):
    source = make_video(tmp_path / "clip.mp4", frames=3, size=(40, 48))
    args = [
        "fit",
        "--config",
        str(REPO / "configs" / "video.yaml"),
        "--data.video",
        str(source),
        "--data.output",
        str(tmp_path / "out"),
        "--data.resize",
        "null",
        *FAST,
    ]
    assert main(args) == 0
    video = tmp_path / "out" / "clip.mp4"
    before = video.stat().st_mtime_ns
    assert main(args) == 0
    assert video.stat().st_mtime_ns == before
    assert "1 skipped" in capsys.readouterr().out
    assert main([*args, "--data.overwrite", "true"]) == 0
    assert video.stat().st_mtime_ns != before
    assert main([*args[:4], str(tmp_path / "out" / "clip.mp4"), *args[5:6], str(tmp_path / "out")]) == 1
    assert "is one of this run's inputs" in capsys.readouterr().err


def test_decoding_is_streamed_memory_does_not_grow_with_length(tmp_path):
    def peak(frames: int) -> int:
        source = make_video(tmp_path / f"{frames}.mp4", frames=frames, size=(96, 128))
        data = video_data(source, tmp_path / "out")
        data.pace = FramePace(2, 2, 1, 1)
        job = data.make_plan().jobs[0]
        tracemalloc.start()
        for item in data.frames(job, FrameSpan(0, 0, 0, frames, False)):
            del item
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    short, long = peak(15), peak(150)
    assert long < 1.2 * short, (short, long)


def test_carried_dreams_flicker_at_most_half_as_much_as_frames_dreamed_alone(tmp_path):
    """configs/video.yaml's settings on a panning clip with a moving square (scripts/coherence.py
    measures the same on a clip of a real photo)."""
    preset = yaml.safe_load((REPO / "configs" / "video.yaml").read_text())
    data_settings = {k: v for k, v in preset["data"]["init_args"].items() if k not in ("video", "output", "resize")}
    source = make_video(tmp_path / "clip.mp4", frames=10, size=(72, 96))
    errors = {}
    for carry in (data_settings["carry"], 0.0):
        out = tmp_path / f"carry{carry}"
        data = video_data(source, out, **{**data_settings, "carry": carry})
        run_dream(DreamModule(**preset["model"]), data, Octaves(**preset["octaves"]))
        errors[carry] = mean_warping_error(frames_of(out / "clip.frames"), read_frames(source))
    print(f"warping error: carried {errors[data_settings['carry']]:.2f}, alone {errors[0.0]:.2f}")
    assert errors[data_settings["carry"]] <= 0.5 * errors[0.0], errors


def test_fps_of_a_zoom_is_kept_exactly_as_a_fraction(tmp_path):
    data = ZoomDataModule(images=str(make_photo(tmp_path / "p.png")), output=str(tmp_path / "z"), fps=29.97)
    assert data.fps == Fraction(2997, 100)


@pytest.mark.slow  # two spawned processes dreaming videos: about 17 s
def test_two_processes_share_videos_and_chunks_each_frame_once(tmp_path):
    folder = tmp_path / "clips"
    make_video(folder / "a.mp4", frames=6, size=(40, 48))
    make_video(folder / "b.mp4", frames=9, size=(40, 48))
    args = [
        sys.executable,
        "-m",
        "dreamer.cli",
        "fit",
        "--config",
        str(REPO / "configs" / "video.yaml"),
        "--data.video",
        str(folder),
        "--data.output",
        str(tmp_path / "out"),
        "--data.resize",
        "null",
        "--data.chunk_frames",
        "4",
        "--data.overlap",
        "1",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp_independent",
        "--trainer.default_root_dir",
        str(tmp_path / "logs"),
        *FAST,
    ]
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("2 dreamed, 0 skipped, 0 failed") == 1  # one summary, from rank 0
    for name, count in (("a", 6), ("b", 9)):
        assert len(frames_of(tmp_path / "out" / f"{name}.frames")) == count
        assert probe(tmp_path / "out" / f"{name}.mp4").frames == count


def test_raft_flow_is_optional_and_its_missing_weights_are_one_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", _offline)
    source = make_video(tmp_path / "clip.mp4", frames=2, size=(40, 48))
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "video.yaml"),
            "--data.video",
            str(source),
            "--data.output",
            str(tmp_path / "out"),
            "--data.flow",
            "raft_small",
            *FAST,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "raft_small_C_T_V2-01064c6d.pth" in err
    assert "Traceback" not in err


def test_raft_flow_gives_a_dense_flow_of_the_frame_size(tmp_path, monkeypatch):
    import torchvision.models as tvm

    from dreamer.motion.raft import RaftFlow

    random = tvm.optical_flow.raft_small(weights=None).state_dict()
    monkeypatch.setattr("dreamer.motion.raft.resolve_state_dict", lambda name, weights: random)
    frames = list(read_frames(make_video(tmp_path / "c.mp4", frames=2, size=(36, 50))))
    flow = RaftFlow("raft_small", updates=2)(frames[0], frames[1])
    assert flow.shape == (36, 50, 2)
    assert flow.dtype == np.float32
    assert np.isfinite(flow).all()


def _offline(*args, **kwargs):
    raise OSError("no network")
