"""A dream from someone else is data: its recipe runs no code, reads only the files it pins, and
writes nothing outside the output (``dreamer.command.trust``)."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from dreamer.cli import main
from dreamer.files.recipes import KEY, read_recipe, sha256
from tests.cli_args import QUIET
from tests.conftest import make_photo

SHORT = ["--octaves.count", "1", "--octaves.iterations", "2", *QUIET]
NET = textwrap.dedent(
    """
    from pathlib import Path

    from torch import nn

    Path(__file__).with_name("imported.marker").write_text("this file's code ran")


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())

        def forward(self, x):
            return self.body(x)
    """
)
OWN_NET = ["--model.weights", "null", "--model.layers", "body.3"]


def refused(capsys, code: int, *words: str) -> str:
    """The one line a refused recipe gives (exit status 2), holding each of ``words``."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0]
    return lines[0]


def pixels(path: Path) -> bytes:
    with Image.open(path) as picture:
        return picture.tobytes()


def edited(source: Path, target: Path, edit) -> Path:
    """``source``'s picture with its recipe edited by ``edit`` (text → text)."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, edit(read_recipe(source)), zip=True)
    with Image.open(source) as picture:
        picture.save(target, pnginfo=info)
    return target


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """The author's folder, the receiver's inbox (where a shared dream lands) and the folder the
    receiver runs dreamer from (``work``, the working folder)."""
    for name in ("author", "inbox", "work"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


@pytest.fixture
def dreamed(folders) -> Path:
    """A photo dreamed by its author, with a guide; the dream's path."""
    author = folders / "author"
    photo = make_photo(author / "cat.png", size=(64, 48))
    guide = make_photo(author / "guide.png", size=(48, 48), seed=5)
    args = ["--data.images", str(photo), "--model.guide.image", str(guide), "--data.output", str(author / "out")]
    assert main(["fit", "--config", "quickstart", *args, *SHORT]) == 0
    return author / "out" / "cat.png"


@pytest.fixture
def by_own_network(folders) -> Path:
    """A dream its author made through a network file of theirs (``author/nets.py``), copied with
    that file into the inbox; the copy's path. Importing the file leaves ``imported.marker`` beside it."""
    author, inbox = folders / "author", folders / "inbox"
    (author / "nets.py").write_text(NET)
    photo = make_photo(author / "cat.png", size=(64, 48))
    network = ["--model.backbone", f"{author / 'nets.py'}:Net", *OWN_NET]
    assert (
        main(["fit", "--config", "quickstart", "--data.images", str(photo), *network, "--data.output", "out", *SHORT])
        == 0
    )
    shutil.copy(folders / "work" / "out" / "cat.png", inbox / "cat.png")
    shutil.copy(photo, inbox / "cat-photo.png")
    shutil.rmtree(folders / "work" / "out")
    (author / "imported.marker").unlink()  # the author's own run imported it; from here on nothing may
    return inbox / "cat.png"


def test_the_recipe_pins_every_file_it_reads(dreamed):
    recipe = read_recipe(dreamed)
    guide = dreamed.parents[1] / "guide.png"
    assert f"setting: model.guide.image\n    path: {guide}\n    sha256: {sha256(guide)}" in recipe
    assert "setting: data.images" in recipe


def test_a_recipes_network_file_is_imported_only_with_the_opt_in_and_only_the_matching_file_beside_it(
    by_own_network, folders, capsys
):
    inbox, author = folders / "inbox", folders / "author"
    again = ["--data.output", str(folders / "again"), *QUIET]
    line = refused(capsys, main(["fit", "--config", str(by_own_network), *again]), "--import_recipe_network")
    assert "nothing was imported" in line
    assert not (author / "imported.marker").exists()  # the recorded file, where the author had it
    # With the opt-in, only a file of that name beside the recipe, with the recorded SHA-256.
    code = main(["fit", "--config", str(by_own_network), "--import_recipe_network", *again])
    refused(capsys, code, f"{inbox / 'nets.py'} is not there")
    (inbox / "nets.py").write_text(NET.replace("nn.ReLU(), nn.Conv2d(8", "nn.Tanh(), nn.Conv2d(8"))
    code = main(["fit", "--config", str(by_own_network), "--import_recipe_network", *again])
    refused(capsys, code, "is not the file it was dreamed from")
    assert not (inbox / "imported.marker").exists()
    assert not (author / "imported.marker").exists()
    (inbox / "nets.py").write_text(NET)
    assert main(["fit", "--config", str(by_own_network), "--import_recipe_network", *again]) == 0
    assert (inbox / "imported.marker").exists()  # the file beside the recipe, not the author's
    assert not (author / "imported.marker").exists()
    assert pixels(folders / "again" / "cat.png") == pixels(by_own_network)  # its recipe names the file it read


