"""What dreamer promises about the user's files, tried the way a user meets it: real folders, real
clips made with PyAV, real child processes, real read-only folders and write limits."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import av
import pytest

from dreamer.cli import main
from dreamer.files import children
from dreamer.files.listing import find_files
from dreamer.motion.videoio import probe
from dreamer.photos.data import DreamDataModule
from tests.cli_args import QUIET, flags
from tests.conftest import REPO, make_photo
from tests.videos import scene, texture

DREAMER = Path(sys.executable).with_name("dreamer")
TINY = flags(model_octaves=1, model_iterations=1, model_layers=4)
QUICK = ["--config", "quickstart", *TINY, *QUIET]
VIDEO = ["--config", "video", *TINY, "--data.resize", "null", *QUIET]


def fingerprints(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) → its content's hash."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def files_under(folder: Path) -> set[Path]:
    return {Path(root) / name for root, _, files in os.walk(folder) for name in files}


def make_clip(path: Path, frames: int = 4, size: tuple[int, int] = (48, 64), faststart: bool = False) -> Path:
    height, width = size
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4" if path.suffix != ".mov" else "mov", options=options) as output:
        video = output.add_stream("libx264", rate=12, options={"crf": "10"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        world = texture(height, width + 2 * frames + 2)
        for index in range(frames):
            output.mux(video.encode(av.VideoFrame.from_ndarray(scene(world, index, width), format="rgb24")))
        output.mux(video.encode())
    return path


# 1. Inputs and user files are never written to -------------------------------------------------


def test_videos_that_share_a_stem_never_replace_each_other_even_with_overwrite(tmp_path, capsys):
    folder = tmp_path / "clips"
    make_clip(folder / "clip.mov")
    make_clip(folder / "clip.mp4")
    before = fingerprints(folder)
    assert (
        main(["fit", *VIDEO, "--data.video", str(folder), "--data.output", str(folder), "--data.overwrite", "true"])
        == 0
    )
    after = fingerprints(folder)
    assert {name: after[name] for name in before} == before  # both inputs byte for byte
    assert probe(folder / "clip.mov.mp4").frames == 4
    assert probe(folder / "clip.mp4.mp4").frames == 4
    assert (folder / "clip.mov.yaml").is_file()
    assert (folder / "clip.mp4.yaml").is_file()
    # Again into the same folder: the dreams are inputs now too. Those would replace themselves: refused.
    capsys.readouterr()
    assert main(["fit", *VIDEO, "--data.video", str(folder), "--data.output", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("is one of this run's inputs") == 4  # the clips' and the dreams' outputs
    assert fingerprints(folder) == after


def test_a_users_yaml_beside_the_dream_is_kept_and_the_config_is_never_overwritten(tmp_path, capsys):
    photos, out = tmp_path / "in", tmp_path / "out"
    make_photo(photos / "beach.png")
    (out).mkdir()
    mine = out / "beach.yaml"
    mine.write_text("# my own notes, with comments\nmodel: {lr: 0.1}\n")
    assert main(["fit", *QUICK, "--data.images", str(photos), "--data.output", str(out)]) == 0
    captured = capsys.readouterr()
    assert mine.read_text().startswith("# my own notes")
    assert (out / "beach.png").is_file()
    assert "config not saved beside beach.png" in captured.out
    assert "exists" in captured.out
    # The user's config saved where the dream's config would go, and run with overwrite: an input, so kept.
    config = out / "beach.yaml"
    shutil.copy(REPO / "configs" / "quickstart.yaml", config)
    (out / "assets").symlink_to(REPO / "assets")
    text = config.read_bytes()
    args = ["fit", *QUICK[2:], "--config", str(config), "--data.images", str(photos), "--data.output", str(out)]
    assert main([*args, "--data.overwrite", "true"]) == 0
    assert config.read_bytes() == text
    assert "is one of this run's inputs" in capsys.readouterr().out


def test_no_output_escapes_the_output_folder(tmp_path, capsys):
    make_photo(tmp_path / "in" / "a" / "one.png")
    make_photo(tmp_path / "outside" / "two.png")
    out = tmp_path / "out"
    pattern = str(tmp_path / "in" / "*" / ".." / ".." / "outside" / "*.png")
    assert main(["fit", *QUICK, "--data.images", pattern, "--data.output", str(out)]) == 0
    assert (out / "two.png").is_file()
    assert files_under(tmp_path / "outside") == {tmp_path / "outside" / "two.png"}
    # A folder inside the output that is a symlink to elsewhere: refused, one line, nothing written there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    make_photo(tmp_path / "deep" / "sub" / "three.png")
    (out / "sub").symlink_to(elsewhere)
    assert main(["fit", *QUICK, "--data.images", str(tmp_path / "deep"), "--data.output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "would lie outside data.output" in err
    assert not any(elsewhere.iterdir())


def test_property_inputs_stay_byte_identical_and_every_write_stays_inside_the_output(tmp_path, capsys):
    """Generated layouts: names that collide across suffixes and folders, patterns with ``..``,
    symlinked folders, outputs inside the inputs, overwrite on and off; after each run every input is
    byte-identical and every new file lies inside data.output."""
    rng = random.Random(17)
    for trial in range(4):
        root = tmp_path / f"t{trial}"
        photos = root / "photos"
        stems = ["beach", "cat", "Beach"]
        for index in range(rng.randint(2, 4)):
            folder = photos / (rng.choice(["", "sub", "sub/deeper"]) if index else "")
            make_photo(folder / f"{rng.choice(stems)}.{rng.choice(['png', 'jpg', 'PNG'])}", size=(48, 40), seed=index)
        (photos / "link").symlink_to(photos / "sub", target_is_directory=True)
        (photos / "loop").symlink_to(photos, target_is_directory=True)
        inside = rng.random() < 0.5
        out = photos / "dreams" if inside else root / "out"
        source = rng.choice([str(photos), str(photos / "**" / "*.*"), str(photos / "sub" / ".." / "*")])
        before = fingerprints(photos)
        everything_before = files_under(root)
        overwrite = rng.choice(["true", "false"])
        for _ in range(2):  # the second run meets the first one's dreams
            code = main(
                ["fit", *QUICK, "--data.images", source, "--data.output", str(out), "--data.overwrite", overwrite]
            )
            assert code in (0, 1), capsys.readouterr()
        after = fingerprints(photos)
        assert {name: after[name] for name in before} == before, (trial, source)
        written = files_under(root) - everything_before
        real_out = Path(os.path.realpath(out))
        assert written, trial
        assert all(Path(os.path.realpath(path)).is_relative_to(real_out) for path in written), trial
    capsys.readouterr()


# 2. No code runs from the user's folder --------------------------------------------------------


def test_children_import_the_installed_package_not_a_dreamer_folder_in_the_current_one(tmp_path):
    fake = tmp_path / "dreamer"
    fake.mkdir()
    (fake / "__init__.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('imported')\n")
    (fake / "children.py").write_text("raise SystemExit(9)\n")
    done = children.run("builtins:print", "hello", cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip() == "['hello']"
    assert not (tmp_path / "ran").exists()


def test_a_video_dreamed_from_a_folder_holding_dreamer_is_encoded_by_the_real_encoder(tmp_path):
    fake = tmp_path / "work" / "dreamer"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "motion").mkdir()
    (fake / "motion" / "__init__.py").write_text("")
    for impostor in ("encoder.py", "videoio.py"):  # impostors that write nothing
        (fake / "motion" / impostor).write_text("import sys; sys.exit(0)\n")
    clip = make_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "dreamer.cli", "fit", *VIDEO, "--data.video", str(clip), "--data.output", str(out)]
    # ``python -m`` from that folder would import the impostor as the parent too; the console script does not.
    done = subprocess.run([str(DREAMER), *command[3:]], cwd=fake.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert probe(out / "clip.mp4").frames == 4
    assert f"written: {out / 'clip.mp4'}" in done.stdout


def test_a_video_is_never_reported_written_when_the_encoder_left_nothing_on_disk(tmp_path, monkeypatch):
    from fractions import Fraction

    from dreamer.motion import encoder
    from dreamer.motion.videoio import VideoError

    monkeypatch.setattr(encoder.children, "run", lambda *args, **kwargs: subprocess.CompletedProcess(args, 0, "", ""))
    with pytest.raises(VideoError, match="the encoder ended without writing it"):
        encoder.encode_frames(tmp_path, 1, tmp_path / "clip.mp4", Fraction(12))


def test_a_child_ends_when_its_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from dreamer.files import children; "
            "p = children.popen('tests.helpers:sleep_writing_pid', sys.argv[1]); p.wait()",
            str(pid_file),
        ],
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purpose
        return stat.read().split(") ")[1][0] != "Z"


# 3. Runs finish, and say what happened to every input -------------------------------------------


def test_listing_ends_on_symlink_loops_and_takes_each_file_once(tmp_path):
    root = tmp_path / "photos"
    make_photo(root / "a.png")
    make_photo(root / "sub" / "b.png")
    make_photo(tmp_path / "elsewhere" / "c.png")
    (root / "x").symlink_to(root, target_is_directory=True)  # x -> .
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # sub/up -> ..
    (root / "there").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "there2").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # the same folder twice
    for entry in [str(root), str(root / "**" / "*.png"), str(root / "*" / "*.png")]:
        started = time.monotonic()
        found = find_files(entry, accept=lambda path: path.suffix == ".png")
        assert time.monotonic() - started < 5
        real = sorted(os.path.realpath(path) for path, _ in found)
        assert len(real) == len(set(real)), entry  # each file once
        assert os.path.realpath(tmp_path / "elsewhere" / "c.png") in real, entry  # a symlinked folder is followed
    names = sorted(name for _, name in find_files(str(root), accept=lambda path: path.suffix == ".png"))
    assert names == ["a.png", "sub/b.png", "there/c.png"]


def test_an_unreadable_folder_is_one_note_and_the_rest_is_listed(tmp_path, monkeypatch):
    make_photo(tmp_path / "p" / "a.png")
    make_photo(tmp_path / "p" / "locked" / "b.png")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    notes: list[str] = []
    found = find_files(str(tmp_path / "p"), accept=lambda path: True, notes=notes)
    assert [name for _, name in found] == ["a.png"]
    assert notes == [
        f"{tmp_path / 'p' / 'locked'}: folder not readable (permission denied); its files were not looked at"
    ]


def without_root_override() -> list[str]:
    """A command prefix that takes root's override of file permissions away (CI runs as root), so a
    read-only folder is read-only; nothing for another user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to hold")
    caps = "-dac_override,-dac_read_search"
    prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root where setpriv may not drop capabilities: file permissions cannot be made to hold")
    return prefix


