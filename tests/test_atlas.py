"""The channel atlas: one channel per image, sheets, resume, sharding, bad input, and that each image
shows what its channel wants."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.cli import main
from dreamer.engine.climb.objectives import activation_objective
from dreamer.errors import ConfigError
from dreamer.explore.atlas import parse_channels
from dreamer.explore.probes import channel_means, self_excitation_share
from dreamer.files.imageio import open_photo, to_tensor
from tests.cli_args import QUIET, flags
from tests.conftest import REPO, tiny_model

SHORT = [*flags(octaves_count=2, octaves_iterations=3, data_size=64), *QUIET[2:]]


def atlas(tmp_path, *extra: str) -> list[str]:
    return ["fit", "--config", "atlas", "--data.output", str(tmp_path / "atlas"), *extra]


def test_channel_lists_ranges_and_all():
    assert parse_channels("all", 4) == [0, 1, 2, 3]
    assert parse_channels("0-2, 7,5", 8) == [0, 1, 2, 5, 7]
    with pytest.raises(ConfigError, match=r"channel 96 is past the layer's width \(96 channels: 0-95\)"):
        parse_channels("90-100", 96)
    with pytest.raises(ConfigError, match="'x' is not a channel"):
        parse_channels("1,x", 96)
    with pytest.raises(ConfigError, match="runs backwards"):
        parse_channels("5-2", 96)


def test_each_image_of_a_batch_ascends_only_its_own_channel():
    activation = torch.randn(3, 5, 4, 4, requires_grad=True)
    values = activation_objective(activation, kind="mean", image_channels=[4, 0, 2])
    assert torch.allclose(values, activation[[0, 1, 2], [4, 0, 2]].flatten(1).mean(1))
    values.sum().backward()
    touched = activation.grad.abs().sum(dim=(2, 3)) > 0
    assert touched.tolist() == [[c == own for c in range(5)] for own in (4, 0, 2)]


def test_atlas_writes_one_image_per_channel_and_a_labelled_sheet_and_resumes(tmp_path, capsys):
    args = atlas(tmp_path, "--data.channels", "3-6", "--data.batch_size", "3", "--data.sheet_columns", "2", *SHORT)
    assert main(args) == 0
    folder = tmp_path / "atlas" / "features.11"
    assert sorted(p.name for p in folder.glob("*.png")) == [f"features.11-c{c:04d}.png" for c in (3, 4, 5, 6)]
    assert all(Image.open(p).size == (64, 64) for p in folder.glob("*.png"))
    sheet = Image.open(tmp_path / "atlas" / "features.11-sheet1.png")
    tile = 112  # data.tile_side
    assert sheet.width == 2 * tile + 3 * 4
    assert sheet.height > 2 * tile  # 2 columns × 2 rows, labels and title
    assert "4 dreamed, 0 skipped, 0 failed" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 dreamed, 4 skipped, 0 failed" in capsys.readouterr().out


def test_atlas_shards_channels_over_processes(tmp_path):
    args = atlas(tmp_path, "--data.channels", "0-4", "--data.batch_size", "2", *SHORT)
    args += ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp_independent"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "dreamer.cli", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("5 dreamed, 0 skipped, 0 failed") == 1
    names = sorted(p.name for p in (tmp_path / "atlas" / "features.11").glob("*.png"))
    assert names == [f"features.11-c{c:04d}.png" for c in range(5)]
    assert (tmp_path / "atlas" / "features.11-sheet1.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data.channels", "0-3,200"], "data.channels: channel 200 is past the layer's width (96 channels: 0-95)"),
        (["--model.layers", "[7, 11]"], "model.layers: an atlas dreams the channels of one layer"),
        (["--model.channels", "[1]"], "model.channels: the atlas chooses each image's channel"),
        (["--data.photo", "missing.jpg"], "data.photo: "),
    ],
)
def test_bad_atlas_settings_fail_in_one_line_before_dreaming(tmp_path, capsys, extra, message):
    assert main(atlas(tmp_path, *extra, "--octaves.count", "2")) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith(f"dreamer: error: {message}")
    assert not list((tmp_path / "atlas").rglob("*.png"))


@pytest.mark.slow  # every channel of the preset, 512 steps each: about 20 minutes on two cores
def test_the_preset_atlas_shows_each_channel_what_excites_it_most(tmp_path, capsys):
    """The whole preset (every channel of MobileNetV2 features.11, real weights, fft+decorrelated): the
    image dreamed for channel c excites c more than any other channel's image does, for at least 95 %
    of the channels."""
    assert main(atlas(tmp_path, "--trainer.enable_progress_bar", "false")) == 0
    files = sorted((tmp_path / "atlas" / "features.11").glob("*.png"))
    channels = [int(re.search(r"c(\d+)", f.name).group(1)) for f in files]
    assert channels == list(range(96))
    images = torch.stack([to_tensor(open_photo(f)[0]) for f in files])
    share = self_excitation_share(channel_means(tiny_model(layers=11).objective, images), channels)
    print(f"self-excitation share: {share:.3f}")
    assert share >= 0.95
    # and the images differ from one another: not one pattern for all
    pixels = np.stack([np.asarray(Image.open(f), dtype=np.float32) for f in files[:8]])
    assert pixels.std(axis=0).mean() > 20
