"""The recipe inside every dream file: ``dreamer fit --config dream.png`` (or an MP4) makes the same
bytes again from any folder, ``dreamer recipe`` prints it, and a bad recipe is one line."""

from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image, PngImagePlugin

from dreamer import __version__
from dreamer.cli import main
from dreamer.files.recipes import KEY, read_recipe
from tests.cli_args import QUIET
from tests.conftest import SAMPLE

SHORT = ["--octaves.count", "2", "--octaves.iterations", "2", *QUIET]


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def dreamed(tmp_path, monkeypatch, one_thread):
    """A photo of the user's, dreamed into ``first/``; the dream's path."""
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(SAMPLE, tmp_path / "cat.jpg")
    assert main(["fit", "--config", "quickstart", "--data.images", "cat.jpg", "--data.output", "first", *SHORT]) == 0
    return tmp_path / "first" / "cat.png"


def test_a_dream_carries_its_recipe_and_makes_the_same_bytes_again_from_any_folder(dreamed, tmp_path, monkeypatch):
    recipe = read_recipe(dreamed)
    assert recipe.startswith(f"# written by dreamer {__version__}\n")
    assert f"path: {tmp_path / 'cat.jpg'}" in recipe  # the input where the first run found it …
    assert "sha256: " in recipe  # … and which file it was
    assert "output:" not in recipe  # how the picture was made, not where it went
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["fit", "--config", str(dreamed), "--data.output", "again", *QUIET]) == 0
    assert (tmp_path / "elsewhere" / "again" / "cat.png").read_bytes() == dreamed.read_bytes()


def test_dreamer_recipe_prints_it_and_says_when_a_file_has_none(dreamed, tmp_path, capsys):
    assert main(["recipe", str(dreamed)]) == 0
    assert capsys.readouterr().out == read_recipe(dreamed)
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    assert main(["recipe", str(tmp_path / "plain.png")]) == 2
    expected = f"dreamer: error: {tmp_path / 'plain.png'}: the file holds no dreamer recipe"
    assert capsys.readouterr().err.strip() == expected


