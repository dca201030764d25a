"""Feature visualisation: image parametrisations, the transformation robustness group, objective
terms, the diversity term, caricatures and the atlas's faces and natural examples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from dreamer.cli import main
from dreamer.engine.climb.objectives import diversity_penalty, parse_objective
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.image.jitter import Jitter
from dreamer.engine.image.parametrisation import Parametrisation
from dreamer.errors import ConfigError
from dreamer.explore.examples import CROP, search, strongest_boxes
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.photos.data import DreamDataModule
from tests.cli_args import QUIET, flags
from tests.conftest import SAMPLE, make_photo, run_dream, tiny_model, tiny_octaves
from tests.videos import make_video

NAMES = ["pixel", "fft", "decorrelated", "fft+decorrelated"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(40, 64), (37, 51)])
def test_a_photo_round_trips_through_every_parametrisation(name, size):
    photo = torch.rand(2, 3, *size) * 0.98 + 0.01
    parametrisation = Parametrisation.named(name)
    parameter = parametrisation.encode(photo)
    assert torch.allclose(parametrisation.decode(parameter, size), photo, atol=1e-5)
    if parametrisation.fft:
        assert parameter.shape == (2, 3, size[0], size[1] // 2 + 1, 2)
    nothing = parametrisation.encode(torch.empty(0, 3, *size))  # an idle process's empty batch
    assert parametrisation.decode(nothing, size).shape == (0, 3, *size)


@pytest.mark.parametrize("name", NAMES[1:])
def test_gradients_reach_every_part_of_the_parameter_and_pictures_stay_in_range(name):
    parametrisation = Parametrisation.named(name)
    parameter = parametrisation.encode(torch.rand(1, 3, 32, 32)).requires_grad_(True)
    picture = parametrisation.decode(parameter, (32, 32))
    (picture * torch.randn_like(picture)).sum().backward()
    assert parameter.grad is not None
    assert torch.isfinite(parameter.grad).all()
    assert (parameter.grad != 0).float().mean() > 0.9
    far = parametrisation.decode(parameter.detach() * 50, (32, 32))
    assert far.min() >= 0
    assert far.max() <= 1  # the sigmoid keeps any parameter a picture


def test_fft_climbs_coarse_before_fine():
    """A unit step on every coefficient moves low frequencies far more than high ones (1/f)."""
    fft = Parametrisation.named("fft")
    zero = fft.encode(torch.full((1, 3, 64, 64), 0.5))
    spectrum = torch.fft.rfft2(fft.decode(zero + 0.01 * torch.randn_like(zero), (64, 64)).mean(1) - 0.5)
    assert spectrum[0, 1:4, 1:4].abs().mean() > 5 * spectrum[0, 24:32, 24:32].abs().mean()


def test_parametrisation_names_and_contradictions_are_refused():
    assert Parametrisation.named("decorrelated+fft") == Parametrisation(fft=True, decorrelated=True)
    with pytest.raises(ConfigError, match="'wavelet' is not one of pixel, fft, decorrelated"):
        Parametrisation.named("wavelet")
    with pytest.raises(ConfigError, match="model.parametrisation fft climbs frequencies, not pixels"):
        tiny_model(parametrisation="fft", filters={"grad_blur": 1.0})
    with pytest.raises(ConfigError, match="a caricature and the diversity term compare whole images"):
        tiny_model(objective="caricature", tile_size=64)


def test_the_robustness_group_pads_with_grey_and_gradients_land_on_the_image():
    image = torch.rand(2, 3, 20, 30, requires_grad=True)
    generators = [torch.Generator().manual_seed(s) for s in (1, 2)]
    moved = Jitter(pad=5, roll=3, rotate=10, scale=0.1)(image, generators)
    assert moved.shape == (2, 3, 30, 40)
    assert torch.allclose(Jitter(pad=5)(image, generators)[:, :, :5], torch.full((2, 3, 5, 40), 0.5))
    moved.sum().backward()
    assert image.grad is not None
    assert image.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="model.jitter.pad must be >= 0"):
        Jitter(pad=-1)


def test_objective_terms_are_read_with_their_weights_and_bad_ones_named(tmp_path):
    vector = tmp_path / "v.npy"
    np.save(vector, np.ones(8))
    terms = parse_objective(f"channel 7 - 0.5*channel 12 + neuron 3@0.25,1 + 2 direction {vector} - caricature")
    assert [(t.weight, t.kind, t.channel) for t in terms] == [
        (1.0, "channel", 7),
        (-0.5, "channel", 12),
        (1.0, "neuron", 3),
        (2.0, "direction", None),
        (-1.0, "caricature", None),
    ]
    assert terms[2].at == (0.25, 1.0)
    assert terms[3].source == vector
    for text, message in [
        ("channel", "'channel' takes a channel number"),
        ("channel 3 channel 4", "cannot read 'channel 4'"),
        ("sparkle 3", "cannot read 'sparkle 3'"),
        (f"direction {tmp_path / 'nope.npy'}", "nope.npy does not exist"),
        ("neuron 2@1.5,0", "within [0, 1]"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_objective(text)


def test_objective_terms_are_checked_against_the_layer(tmp_path):
    with pytest.raises(ConfigError, match="channel 500 is past features.7's 64 channels"):
        tiny_model(objective="channel 500")
    short = tmp_path / "short.txt"
    short.write_text("1 2 3")
    with pytest.raises(ConfigError, match="has 3 numbers but features.7 has 64 channels"):
        tiny_model(objective=f"direction {short}")


def objective_value(model, images: torch.Tensor) -> torch.Tensor:
    return model.objective(images, DreamBatch(pixels=images), octave=0)


@pytest.mark.parametrize(
    "objective",
    ["channel 5", "neuron 5", "neuron 5@0.2,0.8", "channel 5 - channel 9", "direction VECTOR", "direction PHOTO"],
)
def test_every_objective_rises_when_climbed(tmp_path, objective):
    """Lucent's ``assert_gradient_descent``: a few plain gradient steps on an image raise the objective."""
    np.save(tmp_path / "vector.npy", np.random.default_rng(0).normal(size=64))
    objective = objective.replace("VECTOR", str(tmp_path / "vector.npy")).replace("PHOTO", str(SAMPLE))
    model = tiny_model(objective=objective)
    image = to_tensor(open_photo(SAMPLE)[0].resize((64, 48)))[None].requires_grad_(True)
    first = objective_value(model, image).item()
    for _ in range(5):
        value = objective_value(model, image).sum()
        (gradient,) = torch.autograd.grad(value, image)
        image = (image + 0.02 * gradient / gradient.abs().mean()).detach().requires_grad_(True)
    assert objective_value(model, image).item() > first + 1e-3


