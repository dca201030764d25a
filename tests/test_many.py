"""A folder of photos: batching, invariance, sharding, resume, broken files, atomic writes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.cli import main
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.contract.outline import DreamOutline
from dreamer.files.imageio import save_image
from dreamer.files.plan import RunSummary
from dreamer.photos.data import DreamBatches, DreamDataModule, find_images
from dreamer.photos.writer import DreamWriter
from tests.cli_args import QUIET
from tests.conftest import REPO, make_photo, run_dream, tiny_model, tiny_octaves
from tests.helpers import FloatDreams, free_port


def folder_of(tmp_path: Path, count: int, size=(48, 40)) -> Path:
    for i in range(count):
        make_photo(tmp_path / "photos" / f"img{i:02d}.png", size=size, seed=i)
    return tmp_path / "photos"


def float_dreams(folder: Path) -> dict[str, torch.Tensor]:
    return {p.stem: torch.load(p) for p in sorted(folder.glob("*.pt"))}


def test_find_images_file_folder_glob_list(tmp_path):
    make_photo(tmp_path / "a" / "one.png")
    make_photo(tmp_path / "a" / "sub" / "two.JPG")
    make_photo(tmp_path / "a" / "mit Leerzeichen ü.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    names = lambda found: sorted(name for _, name in found)  # noqa: E731
    assert names(find_images(str(tmp_path / "a"))) == ["mit Leerzeichen ü.png", "one.png", "sub/two.JPG"]
    assert names(find_images(str(tmp_path / "a"), recursive=False)) == ["mit Leerzeichen ü.png", "one.png"]
    assert names(find_images(str(tmp_path / "a" / "*.png"))) == ["mit Leerzeichen ü.png", "one.png"]
    both = find_images([str(tmp_path / "a" / "one.png"), str(tmp_path / "a")])
    assert len(both) == 3  # the same file listed twice is dreamed once
    with pytest.raises(ValueError, match="not a file, folder or matching glob"):
        find_images(str(tmp_path / "missing"))


def test_equal_sizes_are_batched_and_other_sizes_kept_apart(tmp_path):
    for i in range(5):
        make_photo(tmp_path / "p" / f"a{i}.png", size=(40, 30))
    make_photo(tmp_path / "p" / "b.png", size=(30, 40))
    data = DreamDataModule(images=str(tmp_path / "p"), output=str(tmp_path / "o"), batch_size=2)
    data.plan = data.make_plan()
    sizes = [[job.size for job in batch] for batch in data.batches()]
    assert sizes == [[(30, 40)] * 2, [(30, 40)] * 2, [(30, 40)], [(40, 30)]]
    item = DreamBatches(data.batches())[0]
    assert item.pixels is not None
    assert item.pixels.shape == (2, 3, 30, 40)
    assert item.names == ["a0.png", "a1.png"]


def test_resize_sets_the_long_side(tmp_path):
    make_photo(tmp_path / "p" / "wide.png", size=(200, 100))
    data = DreamDataModule(images=str(tmp_path / "p"), output=str(tmp_path / "o"), resize=64)
    assert data.make_plan().jobs[0].size == (32, 64)


def quickstart_args(images: Path, output: Path, *extra: str, iterations: int = 1) -> list[str]:
    """``dreamer fit`` arguments: the quickstart preset cut to 1 octave, no logger or bar, then ``extra``."""
    quiet = f"--octaves.count 1 --octaves.iterations {iterations} {' '.join(QUIET)}"
    config = str(REPO / "configs" / "quickstart.yaml")
    return [
        "fit",
        "--config",
        config,
        *quiet.split(),
        "--data.images",
        str(images),
        "--data.output",
        str(output),
        *extra,
    ]


def test_photos_that_share_a_stem_each_get_their_own_dream_and_resume_finds_them(tmp_path, capsys):
    folder = tmp_path / "p"
    for name in ("beach.jpg", "beach.png", "beach.webp", "dune.png"):
        make_photo(folder / name)
    (folder / "sub").mkdir()
    make_photo(folder / "sub" / "beach.png")  # another folder: no clash
    args = quickstart_args(folder, tmp_path / "out")
    assert main(args) == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["beach.jpg.png", "beach.png.png", "beach.webp.png", "dune.png", "sub/beach.png"]
    assert "5 dreamed, 0 skipped, 0 failed" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 dreamed, 5 skipped, 0 failed" in capsys.readouterr().out


def test_dreams_written_inside_the_photo_folder_are_not_dreamed_again(tmp_path, capsys):
    folder = tmp_path / "p"
    make_photo(folder / "a.png")
    args = quickstart_args(folder, folder / "dreams", "--data.overwrite", "true")
    for _ in range(2):
        assert main(args) == 0
        assert "1 dreamed, 0 skipped, 0 failed" in capsys.readouterr().out
    assert sorted(p.name for p in folder.rglob("*.png")) == ["a.png", "a.png"]


def test_sharding_is_exact_with_an_odd_count(tmp_path):
    """Each process plans its own share of the sorted files: disjoint shares, every photo once, and
    every process takes as many steps as the busiest."""
    photos = folder_of(tmp_path, 7)
    data = DreamDataModule(images=str(photos), output=str(tmp_path / "o"), batch_size=2)
    shares = [data.make_plan(rank=rank, world_size=3) for rank in range(3)]
    summary = RunSummary.merge([RunSummary.of(plan, 5 * len(data_with(plan, data).batches())) for plan in shares])
    assert summary.busiest == 10  # shares of 3, 2, 2 photos: 2, 1, 1 batches of at most 2, of 5 steps each
    loaders = []
    for plan in shares:
        share = data_with(plan, data)
        share.summary = summary
        share.outline = DreamOutline(Octaves(count=5, scale=1.5, iterations=1))
        loaders.append(share.train_dataloader())
    assert [len(steps) for steps in loaders] == [10, 10, 10]
    names = [name for steps in loaders for batch in steps if batch.position.dream_start for name in batch.names]
    assert sorted(names) == [f"img{i:02d}.png" for i in range(7)]


def data_with(plan, data: DreamDataModule) -> DreamDataModule:
    share = DreamDataModule(images=data.images, output=str(data.output), batch_size=data.batch_size)
    share.plan = plan
    return share


def dream_folder(tmp_path, photos, out, batch_size, **model_kwargs):
    floats = tmp_path / f"floats-{out}"
    model = tiny_model(jitter=3, **model_kwargs)
    data = DreamDataModule(images=str(photos), output=str(tmp_path / out), batch_size=batch_size)
    run_dream(model, data, callbacks=[FloatDreams(str(floats))])
    return float_dreams(floats)


def test_a_dream_does_not_depend_on_the_batch_size(tmp_path):
    """Algorithmically exact: with batch-size-independent convolution kernels the dreams are identical.

    (oneDNN picks kernels per batch shape; their last-bit differences can flip ReLU kinks during a
    long ascent, see the README. Disabling it here isolates what dreamer itself controls.)
    """
    photos = folder_of(tmp_path, 5)
    with torch.backends.mkldnn.flags(enabled=False):
        one = dream_folder(tmp_path, photos, "b1", batch_size=1)
        four = dream_folder(tmp_path, photos, "b4", batch_size=4)
    assert list(one) == list(four)
    assert len(one) == 5
    worst = max((one[k] - four[k]).abs().max().item() for k in one)
    print(f"batch 1 vs 4: max abs difference {worst:.2e}")
    assert worst <= 1e-4


def test_one_step_gradient_of_an_image_is_the_same_alone_or_in_a_batch():
    model = tiny_model()
    images = torch.rand(4, 3, 96, 80)
    batch = images.clone().requires_grad_(True)
    model.objective(batch, DreamBatch(None), 0).sum().backward()
    for i in range(4):
        alone = images[i : i + 1].clone().requires_grad_(True)
        model.objective(alone, DreamBatch(None), 0).sum().backward()
        assert torch.allclose(batch.grad[i : i + 1], alone.grad, rtol=1e-4, atol=1e-6 * alone.grad.abs().max())


def run_cli(args: list[str], cwd: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "dreamer.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def dream_with_processes(
    tmp_path,
    photos,
    devices: int,
    tag: str,
    accelerator: str = "cpu",
    length: list[str] = ("--octaves.count", "2", "--octaves.iterations", "3"),
    **env_vars: str,
) -> subprocess.CompletedProcess:
    extra = tmp_path / f"extra-{tag}.yaml"
    extra.write_text(
        "trainer:\n  callbacks:\n    - class_path: tests.helpers.FloatDreams\n"
        f"      init_args: {{folder: {tmp_path / f'floats-{tag}'}}}\n"
    )
    args = [
        "fit",
        "--config",
        str(REPO / "configs" / "quickstart.yaml"),
        "--config",
        str(extra),
        *length,
        "--data.images",
        str(photos),
        "--data.output",
        str(tmp_path / f"out-{tag}"),
        "--data.batch_size",
        "2",
        "--trainer.accelerator",
        accelerator,
        "--trainer.devices",
        str(devices),
        "--trainer.default_root_dir",
        str(tmp_path / f"logs-{tag}"),
        "--trainer.enable_progress_bar",
        "false",
    ]
    if devices > 1:
        args += ["--trainer.strategy", "ddp_independent"]
    done = run_cli(args, cwd=tmp_path, **env_vars)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow  # two spawned Trainers and one alone: about 30 s (torchrun and sharding tests stay in)
def test_one_and_two_processes_give_identical_dreams_each_exactly_once(tmp_path):
    """The README's claim, at the quickstart's full length (4 octaves × 10 steps: long enough for
    gradient ascent to amplify any last-bit difference): with the same threads per process, 1 and 2
    processes give bit-identical dreams."""
    photos = folder_of(tmp_path, 5, size=(96, 80))  # 3 batches of 2, 2, 1 over 2 processes
    results, metrics = {}, {}
    for devices in (1, 2):
        length = ["--octaves.count", "4"]  # the quickstart's 4 levels on its own photo; auto would give 96 px 1
        done = dream_with_processes(tmp_path, photos, devices, str(devices), length=length, OMP_NUM_THREADS="1")
        assert done.stdout.count("5 dreamed, 0 skipped, 0 failed") == 1  # one summary, from rank 0
        metrics[devices] = [line for line in done.stdout.splitlines() if line.startswith("dreams vs originals")]
        results[devices] = float_dreams(tmp_path / f"floats-{devices}")
        assert sorted(p.name for p in (tmp_path / f"out-{devices}").glob("*.png")) == [
            f"img{i:02d}.png" for i in range(5)
        ]
    assert list(results[1]) == list(results[2])
    assert all(torch.equal(results[1][k], results[2][k]) for k in results[1])
    assert len(metrics[1]) == 1
    assert metrics[1] == metrics[2]  # torchmetrics synced over both processes


@pytest.mark.parametrize("launcher", ["environment", "torchrun"])
def test_two_nodes_dream_every_photo_exactly_once(tmp_path, launcher):
    """Multi-node, on one machine with gloo: one process per "node" (``num_nodes=2``), started with
    the node rank and master address in the environment (as a cluster scheduler sets them), or by
    ``torchrun`` on each node. Every node exits cleanly and rank 0 reports the whole run."""
    photos = folder_of(tmp_path, 5)
    port = free_port()
    nodes_and_processes = "--trainer.accelerator cpu --trainer.devices 1 --trainer.num_nodes 2"
    args = quickstart_args(
        photos, tmp_path / "out", *nodes_and_processes.split(), "--trainer.strategy", "ddp_independent", iterations=2
    )
    nodes = []
    for node in (0, 1):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "NODE_RANK": str(node),
            "OMP_NUM_THREADS": "1",
        }
        command = [sys.executable, "-m", "dreamer.cli"]
        if launcher == "torchrun":
            command = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(node),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                str(port),
                "-m",
                "dreamer.cli",
            ]
        nodes.append(
            subprocess.Popen(
                [*command, *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    first, second = (stdout for stdout, _ in outputs)
    assert "5 dreamed, 0 skipped, 0 failed" in first
    assert "dreamed" not in second  # rank 0 reports the run
    written = [line for line in first.splitlines() if line.startswith("written: ")]
    assert sorted(written) == sorted(set(written))
    assert len(written) == 5  # each photo once, by either node
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"img{i:02d}.png" for i in range(5)]


def test_more_processes_than_photos(tmp_path):
    photos = folder_of(tmp_path, 1)
    done = dream_with_processes(tmp_path, photos, 2, "lonely")
    assert "1 dreamed, 0 skipped, 0 failed" in done.stdout
    assert "dreams vs originals" in done.stdout


def test_plain_ddp_is_refused_with_a_clear_message(tmp_path):
    import lightning.pytorch as pl

    from dreamer.errors import ConfigError

    model = tiny_model()
    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy="ddp", logger=False, enable_progress_bar=False)
    with pytest.raises(ConfigError, match="ddp_independent"):
        model.trainer = trainer
        model.setup("fit")


def test_resume_after_an_interrupted_run_dreams_only_what_is_missing(tmp_path):
    photos = folder_of(tmp_path, 3)
    out = tmp_path / "out"
    model = tiny_model()
    run_dream(
        model, DreamDataModule(images=str(photos), output=str(out)), tiny_octaves(iterations=2), max_steps=5
    )  # killed mid-way
    assert sorted(p.name for p in out.glob("*.png")) == ["img00.png"]
    first = (out / "img00.png").stat().st_mtime_ns
    writer_runs = []
    data = DreamDataModule(images=str(photos), output=str(out))
    trainer = run_dream(tiny_model(), data, tiny_octaves(iterations=2))
    writer_runs = [c for c in trainer.callbacks if isinstance(c, DreamWriter)][0].written
    assert sorted(p.name for p in writer_runs) == ["img01.png", "img02.png"]
    assert data.plan.skipped == [out / "img00.png"]
    assert (out / "img00.png").stat().st_mtime_ns == first


def test_no_partial_file_is_left_when_writing_crashes(tmp_path, monkeypatch):
    image = Image.new("RGB", (64, 64), "red")
    target = tmp_path / "out" / "dream.png"

    def crash(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half of a file")
        raise KeyboardInterrupt  # killed while writing

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_image(image, target)
    assert list((tmp_path / "out").iterdir()) == []


def write_corpus(root: Path) -> dict[str, str]:
    """Awkward and broken files, made here; the expected outcome of each."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    expect = {}
    photo.save(root / "rgb.png")
    expect["rgb.png"] = "dreamed"
    photo.convert("L").save(root / "grey.png")
    expect["grey.png"] = "dreamed"
    photo.convert("P").save(root / "palette.gif")
    expect["palette.gif"] = "dreamed"
    photo.convert("CMYK").save(root / "cmyk.jpg")
    expect["cmyk.jpg"] = "dreamed"
    Image.fromarray((rng.integers(0, 65535, (48, 64))).astype(np.uint16)).save(root / "sixteen.png")
    expect["sixteen.png"] = "dreamed"
    photo.save(root / "UPPER CASE ñame.JPEG")
    expect["UPPER CASE ñame.JPEG"] = "dreamed"
    frames = [photo, photo.rotate(90, expand=False)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    expect["animated.gif"] = "dreamed"
    (root / "empty.png").write_bytes(b"")
    expect["empty.png"] = "failed"
    (root / "text.jpg").write_text("this is not a picture")
    expect["text.jpg"] = "failed"
    photo.save(root / "whole.png")
    data = (root / "whole.png").read_bytes()
    (root / "whole.png").unlink()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    expect["truncated.png"] = "failed"
    corrupt = bytearray(data)
    corrupt[100:400] = bytes(300)
    (root / "corrupt.png").write_bytes(bytes(corrupt))
    expect["corrupt.png"] = "failed"
    Image.new("RGB", (2, 2)).save(root / "tiny.png")
    expect["tiny.png"] = "failed"
    # A PNG header claiming 30000 x 30000 px: Pillow refuses it as a decompression bomb.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))  # noqa: E731
    (root / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    expect["bomb.png"] = "failed"
    return expect


def test_a_corpus_of_awkward_and_broken_files(tmp_path, capsys):
    from dreamer.cli import main

    expect = write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "quickstart.yaml"),
            "--octaves.count",
            "2",
            "--octaves.iterations",
            "2",
            "--data.images",
            str(tmp_path / "corpus"),
            "--data.output",
            str(out),
            "--data.batch_size",
            "4",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1  # some failed
    for name, outcome in expect.items():
        written = (out / name).with_suffix(".png").exists()
        assert written == (outcome == "dreamed"), name
        if outcome == "failed":
            lines = [line for line in captured.err.splitlines() if name in line]
            assert len(lines) == 1, (name, captured.err)
            assert lines[0].startswith("failed: "), (name, captured.err)
    assert "Traceback" not in captured.err
    assert "animated (2 frames); dreaming its first frame" in captured.out
    dreamed = sum(1 for outcome in expect.values() if outcome == "dreamed")
    assert f"{dreamed} dreamed, 0 skipped, {len(expect) - dreamed} failed" in captured.out


def test_rgba_alpha_is_reattached(tmp_path):
    rgba = Image.new("RGBA", (64, 48), (200, 100, 50, 255))
    alpha = Image.linear_gradient("L").resize((64, 48))
    rgba.putalpha(alpha)
    rgba.save(tmp_path / "see-through.png")
    run_dream(tiny_model(), DreamDataModule(images=str(tmp_path / "see-through.png"), output=str(tmp_path / "o")))
    with Image.open(tmp_path / "o" / "see-through.png") as dream:
        assert dream.mode == "RGBA"
        assert np.array_equal(np.asarray(dream.getchannel("A")), np.asarray(alpha))


def test_exif_orientation_is_honoured(tmp_path):
    upright = Image.new("RGB", (40, 64), "white")
    upright.paste((255, 0, 0), (0, 0, 40, 16))  # red band on top of the upright photo
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera stores it: 64 x 40
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "camera.jpg", exif=exif.tobytes(), quality=95)
    model = tiny_model(lr=1e-4)  # nearly no change: look at the geometry
    run_dream(model, DreamDataModule(images=str(tmp_path / "camera.jpg"), output=str(tmp_path / "o")))
    with Image.open(tmp_path / "o" / "camera.png") as dream:
        assert dream.size == (40, 64)
        pixels = np.asarray(dream, dtype=np.float32)
    assert pixels[:16, :, 0].mean() > 200
    assert pixels[:16, :, 1].mean() < 80  # red band still on top