def test_a_network_the_user_names_is_imported_and_still_checked_against_the_recipe(by_own_network, folders, capsys):
    mine = folders / "work" / "mine.py"
    mine.write_text(NET.replace("padding=1), nn.ReLU(), nn.Conv2d", "padding=1), nn.ELU(), nn.Conv2d"))
    again = ["--data.output", str(folders / "again"), *QUIET]
    code = main(["fit", "--config", str(by_own_network), "--model.backbone", f"{mine}:Net", *again])
    refused(capsys, code, f"{mine} is not the network the dream was made with")
    assert not (folders / "work" / "imported.marker").exists()
    mine.write_text(NET)
    assert main(["fit", "--config", str(by_own_network), "--model.backbone", f"{mine}:Net", *again]) == 0
    assert (folders / "work" / "imported.marker").exists()


def test_a_class_path_in_a_recipe_is_never_imported(dreamed, folders, capsys, monkeypatch):
    package = folders / "author" / "evilnets"
    package.mkdir()
    (package / "__init__.py").write_text(NET)
    monkeypatch.syspath_prepend(str(folders / "author"))
    target = edited(dreamed, folders / "inbox" / "cat.png", lambda text: text.replace("mobilenet_v2", "evilnets.Net"))
    for opt_in in ([], ["--import_recipe_network"]):
        code = main(["fit", "--config", str(target), *opt_in, "--data.output", str(folders / "again")])
        refused(capsys, code, "a recipe never imports one", "--model.backbone evilnets.Net")
    assert not (package / "imported.marker").exists()
    assert "evilnets" not in sys.modules
    assert not (folders / "again").exists()


@pytest.mark.parametrize(
    "old, new, setting",
    [
        ("default_root_dir: null", "default_root_dir: {outside}", "trainer.default_root_dir"),
        (
            "callbacks: null",
            "callbacks:\n  - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n"
            "    init_args: {{dirpath: {outside}}}",
            "trainer.callbacks",
        ),
        (
            "logger: false",
            "logger:\n    class_path: lightning.pytorch.loggers.CSVLogger\n    init_args: {{save_dir: {outside}}}",
            "trainer.logger",
        ),
        ("plugins: null", "plugins: [lightning.pytorch.plugins.environments.SLURMEnvironment]", "trainer.plugins"),
        ("max_epochs: 1", "max_epochs: 3", "trainer.max_epochs"),
        ("strategy: auto", "strategy: lightning.pytorch.strategies.DDPStrategy", "trainer.strategy"),
        ("class_path: dreamer.DreamDataModule", "class_path: evilnets.Data", "data.class_path"),
        ("class_path: dreamer.engine.optim.NormalizedGD", "class_path: evilnets.Step", "model.optimizer"),
        ("embed_recipe: true", "embed_recipe: true\nprint_config: true", "'print_config'"),
        ("    seed: 0\n", "    seed: 0\n    extra: 1\n", "data.extra"),
    ],
)
def test_a_recipe_sets_only_a_dreams_own_options(dreamed, folders, capsys, old, new, setting):
    outside = folders / "outside"
    new = new.format(outside=outside)
    target = edited(dreamed, folders / "inbox" / "cat.png", lambda text: text.replace(old, new, 1))
    assert new in read_recipe(target)
    refused(capsys, main(["fit", "--config", str(target), "--data.output", str(folders / "again")]), setting)
    assert not outside.exists()
    assert not (folders / "again").exists()
    assert not list((folders / "work").iterdir())