def with_recipe(source, target, edit) -> None:
    """``source``'s picture with its recipe edited by ``edit``."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, edit(read_recipe(source)), zip=True)
    with Image.open(source) as picture:
        picture.save(target, pnginfo=info)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda text: text, None),
        (lambda text: text.replace(f"dreamer: {__version__}", "dreamer: 9.1.0"), "written by dreamer 9.1.0, newer"),
        (lambda text: text.replace("recipe:\n", "recipe: [\n"), "its recipe is not valid YAML"),
        (lambda text: text.replace("lr: 0.012", "lr: fast"), "its recipe's model.lr: Expected a float"),
    ],
)
def test_a_recipe_from_a_newer_dreamer_or_one_edited_until_it_no_longer_parses_is_one_line(
    dreamed, tmp_path, capsys, edit, message
):
    target = tmp_path / "edited.png"
    with_recipe(dreamed, target, edit)
    code = main(["fit", "--config", str(target), "--data.output", str(tmp_path / "again"), *QUIET])
    if message is None:
        assert code == 0  # the same recipe, rewritten: it runs
        return
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert f"--config {target}: " in lines[0]
    assert message in lines[0]


def test_a_recipe_never_dreams_another_file_than_its_own(dreamed, tmp_path, capsys):
    Image.open(SAMPLE).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "cat.jpg")  # another cat.jpg there
    assert main(["fit", "--config", str(dreamed), "--data.output", str(tmp_path / "again"), *QUIET]) == 2
    line = capsys.readouterr().err.strip()
    assert line.endswith(f"{tmp_path / 'cat.jpg'} is not the file it was dreamed from (its SHA-256 differs)")
    (tmp_path / "cat.jpg").unlink()
    assert main(["fit", "--config", str(dreamed), *QUIET]) == 2
    assert "its input" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_a_picture_without_a_recipe_as_a_config_is_one_line(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    assert main(["fit", "--config", str(tmp_path / "plain.png"), *QUIET]) == 2
    assert capsys.readouterr().err.strip().endswith("the file holds no dreamer recipe")


def test_jpegs_and_webps_carry_it_too_and_bare_files_are_one_option_away(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(SAMPLE, tmp_path / "cat.jpg")
    base = ["fit", "--config", "quickstart", "--data.images", "cat.jpg", *SHORT]
    for name in ("dream.jpg", "dream.webp"):  # a JPEG's comment, a WebP's XMP
        assert main([*base, "--data.output", name]) == 0
        assert "sha256:" in read_recipe(tmp_path / name)
    assert main([*base, "--data.output", "bare.png", "--embed_recipe", "false"]) == 0
    assert read_recipe(tmp_path / "bare.png") is None


def test_a_video_carries_its_recipe_and_makes_the_same_mp4_again(tmp_path, monkeypatch, one_thread):
    from tests.videos import make_video

    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "clip.mp4", frames=4, size=(48, 64))
    options = ["--data.video", "clip.mp4", "--data.output", "first", "--data.frame_iterations", "1", *SHORT]
    assert main(["fit", "--config", "video", "--data.resize", "null", *options]) == 0
    video = tmp_path / "first" / "clip.mp4"
    assert "setting: data.video" in read_recipe(video)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["fit", "--config", str(video), "--data.output", "again", *QUIET]) == 0
    assert (tmp_path / "elsewhere" / "again" / "clip.mp4").read_bytes() == video.read_bytes()


def test_a_video_frame_carries_the_videos_recipe_and_remakes_the_frame_folder(tmp_path, monkeypatch, one_thread):
    from tests.videos import make_video

    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "clip.mp4", frames=4, size=(48, 64))
    options = ["--data.video", "clip.mp4", "--data.output", "first", "--data.frame_iterations", "1", *SHORT]
    assert main(["fit", "--config", "video", "--data.resize", "null", *options]) == 0
    frames = sorted((tmp_path / "first" / "clip.frames").glob("*.png"))
    assert len(frames) == 4
    assert read_recipe(frames[2]) == read_recipe(tmp_path / "first" / "clip.mp4")
    assert main(["fit", "--config", str(frames[2]), "--data.output", str(tmp_path / "again"), *QUIET]) == 0
    again = sorted((tmp_path / "again" / "clip.frames").glob("*.png"))
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in frames]


def test_an_atlas_picture_remakes_its_channel_and_a_sheet_the_atlas(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    atlas = ["--config", "atlas", "--data.channels", "0-2", "--data.size", "48", "--data.batch_size", "1", *SHORT]
    assert main(["fit", *atlas, "--data.output", "first"]) == 0
    picture = tmp_path / "first" / "features.11" / "features.11-c0001.png"
    sheet = tmp_path / "first" / "features.11-sheet1.png"
    assert "channels: '1'" in read_recipe(picture)
    assert "channels: 0-2" in read_recipe(sheet)
    assert main(["fit", "--config", str(picture), "--data.output", "one", *QUIET]) == 0
    assert [p.name for p in (tmp_path / "one" / "features.11").glob("*.png")] == [picture.name]
    assert (tmp_path / "one" / "features.11" / picture.name).read_bytes() == picture.read_bytes()
    assert main(["fit", "--config", str(sheet), "--data.output", "again", *QUIET]) == 0
    assert (tmp_path / "again" / sheet.name).read_bytes() == sheet.read_bytes()


def test_a_recipe_that_names_its_input_beside_it_finds_it_there(dreamed, tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    shutil.copyfile(tmp_path / "cat.jpg", download / "cat.jpg")  # (a photo's name seeds its dream)
    with_recipe(dreamed, download / "dream.png", lambda text: text.replace(str(tmp_path / "cat.jpg"), "cat.jpg"))
    assert main(["fit", "--config", str(download / "dream.png"), "--data.output", str(tmp_path / "out"), *QUIET]) == 0
    with Image.open(tmp_path / "out" / "cat.png") as again, Image.open(dreamed) as first:
        assert again.tobytes() == first.tobytes()  # the same dream of the same photo, found beside the download


def test_a_sweep_sheet_carries_the_sweep_and_sweeps_it_again(tmp_path, monkeypatch, one_thread, capsys):
    from tests.conftest import REPO, make_photo

    monkeypatch.chdir(tmp_path)
    make_photo(tmp_path / "photo.png", size=(64, 48))
    grid = (REPO / "configs" / "sweep_seed.yaml").read_text()
    grid = grid.replace("octaves.scale: [1.4, 1.6, 1.8]", "octaves.scale: [1.4, 1.8]")
    (tmp_path / "sweep.yaml").write_text(grid.replace("octaves.alpha: [0.2, 0.5, 0.8]", "octaves.alpha: [0.2, 0.8]"))
    short = ["--octaves.count", "2", "--octaves.iterations", "2"]
    assert (
        main(["sweep", "--config", "sweep.yaml", "--data.images", "photo.png", "--data.output", "first", *short]) == 0
    )
    sheet = tmp_path / "first" / "photo-sweep.png"
    assert "sweep:" in read_recipe(sheet)
    assert main(["sweep", "--config", str(sheet), "--data.output", "again"]) == 0
    assert (tmp_path / "again" / "photo-sweep.png").read_bytes() == sheet.read_bytes()
    capsys.readouterr()
    assert main(["fit", "--config", str(sheet), *QUIET]) == 2
    assert "run it with: dreamer sweep --config" in capsys.readouterr().err


def test_a_zooms_gif_carries_its_recipe_and_makes_the_same_gif_again(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    zoom = ["--config", "zoom", "--data.frames", "3", "--data.resize", "64", "--data.frame_iterations", "1", *SHORT]
    assert main(["fit", *zoom, "--data.output", "first"]) == 0
    gif = tmp_path / "first" / "chelsea.gif"
    assert "setting: data.images" in read_recipe(gif)
    assert main(["fit", "--config", str(gif), "--data.output", "again", *QUIET]) == 0
    assert (tmp_path / "again" / "chelsea.gif").read_bytes() == gif.read_bytes()
