"""End-to-end runs of the seed's full VGG-16 schedule (random weights: the pretrained ones are not offline)."""

import pytest
from PIL import Image

from dreamer.cli import main
from tests.conftest import REPO, make_photo


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "city"])
def test_seed_presets_run_their_whole_layer_schedule(tmp_path, preset):
    photo = make_photo(tmp_path / "photo.png", size=(160, 120))
    code = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / f"{preset}.yaml"),
            "--model.weights",
            "null",
            "--octaves.iterations",
            "2",
            "--data.images",
            str(photo),
            "--data.output",
            str(tmp_path / "out"),
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    assert code == 0
    with Image.open(tmp_path / "out" / "photo.png") as dream:
        assert dream.size == (160, 120)