def test_the_trainer_options_that_change_the_pixels_pass(dreamed, folders):
    def changed(text: str) -> str:
        return text.replace("precision: null", "precision: 32-true").replace(
            "deterministic: null", "deterministic: true"
        )

    target = edited(dreamed, folders / "inbox" / "cat.png", changed)
    assert main(["fit", "--config", str(target), "--data.output", str(folders / "again"), *QUIET]) == 0
    assert "deterministic: true" in read_recipe(folders / "again" / "cat.png")


def test_a_swapped_guide_or_weights_file_is_refused(dreamed, folders, capsys, by_own_network):
    guide = dreamed.parents[1] / "guide.png"
    make_photo(guide, size=(48, 48), seed=6)
    code = main(["fit", "--config", str(dreamed), "--data.output", str(folders / "again")])
    refused(capsys, code, f"{guide} is not the file it was dreamed from")
    # Weights: a network of the user's, its weights file swapped after the dream.
    import torch

    from dreamer.engine.networks.network import import_class

    author = folders / "author"
    torch.manual_seed(0)
    torch.save(import_class(f"{author / 'nets.py'}:Net")().state_dict(), author / "w.pt")
    network = ["--model.backbone", f"{author / 'nets.py'}:Net", "--model.weights", str(author / "w.pt")]
    photo = ["--data.images", str(folders / "inbox" / "cat-photo.png"), "--model.layers", "body.3"]
    assert main(["fit", "--config", "quickstart", *photo, *network, "--data.output", str(author / "w"), *SHORT]) == 0
    torch.manual_seed(1)
    torch.save(import_class(f"{author / 'nets.py'}:Net")().state_dict(), author / "w.pt")
    code = main(["fit", "--config", str(author / "w" / "cat-photo.png"), *network[:2], "--data.output", "again"])
    refused(capsys, code, f"{author / 'w.pt'} is not the file it was dreamed from")


def test_an_unpinned_file_setting_is_refused(dreamed, folders, capsys):
    def unpinned(text: str) -> str:
        start = text.index("  - setting: model.guide.image")
        end = (
            text.index("\n  - ", start + 1)
            if "\n  - " in text[start + 1 :]
            else text.index("\n", text.index("sha256", start))
        )
        return text[:start] + text[end + 1 :]

    target = edited(dreamed, folders / "inbox" / "cat.png", unpinned)
    assert "setting: model.guide.image" not in read_recipe(target)
    code = main(["fit", "--config", str(target), "--data.output", str(folders / "again")])
    refused(capsys, code, "model.guide.image", "is not pinned in recipe.inputs")


def test_an_input_that_leads_out_of_the_recipes_folder_is_refused_links_too(dreamed, folders, capsys):
    inbox = folders / "inbox" / "dreams"
    inbox.mkdir()
    photo = dreamed.parents[1] / "cat.png"
    shutil.copy(photo, folders / "inbox" / "cat.png")
    climbing = edited(dreamed, inbox / "climbing.png", lambda text: text.replace(f"path: {photo}", "path: ../cat.png"))
    code = main(["fit", "--config", str(climbing), "--data.output", str(folders / "again")])
    refused(capsys, code, "(../cat.png) leads out of the recipe's folder")
    os.symlink(folders / "inbox" / "cat.png", inbox / "cat.png")
    linked = edited(dreamed, inbox / "linked.png", lambda text: text.replace(f"path: {photo}", "path: cat.png"))
    code = main(["fit", "--config", str(linked), "--data.output", str(folders / "again")])
    refused(capsys, code, "(cat.png) leads out of the recipe's folder")
    assert not (folders / "again").exists()
    (inbox / "cat.png").unlink()
    shutil.copy(photo, inbox / "cat.png")  # a real file beside the recipe: read
    assert main(["fit", "--config", str(linked), "--data.output", str(folders / "again"), *QUIET]) == 0


def test_a_recipe_chunk_that_inflates_past_pillows_limit_is_one_line(tmp_path, capsys):
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, "# written by dreamer 0.3.0\n" + "#" * (PngImagePlugin.MAX_TEXT_CHUNK + 1), zip=True)
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (8, 8)).save(bomb, pnginfo=info)
    assert bomb.stat().st_size < 100_000
    refused(capsys, main(["fit", "--config", str(bomb)]), f"{bomb}: not a readable picture")
    refused(capsys, main(["recipe", str(bomb)]), f"{bomb}: not a readable picture")


