"""Class dreams: ``class 207`` or ``class 'goldfish'`` climbs the network's output logit for a class."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from dreamer.cli import main
from dreamer.engine.climb.objectives import Term, class_number, parse_objective, term_objective
from dreamer.engine.networks.network import build_network
from dreamer.errors import ConfigError
from dreamer.explore.classes import parse_classes
from dreamer.files.bundled import SAMPLE_PHOTO
from dreamer.files.imageio import open_photo, to_tensor
from tests.cli_args import QUIET

CATEGORIES = ["tench", "goldfish", "great white shark", "goldfinch", "golden retriever"]


def test_a_class_is_a_number_or_a_quoted_name_and_composes_with_other_terms():
    assert parse_objective("class 207") == [Term(1.0, "class", 207)]
    assert parse_objective("class 'tiger shark'") == [Term(1.0, "class", None, label="tiger shark")]
    assert parse_objective('2*class 1 - 0.5*class "goldfish"') == [
        Term(2.0, "class", 1),
        Term(-0.5, "class", None, label="goldfish"),
    ]
    assert parse_objective("class") == [Term(1.0, "class", None)]  # each picture's own (the classes preset)
    with pytest.raises(ConfigError, match="'class' takes a class number or a quoted name"):
        parse_objective("class goldfish")


@pytest.mark.parametrize(
    "label, number",
    [("goldfish", 1), ("GOLDFISH", 1), ("great", 2), ("golden", 4)],
)
def test_a_name_matches_exactly_or_by_a_unique_prefix_whatever_its_case(label, number):
    assert class_number(label, CATEGORIES) == number


def test_an_ambiguous_name_lists_the_candidates_and_an_unknown_one_the_closest():
    with pytest.raises(ConfigError, match=r"'gold' is ambiguous: 'goldfish' \(1\), 'goldfinch' \(3\), 'golden"):
        class_number("gold", CATEGORIES)
    with pytest.raises(ConfigError, match="no class 'goldfsh' among the weights' 5 classes; closest: 'goldfish'"):
        class_number("goldfsh", CATEGORIES)


def probability(network, picture: torch.Tensor, number: int) -> float:
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (network.mean, network.std))
    with torch.no_grad():
        return torch.softmax(network.module((picture - mean) / std), dim=1)[0, number].item()


def test_a_class_dream_turns_the_photo_towards_the_class(tmp_path):
    """The bundled cat, dreamed towards 'goldfish' through MobileNetV2's real weights."""
    photo = to_tensor(open_photo(SAMPLE_PHOTO)[0].resize((160, 107)))[None]
    source = tmp_path / "cat.png"
    from dreamer.files.imageio import to_image

    to_image(photo[0]).save(source)
    args = ["fit", "--config", "quickstart", "--data.images", str(source), "--data.output", str(tmp_path / "out")]
    assert main([*args, "--model.objective", "class 'goldfish'", "--octaves.count", "1", *QUIET]) == 0
    network = build_network("mobilenet_v2", "imagenet")
    dream = to_tensor(open_photo(tmp_path / "out" / "cat.png")[0])[None]
    before, after = probability(network, photo, 1), probability(network, dream, 1)
    print(f"goldfish: {before:.4f} → {after:.4f}")
    assert after > 0.5
    assert after > 100 * before


