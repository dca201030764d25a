"""What every section shares: timing, photos, models, the Trainer, dreamer's run and the reference
loop (``scripts/plain_deepdream.py``'s, fed dreamer's own frozen graph), tables and whole processes."""

from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Optional

import lightning.pytorch as pl
import numpy as np
import torch
from PIL import Image

from dreamer import wire
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.image.jitter import Jitter
from dreamer.engine.module import DreamModule
from dreamer.engine.networks.extractor import IMAGENET_MEAN, IMAGENET_STD
from dreamer.photos.data import DreamDataModule
from scripts.plain_deepdream import deepdream

ROOT = Path(__file__).resolve().parents[2]  # the repository
DREAMER_NAMES = {"jitter": "jitter.roll"}  # the plain script's options that dreamer names otherwise


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, lightning {pl.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_seconds(run: Callable[[], object], reps: int) -> float:
    run()  # warm-up: first-call allocations, graph tracing, compilation
    times = []
    for _ in range(reps):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(runs: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each run, the runs taken in turn (A B C A B C …) so that drift in the
    machine's speed hits all of them alike."""
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def photo(path: Path, side: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([x, y, 0.5 + 0.5 * np.sin(12 * x + seed)], axis=-1) * 200
    Image.fromarray(np.clip(base + rng.integers(0, 55, (side, side, 3)), 0, 255).astype(np.uint8)).save(path)
    return path


def trainer_settings(lean: bool = True, **kwargs) -> dict:
    settings = dict(
        accelerator="auto",
        devices=1,
        max_epochs=1,
        enable_checkpointing=False,
        enable_model_summary=False,
        logger=False,
        enable_progress_bar=False,
    )
    if not lean:  # what a user gets by default: TensorBoard logs and the progress bar
        settings.update(logger=True, enable_progress_bar=True, log_every_n_steps=10)
    settings.update(kwargs)
    return settings


class Setup(NamedTuple):
    """A model and the octave walk its dreams take."""

    model: DreamModule
    octaves: Octaves


def fit(setup: Setup, data: DreamDataModule, lean: bool = True, **trainer_kwargs) -> None:
    """``trainer.fit`` of a run wired as the command line wires it (``dreamer.wire``)."""
    settings = trainer_settings(lean, **trainer_kwargs)
    given = settings.pop("callbacks", [])
    logged, showing = settings["logger"] is not False, settings["enable_progress_bar"] is not False
    wiring = wire(setup.model, data, setup.octaves, given=given, logged=logged, progress_bar=showing)
    run = pl.Trainer(**settings, callbacks=wiring.callbacks)
    run.fit(setup.model, datamodule=data)


def dreamer_run(setup: Setup, images: Path, out: Path, batch_size: int = 1, lean: bool = True, **trainer_kwargs):
    data = DreamDataModule(images=str(images), output=str(out), overwrite=True, batch_size=batch_size)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # bar renders off-screen
        fit(setup, data, lean, default_root_dir=str(out.parent / "logs"), **trainer_kwargs)


def handwritten_run(
    setup: Setup, image: Path, out: Path, octaves: int, scale: float, iterations: int, lr: float, jitter: int
) -> None:
    """The same dream as the plain script's loop (``plain_deepdream.deepdream``) on dreamer's own frozen graph."""
    model = setup.model
    device = model.device
    extract = model.objective.extractor._graph(model.objective.schedule.layers[-1])
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    original = torch.from_numpy(np.asarray(Image.open(image).convert("RGB"))).permute(2, 0, 1)[None].float().div(255)

    def objective(rolled: torch.Tensor) -> torch.Tensor:
        return sum(a.square().mean() for a in extract((rolled - mean) / std).values())  # type: ignore[return-value]

    generator = torch.Generator().manual_seed(0)
    alpha = setup.octaves.alpha
    dream = deepdream(objective, original.to(device), octaves, scale, iterations, lr, alpha, jitter, generator)
    pixels = dream[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    Image.fromarray(pixels).save(out)


def model_for(backbone: str, layer: int, **kwargs) -> Setup:
    """``backbone`` at ``layer`` with the benchmark's settings and ``kwargs``: model settings, and the
    octave walk's (``octaves`` for its count, ``scale``, ``iterations``, ``alpha``)."""
    weights = "imagenet" if backbone == "mobilenet_v2" else None  # VGG weights are not offline; timing is the same
    walk = {"count": kwargs.pop("octaves", 3), "scale": 1.4, "iterations": 10, "alpha": 0.2}
    walk.update({key: kwargs.pop(key) for key in ("scale", "iterations", "alpha") if key in kwargs})
    settings = dict(backbone=backbone, weights=weights, layers=layer, lr=0.01, jitter=Jitter(roll=8))
    if isinstance(kwargs.get("jitter"), int):
        kwargs["jitter"] = Jitter(roll=kwargs["jitter"])
    settings.update(kwargs)
    return Setup(DreamModule(**settings), Octaves(**walk))


def table(rows: list[list[object]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def process(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and minor page faults of one command run as a fresh process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} … failed:\n{errors.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_minflt


def whole_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a whole ``dreamer`` command."""
    seconds, mib, _ = process([sys.executable, "-m", "dreamer.cli", *args])
    return seconds, mib


def alternated(
    commands: dict[str, list[str]], reps: int, warm_up: bool = True
) -> dict[str, list[tuple[float, float, int]]]:
    """Every command ``reps`` times as a fresh process, taken in turn (A B A B …) after a warm-up
    round (disk caches), so that drift in the machine's speed hits all of them alike."""
    for command in commands.values() if warm_up else []:
        process(command)
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            runs[name].append(process(command))
    return runs


def paired_ratio(runs: dict[str, list[tuple[float, float, int]]], a: str, b: str) -> float:
    """Median over repetitions of ``a``'s time ÷ ``b``'s time in the same round."""
    return statistics.median(x[0] / y[0] for x, y in zip(runs[a], runs[b]))


def peak_rss() -> int:
    """This process's peak resident memory in bytes. VmHWM, unlike getrusage's ru_maxrss, starts
    afresh at exec, so it does not include the parent's memory."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kib * 1024


def peak_child(side: int, tile: Optional[int], iterations: int) -> dict:
    """Run in a fresh process: one dream of ``side``² and its peak memory."""
    with tempfile.TemporaryDirectory() as folder:
        image = photo(Path(folder) / "big.png", side)
        model = model_for("mobilenet_v2", 11, octaves=1, iterations=iterations, tile_size=tile)
        start = time.perf_counter()
        dreamer_run(model, image, Path(folder) / "out.png")
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else peak_rss()
    return {
        "seconds": seconds,
        "peak_gib": peak / 2**30,
        "device": "GPU allocated" if torch.cuda.is_available() else "CPU RSS",
    }
