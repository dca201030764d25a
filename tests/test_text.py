"""Dreams of a sentence: ``text '…'`` terms climb a CLIP-like network's cosine between the picture
and the prompt, on random views of the picture, composed with the other terms."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from PIL import Image, PngImagePlugin

from dreamer.cli import main
from dreamer.engine.climb.objectives import parse_objective
from dreamer.errors import ConfigError
from dreamer.files.recipes import KEY, read_recipe
from tests.cli_args import QUIET
from tests.conftest import REPO, make_photo

TINY_CLIP = textwrap.dedent(
    '''
    import torch
    from torch import nn


    class TinyClip(nn.Module):
        """A CLIP-like model small enough for a test: a conv image tower, a bag-of-words text tower."""

        words = ["a", "red", "blue", "green", "circle", "square", "cross", "on", "city", "of", "glass", "blurry"]

        def __init__(self, width: int = 16):
            super().__init__()
            self.visual = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, width),
            )
            self.text = nn.EmbeddingBag(len(self.words) + 1, width, padding_idx=0)

        def encode_image(self, pictures):
            return self.visual(pictures)

        def encode_text(self, tokens):
            return self.text(tokens)

        def tokenize(self, prompts):
            ids = [[self.words.index(w) + 1 for w in p.lower().split() if w in self.words] or [0] for p in prompts]
            longest = max(len(row) for row in ids)
            return torch.tensor([row + [0] * (longest - len(row)) for row in ids])
    '''
)
SHORT = ["--octaves.count", "1", "--octaves.iterations", "2", *QUIET]


@pytest.fixture
def clip_file(tmp_path) -> Path:
    (tmp_path / "clips.py").write_text(TINY_CLIP)
    return tmp_path / "clips.py"


def test_text_terms_compose_weighted_negative_and_with_layer_terms():
    terms = parse_objective("text 'a city of glass' - 0.5 * text \"blurry\" + 2 * mean_square")
    assert [(term.kind, term.weight, term.label) for term in terms] == [
        ("text", 1.0, "a city of glass"),
        ("text", -0.5, "blurry"),
        ("mean_square", 2.0, None),
    ]
    for empty in ("text ''", "text", "text '   '"):
        with pytest.raises(ConfigError, match="text takes a prompt in quotes, not empty"):
            parse_objective(empty)


def test_a_text_term_climbs_the_cosine_between_the_picture_and_the_prompt(clip_file):
    from dreamer.engine.contract.batch import DreamBatch
    from dreamer.engine.module import DreamModule

    module = DreamModule(backbone=f"{clip_file}:TinyClip", weights=None, layers="model.visual.2",
                         objective="text 'a red circle' - 0.5 * text 'blurry'")  # fmt: skip
    objective = module.objective
    picture = torch.rand(1, 3, 96, 128, requires_grad=True)
    batch = DreamBatch(pixels=picture.detach(), names=["x"])
    generator_state = objective.generator.get_state()

    def score() -> float:
        objective.generator.set_state(generator_state)  # the same views each time: the picture alone changes
        with torch.no_grad():
            return float(objective(picture, batch))

    before = score()
    for _ in range(20):
        objective.generator.set_state(generator_state)
        (gradient,) = torch.autograd.grad(objective(picture, batch).sum(), picture)
        with torch.no_grad():
            picture += 0.05 * gradient / gradient.abs().mean().clamp_min(1e-12)
            picture.clamp_(0, 1)
    assert score() > before + 0.05  # the prompts' weighted cosine rose


def test_a_dream_of_a_sentence_runs_mixed_with_a_layer_and_its_recipe_keeps_the_prompt(clip_file, tmp_path):
    photo = make_photo(tmp_path / "photo.png", size=(64, 48))
    objective = "mean_square + 2 * text 'a red circle on blue'"
    network = ["--model.backbone", f"{clip_file}:TinyClip", "--model.weights", "null"]
    args = ["--data.images", str(photo), *network, "--model.layers", "model.visual.2", "--model.objective", objective]
    assert main(["fit", "--config", "quickstart", *args, "--data.output", str(tmp_path / "out"), *SHORT]) == 0
    dream = tmp_path / "out" / "photo.png"
    recipe = yaml.safe_load(read_recipe(dream).partition("\n")[2])
    assert recipe["model"]["objective"] == objective
    assert main(["fit", "--config", str(dream), "--model.backbone", f"{clip_file}:TinyClip",
                 "--data.output", str(tmp_path / "again"), *QUIET]) == 0  # fmt: skip
    assert (tmp_path / "again" / "photo.png").read_bytes() == dream.read_bytes()  # the same dream again


def test_a_text_term_through_a_network_without_a_text_tower_is_one_line(capsys, tmp_path):
    args = ["--model.backbone", "mobilenet_v2", "--model.objective", "text 'a cat'", "--data.output", str(tmp_path)]
    assert main(["fit", "--config", "quickstart", *args, *SHORT]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "a text term reads a prompt through a text tower, which mobilenet_v2 has not" in error
    assert "clip:" in error


def test_open_clip_models_by_name_with_random_weights_and_the_offline_line(monkeypatch):
    pytest.importorskip("open_clip", reason="open_clip is an extra: pip install 'dreamer-deepdream[clip]'")
    from dreamer.engine.networks import clip
    from dreamer.engine.networks.network import build_network
    from dreamer.errors import WeightsNotFoundError

    with pytest.raises(ConfigError, match="open_clip has no model 'ViT-B-3'; closest: ViT-B-32"):
        build_network("clip:ViT-B-3", None)
    with pytest.raises(ConfigError, match="needs a pretrained tag"):
        build_network("clip:RN50")
    with pytest.raises(ConfigError, match="has no pretrained tag 'opena'"):
        build_network("clip:RN50/opena")
    monkeypatch.setattr(clip, "open_clip_weights_here", lambda arch, tag: False)  # this machine: offline
    offline = r"clip:RN50/openai are not on this machine .* dreamer weights fetch clip:RN50/openai"
    with pytest.raises(WeightsNotFoundError, match=offline):
        build_network("clip:RN50/openai")
    network = build_network("clip:RN50", None)  # random weights: the architecture alone
    assert network.text is not None and network.size == 224
    embedded = network.text.embed(["a city of glass"], torch.device("cpu"))
    assert embedded.shape == (1, 1024) and torch.allclose(embedded.norm(dim=-1), torch.ones(1))


def test_a_recipe_with_an_open_clip_name_and_a_prompt_passes_the_gate(clip_file, tmp_path, capsys):
    pytest.importorskip("open_clip", reason="open_clip is an extra: pip install 'dreamer-deepdream[clip]'")
    photo = make_photo(tmp_path / "photo.png", size=(64, 48))
    network = ["--model.backbone", f"{clip_file}:TinyClip", "--model.weights", "null"]
    network += ["--model.layers", "model.visual.2"]
    objective = ["--model.objective", "text 'a red circle' - 0.5 * text 'blurry'"]
    assert main(["fit", "--config", "quickstart", "--data.images", str(photo), *network, *objective,
                 "--data.output", str(tmp_path / "out"), *SHORT]) == 0  # fmt: skip
    recipe = read_recipe(tmp_path / "out" / "photo.png")
    assert f"{clip_file}:TinyClip" in recipe
    shared = recipe.replace(f"{clip_file}:TinyClip", "clip:RN50").replace("model.visual.2", "model.visual.layer1")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(photo, inbox / "photo.png")
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, shared, zip=True)
    with Image.open(tmp_path / "out" / "photo.png") as picture:
        picture.save(inbox / "dream.png", pnginfo=info)
    capsys.readouterr()
    code = main(["fit", "--config", str(inbox / "dream.png"), "--dry_run", "--data.output", str(tmp_path / "again")])
    said = capsys.readouterr()
    assert code == 0, said.err
    assert "DreamModule on clip:RN50" in said.out  # its text terms built too: the prompts were read


def test_dreamer_weights_fetches_clip_names_and_says_at_once_when_offline(monkeypatch, capsys):
    pytest.importorskip("open_clip", reason="open_clip is an extra: pip install 'dreamer-deepdream[clip]'")
    from dreamer.command import weights
    from dreamer.engine.networks import clip

    assert weights.main(["fetch", "clip:RN50/opena"]) == 2
    assert "clip:RN50 has no pretrained tag 'opena'; it has openai" in capsys.readouterr().err
    monkeypatch.setattr(clip, "open_clip_weights_here", lambda arch, tag: False)
    assert weights.main(["fetch", "clip:RN50/openai"]) == 1
    assert "clip:RN50/openai: could not download: the Hugging Face hub cannot be reached" in capsys.readouterr().err


def text_check() -> Any:
    """``scripts/text_check.py`` as a module."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import text_check
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return text_check