def test_a_yaml_recipe_passes_the_same_gate_and_a_users_own_config_is_trusted(dreamed, folders, capsys):
    text = read_recipe(dreamed).replace("default_root_dir: null", f"default_root_dir: {folders / 'outside'}")
    recipe = folders / "inbox" / "cat.yaml"
    recipe.write_text(text)
    refused(capsys, main(["fit", "--config", str(recipe), "--data.output", "x"]), "trainer.default_root_dir")
    own = folders / "work" / "mine.yaml"
    own.write_text(text.split("\n", 1)[1])  # without its first line: the user's own config
    shown = ["--trainer.logger", "true", "--trainer.enable_progress_bar", "false"]
    assert main(["fit", "--config", str(own), "--data.output", str(folders / "again"), *shown]) == 0
    assert (folders / "outside" / "lightning_logs").is_dir()  # the user's own setting, followed


def test_a_config_saved_by_020_pins_nothing_and_says_how_to_run_it_as_your_own(dreamed, folders, capsys):
    import yaml

    content = yaml.safe_load(read_recipe(dreamed))
    del content["recipe"]  # 0.2.0 saved the config alone
    body = yaml.safe_dump(content, sort_keys=False)
    saved = folders / "inbox" / "cat.yaml"
    saved.write_text("# written by dreamer 0.2.0\n" + body)
    line = refused(capsys, main(["fit", "--config", str(saved), "--data.output", str(folders / "again")]))
    assert "delete its first line" in line
    saved.write_text(body)
    assert main(["fit", "--config", str(saved), "--data.output", str(folders / "again"), *QUIET]) == 0


def test_the_gate_stands_at_sweep_and_run_too(by_own_network, folders, capsys):
    from dreamer import run
    from dreamer.errors import ConfigError

    with pytest.raises(ConfigError, match="--import_recipe_network"):
        run(str(by_own_network), output=str(folders / "again"))
    sheet = edited(
        by_own_network, folders / "inbox" / "sheet.png", lambda text: text + "sweep:\n  octaves.alpha: [0.5]\n"
    )
    refused(
        capsys, main(["sweep", "--config", str(sheet), "--data.output", str(folders / "again")]), "nothing was imported"
    )
    grid = "sweep:\n  model.guide.image: [/etc/hostname]\n"
    sheet = edited(by_own_network, folders / "inbox" / "sheet.png", lambda text: text + grid)
    code = main(["sweep", "--config", str(sheet), "--import_recipe_network", "--data.output", str(folders / "again")])
    refused(capsys, code, "sweep sets model.guide.image")
    assert not (folders / "inbox" / "imported.marker").exists()
    assert not (folders / "again").exists()


def test_a_run_writes_nothing_into_the_working_folder(folders):
    photo = make_photo(folders / "author" / "p.png", size=(64, 48))
    args = ["--data.images", str(photo), "--data.output", str(folders / "out"), "--octaves.count", "1"]
    assert main(["fit", "--config", "quickstart", *args, "--trainer.enable_progress_bar", "false"]) == 0
    assert not list((folders / "work").iterdir())
    assert list((folders / "out" / "lightning_logs").glob("version_0/events.out.tfevents.*"))


def test_a_recipe_written_by_020_runs(folders):
    photo = make_photo(folders / "author" / "cat.png", size=(64, 48))
    args = ["--data.images", str(photo), "--data.output", str(folders / "author" / "out"), *SHORT]
    assert main(["fit", "--config", "quickstart", *args]) == 0
    dream = folders / "author" / "out" / "cat.png"
    old = edited(dream, folders / "inbox" / "cat.png", lambda text: text.replace("0.3.0", "0.2.0"))
    assert read_recipe(old).startswith("# written by dreamer 0.2.0\nrecipe:\n  dreamer: 0.2.0\n")
    assert main(["fit", "--config", str(old), "--data.output", str(folders / "again"), *QUIET]) == 0
    assert pixels(folders / "again" / "cat.png") == pixels(dream)