def test_a_diverged_dream_is_reported_and_never_written(tmp_path, photo):
    model = tiny_model()
    original = model.optimizer_step

    def poison(*args, **kwargs):
        original(*args, **kwargs)
        model.image.data.fill_(float("nan"))

    model.optimizer_step = poison
    trainer = run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / "o")))
    writer = [c for c in trainer.callbacks if isinstance(c, DreamWriter)][0]
    assert not (tmp_path / "o" / "photo.png").exists()
    assert len(writer.failed) == 1
    assert "NaN" in writer.failed[0]


def test_unwritable_output_is_an_error_before_any_work(tmp_path, photo):
    blocker = tmp_path / "a-file"
    blocker.write_text("output cannot be a folder inside a file")  # fails even for root
    with pytest.raises(ValueError, match="cannot write to"):
        DreamDataModule(images=str(photo), output=str(blocker / "out")).make_plan()


def test_full_disk_is_an_error_before_any_work(tmp_path, photo, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 100))
    with pytest.raises(ValueError, match="MiB free"):
        DreamDataModule(images=str(photo), output=str(tmp_path / "out")).make_plan()


def test_an_output_never_replaces_its_own_photo(tmp_path):
    photo = make_photo(tmp_path / "holiday" / "beach.png")
    data = DreamDataModule(images=str(photo), output=str(tmp_path / "holiday"), overwrite=True)
    plan = data.make_plan()
    assert not plan.jobs
    assert "is one of this run's inputs" in plan.failed[0]
