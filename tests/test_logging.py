"""TensorBoard logs: the tags a run writes; and no logs at all when the logger is off."""

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dreamer.cli import main
from tests.conftest import REPO, make_photo


@pytest.fixture(autouse=True)
def in_a_folder_of_its_own(monkeypatch, tmp_path):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # where dreamer runs: it writes nothing here, logs included


def dream_args(tmp_path, *extra):
    photo = make_photo(tmp_path / "in" / "cat.png", size=(64, 48))
    return [
        "fit",
        "--config",
        str(REPO / "configs" / "quickstart.yaml"),
        "--data.images",
        str(photo),
        "--data.output",
        str(tmp_path / "out"),
        "--octaves.count",
        "2",
        "--octaves.iterations",
        "4",
        "--model.layers",
        "[[7, 11]]",
        "--trainer.enable_progress_bar",
        "false",
        *extra,
    ]


def test_a_run_writes_images_scalars_and_hparams(tmp_path, capsys):
    assert main(dream_args(tmp_path, "--image_logger.every_n_steps", "2", "--trainer.log_every_n_steps", "1")) == 0
    (run,) = (tmp_path / "out" / "lightning_logs").iterdir()  # inside the output folder
    assert not list((tmp_path / "work").iterdir())  # nothing in the working folder
    events = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    images = set(events.Tags()["images"])
    assert images == {"cat.png/octaves", "cat.png/octave0", "cat.png/octave1", "originals|dreams"}
    assert [e.step for e in events.Images("cat.png/octaves")] == [0, 1]
    assert [e.step for e in events.Images("cat.png/octave1")] == [2, 4]
    assert [(e.width, e.height) for e in events.Images("originals|dreams")] == [(64 * 2 + 3 * 4, 48 + 2 * 4)]
    scalars = set(events.Tags()["scalars"])
    expected = {
        "objective",
        "objective/octave0",
        "objective/octave1",
        "objective/features.7",
        "objective/features.11",
        "grad_norm",
        "lr",
        "metrics/psnr",
        "metrics/ssim",
        "metrics/gain",
        "hp_metric",
    }
    expected |= {f"metrics/{m}_octave{k}" for m in ("psnr", "gain") for k in (0, 1)} | {"metrics/ssim_octave1"}
    assert expected <= scalars, expected - scalars
    assert "metrics/ssim_octave0" not in scalars  # SSIM costs a few steps: the finished dream's only
    assert len(events.Scalars("objective")) == 8
    gain = events.Scalars("metrics/gain")[0].value
    assert gain > 1.0
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["octaves"]["count"] == 2  # the octave walk's settings beside the model's and the data's
    assert hparams["backbone"] == "mobilenet_v2"
    out = capsys.readouterr().out
    assert f"activation gain {gain:.1f}x" in out
    assert "PSNR" in out


def test_without_a_logger_nothing_is_written_and_nothing_breaks(tmp_path):
    assert main(dream_args(tmp_path, "--trainer.logger", "false")) == 0
    assert not (tmp_path / "out" / "lightning_logs").exists()
    assert not list((tmp_path / "work").iterdir())
    assert (tmp_path / "out" / "cat.png").is_file()