def run_text_check(tmp_path: Path, **options) -> dict:
    check = text_check()
    return check.run(tmp_path / "check", only=[next(iter(check.SETTINGS))], **options)


def test_the_check_captions_put_unseen_words_around_the_shape_and_keep_its_name():
    check = text_check()
    pictures, captions, shapes = check.captioned(400, seed=1, unseen=0.3)
    assert pictures.shape == (400, 3, 64, 64) and shapes.tolist() == [0, 1, 2, 3] * 100
    assert all(
        check.CLASSES[shape] in caption.replace(",", " ").split() for caption, shape in zip(captions, shapes.tolist())
    )
    words = [word for caption in captions for word in caption.split()]
    assert 0.2 < words.count(check.UNSEEN) / len(words) < 0.5
    assert check.UNSEEN not in check.vocabulary()
    _, plain, _ = check.captioned(400, seed=1)
    assert check.UNSEEN not in " ".join(plain)


def test_the_varied_judge_sees_blurred_recoloured_noisy_pictures():
    check = text_check()
    pictures, _, _ = check.captioned(64, seed=3)
    seen = check.varied(pictures, torch.Generator().manual_seed(0))
    assert seen.shape == pictures.shape and float(seen.min()) >= 0 and float(seen.max()) <= 1
    assert 0.01 < float((seen - pictures).abs().mean()) < 0.5


