"""Guided dreams: the objective, per-image guides by name, and that a guide pulls the dream's features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from dreamer.cli import main
from dreamer.engine.climb.guide import guided_objective
from dreamer.explore.probes import channel_means
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves

SETTINGS = dict(layers=11, lr=0.03, jitter=4)
OCTAVES = tiny_octaves(iterations=8)


def pattern(path, kind: str, size=(96, 96)):
    """A guide the photo has nothing of: diagonal colour stripes or a dotted grid."""
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    if kind == "stripes":
        pixels = np.stack([np.sin((x + y) / 3), np.sin((x + y) / 3 + 2), np.cos((x - y) / 5)], -1)
    else:
        pixels = np.stack([np.sin(x / 2) * np.sin(y / 2)] * 2 + [np.cos(x / 4)], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(((pixels * 0.5 + 0.5) * 255).astype(np.uint8)).save(path)
    return path


def cosine_to(guide_path, dream: torch.Tensor) -> float:
    judge = tiny_model(layers=11)
    guide = to_tensor(open_photo(guide_path)[0])[None]
    return torch.nn.functional.cosine_similarity(
        channel_means(judge.objective, dream)[0], channel_means(judge.objective, guide)[0], dim=0
    ).item()


def test_each_position_is_pulled_towards_its_best_matching_guide_feature():
    guide = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two guide features: channel 0 or channel 1
    activation = torch.tensor(
        [[[[2.0, 0.5]], [[1.0, 3.0]]]], requires_grad=True
    )  # [1, 2, 1, 2]: positions (2,1), (0.5,3)
    value = guided_objective(activation, guide)
    assert torch.allclose(value, torch.tensor([(2.0 + 3.0) / 2]))  # each position's dot with its best match
    value.sum().backward()
    assert torch.allclose(activation.grad[0, :, 0], torch.tensor([[0.5, 0.0], [0.0, 0.5]]))


def test_a_guided_dream_takes_on_the_guides_features(tmp_path, photo):
    guide = pattern(tmp_path / "guide.png", "stripes")
    dreams = {}
    for name, extra in (("unguided", {}), ("guided", {"guide": {"image": str(guide)}})):
        model = tiny_model(**SETTINGS, **extra)
        run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / f"{name}.png")), OCTAVES)
        dreams[name] = model.image.detach()
    unguided, guided = cosine_to(guide, dreams["unguided"]), cosine_to(guide, dreams["guided"])
    print(f"cosine to the guide: unguided {unguided:.3f}, guided {guided:.3f}")
    assert guided > unguided + 0.1


def test_a_folder_of_guides_gives_each_photo_of_a_batch_its_own(tmp_path):
    photos, guides = tmp_path / "photos", tmp_path / "guides"
    for name in ("a", "b"):
        make_photo(photos / f"{name}.png", size=(96, 80), seed=1)  # the same photo twice
    pattern(guides / "a.jpg", "stripes")
    pattern(guides / "b.png", "dots")
    model = tiny_model(**SETTINGS, guide={"image": str(guides)})
    run_dream(model, DreamDataModule(images=str(photos), output=str(tmp_path / "out"), batch_size=2), OCTAVES)
    dreams = {name: to_tensor(Image.open(tmp_path / "out" / f"{name}.png"))[None] for name in ("a", "b")}
    assert cosine_to(guides / "a.jpg", dreams["a"]) > cosine_to(guides / "a.jpg", dreams["b"])
    assert cosine_to(guides / "b.png", dreams["b"]) > cosine_to(guides / "b.png", dreams["a"])


@pytest.mark.parametrize(
    ("guide", "message"),
    [
        ("missing.png", "model.guide.image: missing.png does not exist"),
        ("broken.png", "model.guide.image: broken.png: not a readable image"),
        ("guides", "model.guide.image: no guide for photo.png in guides (expected photo.<jpg|png|…>)"),
    ],
)
def test_a_guide_that_cannot_be_used_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys, guide, message):
    monkeypatch.chdir(tmp_path)
    make_photo(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    pattern(tmp_path / "guides" / "other.png", "dots")
    args = [
        "fit",
        "--config",
        "quickstart",
        "--data.images",
        "photo.png",
        "--data.output",
        "out",
        "--model.guide.image",
    ]
    assert main([*args, guide, "--trainer.enable_progress_bar", "false"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert error[0].startswith(f"dreamer: error: {message}")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_guide_named_in_a_config_file_is_found_beside_it(tmp_path):
    from dreamer.command.configs import resolved_config

    config = tmp_path / "mine" / "guided.yaml"
    config.parent.mkdir()
    config.write_text(
        "model:\n  guide:\n    image: guides/sky.jpg\n"
        "data:\n  class_path: dreamer.explore.atlas.AtlasDataModule\n  init_args:\n    photo: p.png\n"
    )
    resolved = yaml.safe_load(resolved_config(str(config)))
    assert resolved["model"]["guide"]["image"] == str(config.parent / "guides" / "sky.jpg")
    assert resolved["data"]["init_args"]["photo"] == str(config.parent / "p.png")
