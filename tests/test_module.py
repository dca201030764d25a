import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.image.jitter import roll_each
from dreamer.engine.module import DreamModule
from dreamer.engine.optim import NormalizedGD
from dreamer.photos.data import DreamDataModule
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves


def dream_of(tmp_path, model, photo, name="out.png", octaves=None, **data_kwargs):
    target = tmp_path / "out" / name
    run_dream(model, DreamDataModule(images=str(photo), output=str(target), **data_kwargs), octaves)
    return np.asarray(Image.open(target), dtype=np.float32) / 255


def test_gradient_ascent_raises_the_objective_and_only_the_image_is_optimized(tmp_path, photo):
    model = tiny_model()
    seen = []
    original_step = model.training_step

    def spy(batch, batch_idx):
        output = original_step(batch, batch_idx)
        seen.append(-output["loss"].item())
        return output

    model.training_step = spy
    trainer = run_dream(
        model, DreamDataModule(images=str(photo), output=str(tmp_path / "o")), tiny_octaves(count=1, iterations=8)
    )
    assert len(seen) == 8
    assert seen[-1] > 1.5 * seen[0]
    (optimizer,) = trainer.optimizers
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == 1
    assert params[0] is model.image
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["image"]
    assert model.image.min() >= 0
    assert model.image.max() <= 1


def test_layer_schedule_uses_each_octaves_layer(tmp_path, photo):
    model = tiny_model(layers=[3, [5, 7]])
    used = []
    forward = model.objective.extractor.forward

    def spy(images, layers):
        if torch.is_grad_enabled():  # not the size probes
            used.append((tuple(images.shape[-2:]), tuple(layers)))
        return forward(images, layers)

    model.objective.extractor.forward = spy
    run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / "o")), tiny_octaves(iterations=2))
    assert used == [((43, 53), ("features.3",))] * 2 + [((64, 80), ("features.5", "features.7"))] * 2


def test_layer_list_must_match_octaves():
    with pytest.raises(ValueError, match="model.layers has 3 entries but there are 2 octaves"):
        tiny_model(layers=[3, 5, 7]).outline(tiny_octaves(count=2))


def test_a_layer_list_of_its_own_length_or_one_entry_fits_any_count():
    assert tiny_model(layers=[3, 5, 7]).outline(tiny_octaves(count=3)).octaves.count == 3
    assert tiny_model(layers=[7]).outline(tiny_octaves(count=5)).octaves.count == 5
    with pytest.raises(ValueError, match="model.channels has 3 entries but there are 2 octaves"):
        tiny_model(channels=[[1], [2], [3]]).outline(tiny_octaves(count=2))


def test_too_small_octaves_are_skipped_with_a_warning(tmp_path, capfd):
    small = make_photo(tmp_path / "small.png", size=(40, 40))
    model = tiny_model(layers=18)  # stride 32: needs 32 px
    steps = []
    original_step = model.training_step

    def spy(*args, **kwargs):
        output = original_step(*args, **kwargs)
        steps.append("objective" in output)  # a step that dreams says what it climbed
        return output

    model.training_step = spy
    run_dream(
        model,
        DreamDataModule(images=str(small), output=str(tmp_path / "o")),
        tiny_octaves(count=4, scale=2.0, iterations=2),
    )
    assert steps == [False] * 6 + [True] * 2
    lines = [line for line in capfd.readouterr().err.splitlines() if "skipped" in line]
    assert lines == ["warning: small.png (40×40): 3 of 4 octaves skipped, too small for their layers"]


def test_channels_change_the_dream(tmp_path, photo):
    a = dream_of(tmp_path, tiny_model(channels=[0, 1]), photo, "a.png")
    b = dream_of(tmp_path, tiny_model(channels=[[5], [6]]), photo, "b.png")
    assert np.abs(a - b).mean() > 1e-3


def test_channel_objective_restricts(tmp_path):
    model = tiny_model()
    images = torch.rand(1, 3, 64, 64)
    batch = DreamBatch(None)
    full = model.objective(images, batch, octave=0)
    restricted = tiny_model(channels=[3]).objective(images, batch, octave=0)
    assert not torch.allclose(full, restricted)
    act = model.objective.extractor(images, ["features.7"])["features.7"]
    assert torch.allclose(restricted, act[:, 3].square().mean(dim=(1, 2)))


@pytest.mark.parametrize("blur", [{"grad_blur": 1.5}, {"image_blur": 1.0}, {"laplacian_levels": 4}])
def test_gradient_and_image_filters_smooth_the_dream(tmp_path, photo, blur):
    plain = dream_of(tmp_path, tiny_model(), photo, "plain.png")
    blurred = dream_of(tmp_path, tiny_model(filters=blur), photo, "blurred.png")
    roughness = lambda img: np.abs(np.diff(img, axis=1)).mean()  # noqa: E731
    assert roughness(blurred) < roughness(plain)


def test_noise_start_ignores_the_photo_content(tmp_path):
    one = make_photo(tmp_path / "a" / "same.png", seed=1)
    two = make_photo(tmp_path / "b" / "same.png", seed=2)
    a = dream_of(tmp_path, tiny_model(), one, "a.png", tiny_octaves(init="noise"))
    b = dream_of(tmp_path, tiny_model(), two, "b.png", tiny_octaves(init="noise"))
    photo_a = dream_of(tmp_path, tiny_model(), one, "pa.png")
    assert np.array_equal(a, b)
    assert np.abs(a - photo_a).mean() > 0.05


def test_same_config_and_seed_give_the_same_dream(tmp_path, photo):
    a = dream_of(tmp_path, tiny_model(jitter=4), photo, "a.png")
    b = dream_of(tmp_path, tiny_model(jitter=4), photo, "b.png")
    c = dream_of(tmp_path, tiny_model(jitter=4), photo, "c.png", seed=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_roll_each_rolls_images_independently():
    images = torch.arange(2 * 1 * 2 * 3, dtype=torch.float32).view(2, 1, 2, 3)
    rolled = roll_each(images, [(0, 1), (1, 0)])
    assert torch.equal(rolled[0], torch.roll(images[0], 1, dims=-1))
    assert torch.equal(rolled[1], torch.roll(images[1], 1, dims=-2))


def test_adam_state_is_reset_at_each_octave(tmp_path, photo):
    model = tiny_model(optimizer=torch.optim.Adam, lr=0.01)
    steps_at_reset = []
    original = model.optimizer_step

    def spy(epoch, batch_idx, optimizer, closure):
        original(epoch, batch_idx, optimizer, closure)
        steps_at_reset.append(int(optimizer.state[model.image]["step"]))

    model.optimizer_step = spy
    run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / "o")))
    assert steps_at_reset == [1, 2, 3, 1, 2, 3]


def test_checkpoint_holds_the_image_but_not_the_backbone(tmp_path, photo):
    model = tiny_model()
    trainer = run_dream(model, DreamDataModule(images=str(photo), output=str(tmp_path / "o")))
    trainer.save_checkpoint(tmp_path / "dream.ckpt")
    checkpoint = torch.load(tmp_path / "dream.ckpt", weights_only=False)
    assert list(checkpoint["state_dict"]) == ["image"]
    restored = DreamModule.load_from_checkpoint(tmp_path / "dream.ckpt", weights=None)
    assert torch.equal(restored.image, model.image)


def test_default_optimizer_is_naive_gd():
    model = tiny_model()
    assert isinstance(model.configure_optimizers(), NormalizedGD)