class Answers(torch.nn.Module):
    """A judge that gives fixed answers, one per picture."""

    def __init__(self, answers: list[int]):
        super().__init__()
        self.answers = torch.tensor(answers)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.answers[: len(pictures)], 4).float()


def test_a_judge_judges_dreams_only_if_it_names_nearly_every_new_picture_of_each_shape():
    check = text_check()
    shapes = torch.tensor([0, 1, 2, 3] * 25)
    pictures = torch.zeros(100, 3, 64, 64)
    assert check.fit_to_judge(Answers(shapes.tolist()), pictures, shapes)
    some_squares_called_triangles = [
        2 if shape == 1 and index < 40 else shape for index, shape in enumerate(shapes.tolist())
    ]
    assert sum(a == s for a, s in zip(some_squares_called_triangles, shapes.tolist())) == 90  # 90 % in all
    assert not check.fit_to_judge(Answers(some_squares_called_triangles), pictures, shapes)  # squares at 60 %
    assert check.fit_to_judge(Answers(some_squares_called_triangles), pictures, shapes, fit=0.6)


def test_the_text_check_trains_its_models_and_judges_two_dreams(tmp_path):
    """The smoke test of ``scripts/text_check.py`` (the whole check is the slow test below)."""
    (figures,) = run_text_check(tmp_path, epochs=1, pictures=400, faces=1, iterations=8,
                                shapes=["circle", "cross"], fit=0.0).values()  # fmt: skip
    assert figures["dreams"] == 2 and 0 <= figures["judged_flat"] <= 1 and 0 <= figures["judged_varied"] <= 1
    judges = [f"judge-{kind}-{copy}.safetensors" for kind in ("flat", "varied") for copy in (1, 2, 3)]
    assert sorted(path.name for path in (tmp_path / "check").glob("*.safetensors")) == sorted(
        ["clip.safetensors", "other.safetensors", *judges]
    )
    dreams = sorted((tmp_path / "check" / "dreams").rglob("*.png"))
    assert [path.name for path in dreams] == ["circle-00.png", "cross-00.png"]
    with Image.open(dreams[0]) as dream:
        assert dream.size == (64, 64)
    assert "text 'something shaped like a circle'" in read_recipe(dreams[0])


@pytest.mark.slow
def test_dreams_of_a_sentence_show_the_prompted_shape_to_networks_trained_apart(tmp_path):
    """48 dreams from noise, prompts unlike any caption: each kind of judge of another architecture
    names the prompted shape for at least 75 % (their mean; chance 25 %), and a second contrastive
    model sees them nearer the prompt than the noise they started from."""
    (figures,) = run_text_check(tmp_path).values()
    assert figures["dreams"] == 48
    assert figures["judged_flat"] >= 0.75 and figures["judged_varied"] >= 0.75, figures
    assert figures["rise"] > 0, figures