def run_dreamer(args: list[str], folder: Path, prefix: tuple[str, ...] = (), **options) -> subprocess.CompletedProcess:
    command = [*prefix, str(DREAMER), *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, **options)


def test_a_read_only_sub_folder_fails_its_photos_alone_and_an_unreadable_photo_says_permission_denied(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photo(photos / "a.png")
    make_photo(photos / "ro" / "b.png")
    make_photo(photos / "secret.png").chmod(0o000)
    (out / "ro").mkdir(parents=True)
    (out / "ro").chmod(0o555)
    args = ["fit", *QUICK, "--data.images", str(photos), "--data.output", str(out)]
    done = run_dreamer(args, tmp_path, prefix=tuple(without_root_override()))
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert any(str(out / "ro" / "b.png") in line and "Permission denied" in line for line in failed), failed
    assert any("secret.png: permission denied" in line for line in failed), failed
    assert (out / "a.png").is_file()
    assert "1 dreamed" in done.stdout
    (out / "ro").chmod(0o755)


def test_a_full_disk_fails_the_dreams_that_do_not_fit_and_the_others_go_on(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    make_photo(photos / "small.png", size=(48, 40))
    make_photo(photos / "large.png", size=(320, 320), seed=3)
    limit = 64 * 1024  # every file the run writes is cut at 64 KiB: the large dream's PNG does not fit

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead

    done = run_dreamer(
        ["fit", *QUICK, "--data.images", str(photos), "--data.output", str(out)], tmp_path, preexec_fn=limited
    )
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(failed) == 1
    assert str(out / "large.png") in failed[0]
    assert "File too large" in failed[0]
    assert (out / "small.png").is_file()
    assert not (out / "large.png").exists()
    assert not [path for path in files_under(out) if path.name.endswith(".part")]  # nothing half-written left


def test_a_video_cut_after_a_front_index_gives_the_frames_that_decode_and_status_1(tmp_path, capsys):
    whole = make_clip(tmp_path / "whole.mp4", frames=16, size=(96, 128), faststart=True).read_bytes()
    clip = tmp_path / "clips" / "cut.mp4"
    clip.parent.mkdir()
    clip.write_bytes(whole[: len(whole) * 8 // 10])  # the index says 16 frames; 7 packets, 4 decode
    readable = 0
    with av.open(str(clip)) as container, contextlib.suppress(av.error.FFmpegError):
        for _ in container.decode(video=0):
            readable += 1
    out = tmp_path / "out"
    args = ["fit", *VIDEO, "--data.video", str(clip.parent), "--data.output", str(out)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "truncated or damaged stream" in captured.err
    assert f"{readable} of 16 frames" in captured.err
    assert probe(out / "cut.mp4").frames == readable
    assert 0 < readable < 16


def test_a_run_stopped_early_accounts_for_every_photo_and_does_not_claim_success(tmp_path, capsys):
    photos = tmp_path / "photos"
    for index in range(20):
        make_photo(photos / f"p{index:02d}.png", size=(48, 40), seed=index)
    args = ["fit", *QUICK, "--model.octaves", "2", "--data.images", str(photos), "--data.output", str(tmp_path / "o")]
    assert main([*args, "--trainer.max_steps", "5"]) == 1
    captured = capsys.readouterr()
    assert "18 not dreamed: the run stopped after 5 steps" in captured.err
    assert "2 dreamed, 0 skipped, 0 failed" in captured.out


def test_ctrl_c_reports_what_was_dreamed_and_what_was_not(tmp_path):
    photos, out = tmp_path / "photos", tmp_path / "out"
    for index in range(20):
        make_photo(photos / f"p{index:02d}.png", size=(320, 240), seed=index)
    args = ["fit", *QUICK[:2], *QUIET, "--data.images", str(photos), "--data.output", str(out)]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Ctrl-C as a terminal sends it, even where the tests run in a background job (which ignores SIGINT).
    hears_ctrl_c = partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    run = subprocess.Popen([str(DREAMER), *args], cwd=tmp_path, preexec_fn=hears_ctrl_c, **pipes)
    deadline = time.monotonic() + 300
    while not (out / "p00.png").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=120)
    dreamed = int(stdout.strip().splitlines()[-1].split()[0])
    assert run.returncode == 1, (stdout, stderr)
    assert 0 < dreamed < 20, (stdout, stderr)
    assert f"{20 - dreamed} not dreamed: the run was interrupted after" in stderr
    assert len(list(out.glob("*.png"))) == dreamed
    assert not [p for p in files_under(out) if p.name.endswith(".part")]


def test_a_later_run_removes_what_a_killed_one_left_and_nothing_of_a_live_one(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    dead = out / f".photo.png.dreamer-{gone.pid}@{host}.abcd1234.part"
    live = out / f".photo.png.dreamer-{os.getpid()}@{host}.efgh5678.part"
    other_host = out / f".photo.png.dreamer-{gone.pid}@not-{host}.ijkl9012.part"
    for path in (dead, live, other_host):
        path.write_bytes(b"half a png")
    make_photo(tmp_path / "in" / "photo.png")
    data = DreamDataModule(images=str(tmp_path / "in"), output=str(out))
    data.make_plan()
    assert not dead.exists()
    assert live.exists()
    assert other_host.exists()


def test_a_kill_during_encoding_leaves_no_encoder_and_the_next_run_finishes_the_video(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=12, size=(96, 128))
    out = tmp_path / "out"
    args = ["fit", *VIDEO, "--data.video", str(clip), "--data.output", str(out)]
    run = subprocess.Popen([str(DREAMER), *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    frames = out / "clip.frames"
    deadline = time.monotonic() + 300
    encoder = None
    while encoder is None and run.poll() is None and time.monotonic() < deadline:
        encoder = next((pid for pid in child_pids(run.pid) if b"encode_job" in command_line(pid)), None)
        time.sleep(0.02)
    assert encoder is not None, "the run ended before its encoder was seen"
    # Frozen as soon as seen (it is still starting up), so the kill lands during encoding however
    # fast or slow this machine is; thawed once its parent is gone.
    os.kill(encoder, signal.SIGSTOP)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not (out / "clip.mp4").exists(), "the encoder had finished before it was frozen"
    os.kill(encoder, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while alive(encoder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(encoder)
    assert not (out / "clip.mp4").exists()
    assert len(list(frames.glob("*.png"))) == 12
    done = run_dreamer(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert probe(out / "clip.mp4").frames == 12
    assert (out / "clip.yaml").is_file()
    assert not [path for path in files_under(out) if path.name.endswith(".part")]


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc/*/stat``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_photo_with_the_longest_name_the_file_system_takes_is_dreamed(tmp_path, capsys):
    photo = make_photo(tmp_path / "photos" / f"{'n' * 240}.png", size=(48, 40))
    out = tmp_path / "out"
    assert main(["fit", *QUICK, "--data.images", str(photo.parent), "--data.output", str(out)]) == 0
    assert (out / photo.name).is_file()
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []


# 4. Every bad value is one line and exit status 2 -----------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data.batch_size", "0"], "data.batch_size must be >= 1"),
        (["--data.resize", "0"], "data.resize must be a positive number"),
        (["--data.resize", "-5"], "data.resize must be a positive number"),
        (["--trainer.max_steps", "-3"], "max_steps"),
        (["--model.lr", "-0.1"], "model.lr must be > 0"),
        (
            ["--model.optimizer", "torch.optim.Adam", "--model.optimizer.betas", "[2, 0.9]"],
            "model.optimizer: Invalid beta",
        ),
        (["--model.lr", "abc"], "model.lr: Expected a float. Got value: abc"),
        ([*VIDEO, "--data.carry", "2"], "data.carry must be within [0, 1]"),
        ([*VIDEO, "--data.chunk_frames", "0"], "data.chunk_frames must be >= 1"),
    ],
)
def test_bad_values_are_one_line_and_exit_status_2(args, message, tmp_path, capsys):
    base = [] if args[:1] == ["--config"] else QUICK
    try:
        code = main(["fit", *base, "--data.output", str(tmp_path / "o"), *args])
    except SystemExit as exit:  # the parser's own errors leave through sys.exit, as argparse's do
        code = exit.code
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines[-1].startswith("dreamer: error: "), captured.err
    assert message in lines[-1], captured.err
    assert "Traceback" not in captured.err
    assert "usage:" not in captured.err
    assert not (tmp_path / "o").exists()  # before any work


def test_a_gpu_asked_for_on_a_machine_without_one_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["fit", *QUICK, "--trainer.accelerator", "gpu", "--data.output", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "dreamer: error: trainer.accelerator: gpu was asked for, but this machine has no GPU that torch can use"
    )