@pytest.mark.parametrize(
    "objective, weights, message",
    [
        ("class 'gold'", "imagenet", "class 'gold' is ambiguous"),
        ("class 5000", "imagenet", "class 5000 is past the network's 1000 classes"),
        ("class 'goldfish'", "null", "these weights carry no class names; give its number"),
    ],
)
def test_a_bad_class_is_one_line_before_any_work(tmp_path, capsys, objective, weights, message):
    args = ["fit", "--config", "quickstart", "--data.output", str(tmp_path / "out"), *QUIET]
    assert main([*args, "--model.objective", objective, "--model.weights", weights]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_class_alone_climbs_only_the_output_whatever_model_layers_says():
    from dreamer.engine.module import DreamModule

    model = DreamModule(backbone="resnet18", weights=None, layers=11, objective="class 3")  # 11: no such shortcut
    assert model.objective.schedule.layers == [("fc",)]
    both = DreamModule(backbone="resnet18", weights=None, layers="layer2", objective="class 3 + channel 5")
    assert both.objective.schedule.layers == [("layer2", "fc")]


def test_class_lists_take_numbers_ranges_and_names():
    names = [*CATEGORIES, "red-breasted merganser"]
    assert parse_classes("all", 3, []) == [0, 1, 2]
    assert parse_classes("4, 0-1", 6, names) == [0, 1, 4]
    assert parse_classes("Goldfish, red-breasted, 'tench'", 6, names) == [0, 1, 5]
    with pytest.raises(ConfigError, match=r"data.classes: class 'gold' is ambiguous"):
        parse_classes("gold", 6, names)
    with pytest.raises(ConfigError, match=r"class 6 is past the network's 6 classes \(0-5\)"):
        parse_classes("2-6", 6, names)
    with pytest.raises(ConfigError, match="'shark' is not a class number .*carry no class names"):
        parse_classes("shark", 6, [])
    with pytest.raises(ConfigError, match="runs backwards"):
        parse_classes("5-2", 6, names)


def test_a_bare_class_climbs_each_pictures_own_class():
    logits = torch.randn(3, 10, requires_grad=True)
    values = term_objective(Term(1.0, "class", None), logits, own=[7, 0, 7])
    assert torch.equal(values, logits[[0, 1, 2], [7, 0, 7]])
    values.sum().backward()
    assert (logits.grad != 0).nonzero().tolist() == [[0, 7], [1, 0], [2, 7]]
    with pytest.raises(ConfigError, match="a bare 'class' climbs each picture's own class"):
        term_objective(Term(1.0, "class", None), logits)


def classes(tmp_path, *extra: str) -> list[str]:
    out = ["--data.output", str(tmp_path / "classes"), "--data.size", "96", "--octaves.iterations", "24"]
    return ["fit", "--config", "classes", *out, *QUIET, *extra]


def test_the_classes_preset_dreams_each_class_its_network_then_names_and_resumes(tmp_path, capsys):
    """Three ImageNet classes from noise through MobileNetV2's real weights, chosen by number and name:
    one picture each, named like the atlas's; the network names each picture's own class; a labelled
    sheet; a second run resumes."""
    assert main(classes(tmp_path, "--data.classes", "goldfish, 340, tiger cat", "--data.batch_size", "2")) == 0
    folder = tmp_path / "classes" / "classifier.1"
    numbers = (1, 282, 340)
    assert sorted(p.name for p in folder.glob("*.png")) == [f"classifier.1-class{n:04d}.png" for n in numbers]
    network = build_network("mobilenet_v2", "imagenet")
    for number in numbers:
        picture = to_tensor(open_photo(folder / f"classifier.1-class{number:04d}.png")[0])[None]
        assert picture.shape == (1, 3, 96, 96)
        assert probability(network, picture, number) > 0.5
    sheet = Image.open(tmp_path / "classes" / "classifier.1-sheet1.png")
    assert sheet.width == 3 * 128 + 4 * 4  # three tiles of data.tile_side, padded
    assert "3 dreamed, 0 skipped, 0 failed" in capsys.readouterr().out
    assert main(classes(tmp_path, "--data.classes", "1,282,340")) == 0
    assert "0 dreamed, 3 skipped, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "config, extra, message",
    [
        ("quickstart", ["--model.objective", "class"], "a bare 'class' climbs each picture's own class"),
        ("classes", ["--model.objective", "class 3"], "the classes preset climbs each picture's own class"),
        ("classes", ["--data.classes", "gold"], "data.classes: class 'gold' is ambiguous"),
        ("classes", ["--data.classes", "0-1000"], "data.classes: class 1000 is past the network's 1000 classes"),
    ],
)
def test_bad_class_dreams_are_one_line_before_any_work(tmp_path, capsys, config, extra, message):
    args = ["fit", "--config", config, "--data.output", str(tmp_path / "out"), *QUIET, *extra]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert not (tmp_path / "out").exists()
