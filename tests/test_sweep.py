"""Parameter sweeps: every grid point an ordinary dreamer run, shared out over processes, one sheet per photo."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dreamer.cli import main
from dreamer.command.sweep import check_sweep, grid
from dreamer.errors import ConfigError
from tests.conftest import make_photo

BASE = """
model:
  backbone: mobilenet_v2
  weights: imagenet
  layers: 7
  octaves: 2
  scale: 1.4
  iterations: 2
  lr: 0.02
data:
  images: in/photo.png
  output: out
trainer:
  accelerator: cpu
  enable_progress_bar: false
"""


def sweep_config(tmp_path, sweep: str) -> str:
    make_photo(tmp_path / "in" / "photo.png", size=(64, 48))
    config = tmp_path / "sweep.yaml"
    config.write_text(f"sweep:\n{sweep}{BASE}")
    return str(config)


def test_grid_names_labels_and_arguments():
    points = grid({"model.scale": [1.4, 1.8], "model.layers": [7, [7, 11]]})
    assert [p.name for p in points] == [
        "scale=1.4,layers=7",
        "scale=1.4,layers=[7,11]",
        "scale=1.8,layers=7",
        "scale=1.8,layers=[7,11]",
    ]
    assert points[1].label == "scale 1.4 · layers [7,11]"
    assert points[1].settings == {"model.scale": 1.4, "model.layers": [7, 11]}


def test_sweep_keys_and_values_are_checked():
    with pytest.raises(ConfigError, match="unknown key 'model.scal'"):
        check_sweep({"model.scal": [1.4]})
    with pytest.raises(ConfigError, match="unknown key 'data.resize'"):
        check_sweep({"data.resize": [64]})
    with pytest.raises(ConfigError, match="octaves.alpha needs a non-empty list"):
        check_sweep({"octaves.alpha": 0.5})
    with pytest.raises(ConfigError, match="unknown key 'octaves.alfa'"):
        check_sweep({"octaves.alfa": [0.5]})
    check_sweep({"octaves.scale": [1.4], "model.jitter.roll": [4, 8], "model.filters.grad_blur": [0.5]})


def test_a_sweep_dreams_every_point_and_lays_them_on_one_sheet(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # data.output is relative to where dreamer runs
    config = sweep_config(tmp_path, "  octaves.scale: [1.4, 1.6]\n  octaves.alpha: [0.1, 0.5, 0.9]\n")
    assert main(["sweep", "--config", config, "--tile-side", "64"]) == 0
    out = tmp_path / "out"
    dreams = sorted(out.glob("*/photo.png"))
    assert [d.parent.name for d in dreams] == [f"scale={s},alpha={a}" for s in (1.4, 1.6) for a in (0.1, 0.5, 0.9)]
    pixels = [np.asarray(Image.open(d), dtype=np.float32) for d in dreams]
    assert all(np.abs(pixels[0] - other).mean() > 0.5 for other in pixels[1:])  # the settings matter
    sheet = Image.open(out / "photo-sweep.png")
    assert sheet.width == 3 * 64 + 4 * 4  # three alpha columns of 64 px tiles, make_grid padding 4
    assert "6 settings swept" in capsys.readouterr().out


def test_sweep_points_are_shared_out_over_worker_processes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = sweep_config(tmp_path, "  model.alpha: [0.1, 0.5, 0.9]\n")
    assert main(["sweep", "--config", config, "--processes", "2"]) == 0
    assert sorted(p.parent.name for p in (tmp_path / "out").glob("*/photo.png")) == [
        "alpha=0.1",
        "alpha=0.5",
        "alpha=0.9",
    ]
    assert (tmp_path / "out" / "photo-sweep.png").is_file()


def test_a_bad_point_fails_alone_and_a_bad_key_stops_before_dreaming(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = sweep_config(tmp_path, "  model.alpha: [0.5, 2.0]\n")  # dreamer 0.1's key: octaves.alpha today
    assert main(["sweep", "--config", config]) == 1
    assert "failed: alpha=2.0: octaves.alpha must be within [0, 1], got 2.0" in capsys.readouterr().err
    assert (tmp_path / "out" / "alpha=0.5" / "photo.png").is_file()
    assert (tmp_path / "out" / "photo-sweep.png").is_file()

    bad = sweep_config(tmp_path, "  model.alpah: [0.5]\n")
    assert main(["sweep", "--config", bad, "--data.output", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith("dreamer: error: sweep: unknown key 'model.alpah'")
    assert not (tmp_path / "bad").exists()


def test_a_sweep_config_given_to_fit_says_how_to_run_it(capsys):
    assert main(["fit", "--config", "sweep_seed"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "dreamer: error: --config sweep_seed is a sweep (it has 'sweep:'); " + (
        "run it with: dreamer sweep --config sweep_seed"
    )