def test_a_difference_of_channels_is_the_difference_of_their_objectives():
    model = tiny_model(objective="channel 5 - 0.5*channel 9")
    images = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        activation = model.objective.extractor(images, ("features.7",))["features.7"]
        expected = activation[:, 5].mean((1, 2)) - 0.5 * activation[:, 9].mean((1, 2))
        assert torch.allclose(objective_value(model, images), expected, atol=1e-5)


def test_the_diversity_penalty_is_lucids_and_only_within_a_channel():
    features = torch.rand(4, 6, 5, 5)
    penalty = diversity_penalty(features, groups=[0, 0, 1, 1])
    grams = torch.einsum("bcn,bdn->bcd", features.flatten(2), features.flatten(2)).flatten(1)
    grams = grams / grams.norm(dim=1, keepdim=True)
    assert torch.allclose(penalty[0], grams[0] @ grams[1] / 4, atol=1e-6)
    assert torch.allclose(penalty[3], grams[3] @ grams[2] / 4, atol=1e-6)
    alone = diversity_penalty(features[:1])
    assert alone.item() == 0  # one image has nothing to differ from


def test_the_diversity_term_pushes_the_faces_of_a_channel_apart(tmp_path):
    def gram_cosine(folder) -> float:
        images = torch.stack([to_tensor(open_photo(f)[0]) for f in sorted(folder.glob("*.png"))])
        penalty = diversity_penalty(tiny_model(layers=11).objective.extractor(images, ("features.11",))["features.11"])
        return penalty.sum().item() / 3  # Σ over pairs / (4 · 3) · 4

    cosines = []
    for weight in (0, 1):
        out = tmp_path / f"d{weight}"
        args = ["fit", "--config", "atlas", "--data.channels", "7", "--data.faces", "4", "--data.output", str(out)]
        args += [*flags(model_iterations=40, data_size=64, model_diversity=weight), *QUIET[2:]]
        assert main(args) == 0
        assert len(list((out / "features.11").glob("features.11-c0007-f*.png"))) == 4
        cosines.append(gram_cosine(out / "features.11"))
    assert cosines[1] <= 0.8 * cosines[0]


def test_a_caricature_accentuates_what_the_network_sees_in_the_photo_and_stays_close(tmp_path):
    source = make_photo(tmp_path / "in" / "p.png", size=(96, 80))
    out = tmp_path / "out"
    model = tiny_model(objective="caricature", parametrisation="fft+decorrelated")
    model.hparams.lr = 0.02
    data = DreamDataModule(images=str(source), output=str(out))
    run_dream(model, data, tiny_octaves(count=1, iterations=12))
    dream = to_tensor(open_photo(out / "p.png")[0])[None]
    photo = to_tensor(open_photo(source)[0])[None]
    with torch.no_grad():
        extract = model.objective.extractor
        before, after = (extract(x, ("features.7",))["features.7"].flatten(1) for x in (photo, dream))
    along = (after * before).sum() / before.norm()
    assert along > 1.05 * before.norm()  # more of the photo's own features …
    assert torch.nn.functional.cosine_similarity(after, before).item() > 0.8  # … and not others
    assert (dream - photo).abs().mean() < 0.15  # close to the photo


