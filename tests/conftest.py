from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
from PIL import Image

from dreamer.command.wiring import wire
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.image.jitter import Jitter
from dreamer.engine.module import DreamModule
from dreamer.photos.data import DreamDataModule
from dreamer.quiet import silence_known_noise

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "chelsea.jpg"

silence_known_noise()


def make_photo(path: Path, size: tuple[int, int] = (80, 64), seed: int = 0, mode: str = "RGB") -> Path:
    """A small synthetic photo: smooth gradients plus texture, ``size`` = (width, height)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, 0.5 + 0.5 * np.sin(x / 5.0 + seed)], axis=-1)
    pixels = np.clip(base * 200 + rng.integers(0, 55, (height, width, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


@pytest.fixture(autouse=True)
def plain_argv(monkeypatch):
    """The CLI reads ``sys.argv`` when given no arguments: never pytest's own."""
    monkeypatch.setattr("sys.argv", ["dreamer"])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return make_photo(tmp_path / "in" / "photo.png")


def tiny_model(**overrides) -> DreamModule:
    """MobileNetV2 with its real ImageNet weights (shipped by a package): small, fast, meaningful."""
    settings = dict(backbone="mobilenet_v2", weights="imagenet", layers=7, lr=0.02)
    settings.update(overrides)
    if isinstance(settings.get("jitter"), int):  # a roll alone, as a number
        settings["jitter"] = Jitter(roll=settings["jitter"])
    return DreamModule(**settings)


def tiny_octaves(**overrides) -> Octaves:
    """A short walk: 2 octaves of 1.5, 3 steps each (``overrides``: any ``Octaves`` field)."""
    return Octaves(**{"count": 2, "scale": 1.5, "iterations": 3, **overrides})


def run_dream(
    model: DreamModule, data: DreamDataModule, octaves: Octaves | None = None, **trainer_kwargs
) -> pl.Trainer:
    """Dream ``data`` with ``model`` walking ``octaves`` (``tiny_octaves()`` unless given)."""
    settings = dict(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    settings.update(trainer_kwargs)
    given = settings.pop("callbacks", [])
    logged, showing = settings["logger"] is not False, settings["enable_progress_bar"] is not False
    wiring = wire(model, data, octaves or tiny_octaves(), given=given, logged=logged, progress_bar=showing)
    trainer = pl.Trainer(**settings, callbacks=wiring.callbacks)
    trainer.fit(model, datamodule=data)
    return trainer