def test_strongest_boxes_are_centred_on_the_peak_and_do_not_overlap():
    activation = torch.zeros(2, 8, 8)
    activation[0, 2, 6] = 5.0
    activation[0, 2, 5] = 4.0  # next to the peak: its box overlaps, so it is passed over
    activation[0, 6, 1] = 3.0
    first, second = strongest_boxes(activation, (256, 256), per_channel=2)[0]
    assert first == (5.0, (256 - CROP, 24, 256, 24 + CROP))  # centred on (80, 208), kept inside the picture
    assert second == (3.0, (0, 256 - CROP, CROP, 256))


def test_natural_examples_find_the_crops_that_excite_a_channel_and_name_their_source(tmp_path):
    bright = np.zeros((300, 400, 3), np.uint8)
    bright[100:160, 250:330] = 255
    Image.fromarray(bright).save(tmp_path / "square.png")
    (tmp_path / "broken.jpg").write_text("not a picture")
    make_video(tmp_path / "clip.mp4", frames=6, size=(96, 128))  # a texture with a mid-grey square

    def measure(picture: torch.Tensor) -> torch.Tensor:  # "channel 0": brightness, "channel 1": mid-grey
        grey = picture.mean(1, keepdim=True)
        return torch.nn.functional.avg_pool2d(torch.cat([grey, 1 - 2 * (grey - 0.5).abs()], dim=1), 16)

    files = [(tmp_path / n, n) for n in ("broken.jpg", "clip.mp4", "square.png")]
    failed: list[str] = []
    found = search(files, measure, [0, 1], per_channel=2, failed=failed)
    assert len(failed) == 1
    assert "broken.jpg" in failed[0]
    best = found[0][0]
    assert best.source == "square.png"
    assert best.pixels.shape == (CROP, CROP, 3)
    left, top, right, bottom = best.box  # the picture is searched at a long side of 448: ×1.12
    assert 250 * 1.12 <= (left + right) / 2 <= 330 * 1.12
    assert 100 * 1.12 <= (top + bottom) / 2 <= 160 * 1.12
    grey = found[1]
    assert grey[0].source.startswith("clip.mp4#")
    assert grey[0].value > 0.9
    assert len({e.source for e in grey if e.source.startswith("clip.mp4")}) == 1  # one frame of a video


def test_the_atlas_lays_faces_and_natural_examples_beside_each_channel(tmp_path, capsys):
    examples = tmp_path / "examples"
    make_photo(examples / "a.png", size=(200, 150))
    make_photo(examples / "b.png", size=(160, 160), seed=3)
    (examples / "notes.txt").write_text("not a picture")  # not a picture by name: not searched
    out = tmp_path / "atlas"
    args = ["fit", "--config", "atlas", "--data.channels", "2-3", "--data.faces", "2", "--data.output", str(out)]
    args += ["--data.examples", str(examples), "--data.examples_per_channel", "2"]
    args += [*flags(model_iterations=2, data_size=64), *QUIET[2:]]
    assert main(args) == 0
    names = sorted(p.name for p in (out / "features.11").glob("*.png"))
    assert names == [f"features.11-c000{c}-f{f}.png" for c in (2, 3) for f in (1, 2)]
    listing = json.loads((out / "features.11-examples.json").read_text())
    assert sorted(listing) == ["2", "3"]
    assert all(len(v) == 2 for v in listing.values())
    assert {e["source"] for v in listing.values() for e in v} <= {"a.png", "b.png"}
    sheet = Image.open(out / "features.11-sheet1.png")
    assert sheet.width >= 4 * 112  # two faces and two examples side by side in a cell
    assert "4 dreamed, 0 skipped, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("name", NAMES)
def test_a_photo_start_is_the_photo_in_every_parametrisation(tmp_path, name):
    """End to end, a vanishing step leaves the photo as it was: nothing between the steps (the
    filters, the writer) treats the parameter as pixels."""
    source = make_photo(tmp_path / "in" / "p.png", size=(96, 80))
    model = tiny_model(parametrisation=name, lr=1e-7, optimizer=torch.optim.Adam)
    data = DreamDataModule(images=str(source), output=str(tmp_path / "out"), overwrite=True)
    run_dream(model, data, tiny_octaves(count=1, iterations=2))
    dream = np.asarray(Image.open(tmp_path / "out" / "p.png"), dtype=np.int16)
    photo = np.asarray(Image.open(source).convert("RGB"), dtype=np.int16)
    assert np.abs(dream - photo).max() <= 1
