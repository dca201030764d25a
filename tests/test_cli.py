import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import dreamer
from dreamer.cli import main
from dreamer.command.sweep import grid, read_sweep
from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.module import DreamModule
from dreamer.files.imageio import open_photo, to_tensor
from dreamer.photos.data import DreamDataModule
from tests.cli_args import QUIET, flags
from tests.conftest import REPO, SAMPLE, make_photo, run_dream

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
FAST = [*flags(octaves_count=2, octaves_iterations=2), *QUIET]


def test_there_are_presets():
    assert {p.stem for p in CONFIGS} >= {"quickstart", "default", "clouds", "city", "portrait", "googlenet_classic"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_preset_parses(config, capsys, tmp_path):
    if "sweep" in yaml.safe_load(config.read_text()):  # a sweep preset: its grid, and the config every point runs
        base, sweep, _ = read_sweep(str(config))
        assert len(grid(sweep)) > 1
        config = tmp_path / "base.yaml"
        config.write_text(yaml.safe_dump(base))
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", str(config), "--print_config"])
    assert done.value.code == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    data = resolved["data"]["init_args"]
    assert resolved["octaves"]["iterations"] >= 1
    live = resolved["data"]["class_path"].endswith("LiveDataModule")  # its camera is handed over, never named
    assert live or any(data.get(key) for key in ("images", "video", "channels", "classes"))


@pytest.mark.parametrize(
    "args, phrases",
    [
        (
            ["--help"],
            [
                "Pyramid levels",
                "Size ratio between neighbouring levels",
                "Restrict the objective",
                "Gradient steps per octave",
                "every_n_frames",
            ],
        ),
        (["--data.help", "DreamDataModule"], ["long side", "Images dreamed together"]),
        (
            ["--data.help", "ZoomDataModule"],
            [
                "Scale per frame about the centre",
                "Degrees per frame",
                "Frames of each zoom",
                "Octaves a continued frame dreams",
                "Keep the PNG frames",
            ],
        ),
        (
            ["--data.help", "VideoDataModule"],
            ["Weight of the carried dream", "Cut each video into chunks", "Optical flow"],
        ),
    ],
)
def test_help_documents_parameters(capsys, args, phrases):
    with pytest.raises(SystemExit):
        main(["fit", *args])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in phrases:
        assert phrase in text, phrase


def test_quickstart_end_to_end_writes_a_dream_and_its_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    out = tmp_path / "dreams"
    args = ["fit", "--config", "configs/quickstart.yaml", "--data.output", str(out), *FAST]
    assert main(args) == 0
    dream = out / "chelsea.png"
    with Image.open(dream) as image:
        assert image.format == "PNG"
        assert image.size == Image.open(SAMPLE).size
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    original = np.asarray(Image.open(SAMPLE).convert("RGB"), dtype=np.float32)
    assert np.abs(pixels - original).mean() > 2.0  # visibly changed
    config = yaml.safe_load((out / "chelsea.yaml").read_text())
    assert config["model"]["backbone"] == "mobilenet_v2"
    assert config["octaves"]["count"] == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert str(dream) in capsys.readouterr().out

    before = dream.stat().st_mtime_ns
    assert main(args) == 0  # nothing overwritten without asking
    assert dream.stat().st_mtime_ns == before
    assert "1 skipped" in capsys.readouterr().out
    assert main([*args, "--data.overwrite", "true"]) == 0
    assert dream.stat().st_mtime_ns != before


def test_output_file_name_picks_the_format(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    target = tmp_path / "my dream.jpg"
    assert main(["fit", "--config", "configs/quickstart.yaml", "--data.output", str(target), *FAST]) == 0
    with Image.open(target) as image:
        assert image.format == "JPEG"
    assert target.with_suffix(".yaml").is_file()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--data.images", "no/such/photo.jpg"], "no/such/photo.jpg"),
        (["--model.layers", "features.99"], "has no layer"),
        (["--model.backbone", "alexnett"], "Unknown backbone 'alexnett'; closest: alexnet"),
        (["--data.batch_sizee", "2"], "Option 'batch_sizee' is not accepted"),  # the reason, not only where
    ],
)
def test_user_errors_are_one_clear_line(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(REPO)
    try:
        code = main(["fit", "--config", "configs/quickstart.yaml", "--data.output", str(tmp_path), *FAST, *extra])
    except SystemExit as exit:  # the parser's own errors exit at once
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_real_weights_raise_the_target_activation_on_the_sample_photo(tmp_path):
    """The quickstart dream, with real ImageNet weights, must excite its layer far more than the photo does."""
    preset = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text())
    model = DreamModule(**preset["model"])
    run_dream(model, DreamDataModule(images=str(SAMPLE), output=str(tmp_path / "d.png")), Octaves(**preset["octaves"]))
    photo = to_tensor(open_photo(SAMPLE)[0]).unsqueeze(0)
    dream = to_tensor(open_photo(tmp_path / "d.png")[0]).unsqueeze(0)
    with torch.no_grad():
        gain = (model.objective(dream, DreamBatch(None), -1) / model.objective(photo, DreamBatch(None), -1)).item()
    print(f"activation gain of {model.objective.schedule.layers[-1]} on the sample photo: {gain:.1f}x")
    assert gain > 3.0


def test_a_config_and_flags_written_for_dreamer_0_1_still_run(tmp_path, capsys):
    """The config 0.1 saved beside a dream (old class paths, ``jitter: 16``, ``jitter_rotate``) and its
    flags (``--model.jitter 8``) are read in today's names."""
    old = tmp_path / "old.yaml"
    old.write_text(
        "model:\n  backbone: mobilenet_v2\n  jitter: 16\n  jitter_rotate: 4.0\n  jitter_flip: true\n"
        "  optimizer:\n    class_path: dreamer.optim.NormalizedGD\n"
        "data:\n  class_path: dreamer.data.DreamDataModule\n"
    )
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(old), "--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["jitter"] == {"pad": 0, "roll": 16, "rotate": 4.0, "scale": 0.0, "flip": True}
    assert config["model"]["optimizer"]["class_path"] == "dreamer.engine.optim.NormalizedGD"
    assert config["data"]["class_path"] == "dreamer.photos.data.DreamDataModule"
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(old), "--model.jitter=8", "--model.jitter_scale", "0.1", "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out)["model"]["jitter"] == {
        "pad": 0,
        "roll": 8,
        "rotate": 4.0,
        "scale": 0.1,
        "flip": True,
    }


def test_the_octave_filter_and_guide_settings_of_dreamer_0_1_are_read_in_their_groups(tmp_path, capsys):
    """0.1 kept the octave walk, the filters and the guide among the model's own settings; a config of
    then (its keyframes, audio and sweep keys too) and its flags are read in today's sections."""
    from dreamer.files.earlier import upgraded

    guide = make_photo(tmp_path / "guide.png")
    old = tmp_path / "old.yaml"
    old.write_text(
        "model:\n  backbone: mobilenet_v2\n  octaves: 3\n  scale: 1.6\n  iterations: 4\n  alpha: 0.5\n"
        "  blend: detail\n  init: noise\n  smallest_octave: 100\n  grad_blur: 0.5\n  laplacian_levels: 2\n"
        f"  guide: {guide.name}\n  guide_side: 200\nckpt_path: null\nweights_only: null\n"
    )
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(old), "--print_config"])
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["octaves"] == {
        "count": 3,
        "smallest": 100,
        "scale": 1.6,
        "iterations": 4,
        "alpha": 0.5,
        "blend": "detail",
        "init": "noise",
    }
    assert config["model"]["filters"] == {"grad_blur": 0.5, "laplacian_levels": 2, "image_blur": 0.0}
    assert config["model"]["guide"] == {"image": str(guide), "side": 200}  # beside its config, made absolute
    with pytest.raises(SystemExit):
        main(["fit", "--config", "quickstart", "--model.octaves", "5", "--model.alpha=0.3", "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out)["octaves"]["count"] == 5
    animated = upgraded(
        {
            "sweep": {"model.scale": [1.4], "model.lr": [0.1]},
            "animation": {
                "keyframes": {0: {"model.grad_blur": 1.0, "model.lr": 0.01, "data.blend": 0.5}},
                "audio": [{"setting": "model.image_blur", "envelope": "onsets", "range": [0, 1]}],
            },
        }
    )
    assert list(animated["sweep"]) == ["octaves.scale", "model.lr"]
    assert animated["animation"]["keyframes"][0] == {
        "model.filters.grad_blur": 1.0,
        "model.lr": 0.01,
        "data.carry": 0.5,
    }
    video = upgraded({"data": {"class_path": "VideoDataModule", "init_args": {"blend": 0.5}}})
    assert video["data"]["init_args"] == {"carry": 0.5}
    with pytest.raises(SystemExit):
        main(["fit", "--config", "video", "--data.blend", "0.4", "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]["carry"] == 0.4
    assert animated["animation"]["audio"][0]["setting"] == "model.filters.image_blur"


def test_a_saved_config_says_which_dreamer_wrote_it(tmp_path):
    assert (
        main(
            [
                "fit",
                "--config",
                "quickstart",
                "--data.images",
                str(make_photo(tmp_path / "p.png")),
                "--data.output",
                str(tmp_path / "o"),
                *FAST,
            ]
        )
        == 0
    )
    first = (tmp_path / "o" / "p.yaml").read_text().splitlines()[0]
    assert first == f"# written by dreamer {dreamer.__version__}"
    assert dreamer.__version__ == "0.3.0"


def test_the_config_saved_beside_a_dream_runs_back_from_any_folder_to_the_same_bytes(tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "photos").mkdir(parents=True)
    elsewhere.mkdir()
    Image.open(SAMPLE).resize((96, 64)).save(work / "photos" / "cat.png")
    monkeypatch.chdir(work)  # the photo and the output given relative to where the first run starts
    assert main(["fit", "--config", "quickstart", "--data.images", "photos", "--data.output", "dreams", *FAST]) == 0
    monkeypatch.chdir(elsewhere)
    assert main(["fit", "--config", str(work / "dreams" / "cat.yaml"), *QUIET]) == 0
    assert (elsewhere / "dreams" / "cat.png").read_bytes() == (work / "dreams" / "cat.png").read_bytes()


@pytest.mark.parametrize(
    "content, message",
    [
        ("model:\n  octaves: [2\n  lr: 0.1\n", "bad.yaml: not valid YAML at line 3, column 5: expected ',' or ']'"),
        ("octaves:\n  count: two\n", "octaves.count: expected int or 'auto', got two"),
        ("octaves:\n  iterations: many\n", "octaves.iterations: Expected a int. Got value: many"),
        ("model:\n  octaves: two\n", "octaves.count: expected int or 'auto', got two"),  # 0.1's key, read today
    ],
)
def test_a_broken_config_is_one_line_naming_the_file_or_the_option(tmp_path, capsys, content, message):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    try:
        code = main(["fit", "--config", str(config), "--data.output", str(tmp_path / "o")])
    except SystemExit as exit:  # the parser's own errors leave through sys.exit
        code = exit.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_a_picture_given_as_the_config_is_one_line(tmp_path, capsys):
    assert main(["fit", "--config", str(SAMPLE), "--data.output", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"dreamer: error: --config {SAMPLE}: the file holds no dreamer recipe"]  # a photo, not a dream


def test_dreamer_without_a_known_command_says_which_there_are(capsys):
    assert main([]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "dreamer: error: no command: expected fit, sweep, layers, weights, recipe, app or presets"
    )
    assert main(["fitt", "--config", "quickstart"]) == 2
    assert "fitt: expected fit, sweep, layers, weights, recipe, app or presets" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "dreamer fit --config quickstart" in capsys.readouterr().out


def test_a_folder_named_like_a_preset_does_not_hide_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()  # say, the output of an earlier run
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", "quickstart", "--print_config"])
    assert done.value.code == 0
    assert "mobilenet_v2" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, closest",
    [
        (["--model.layrs", "7"], "--model.layers"),
        (["--octaves.cont", "3"], "--octaves.count"),
        (["--data.imags", "x.png"], "--data.images"),
        (["--trainer.max_stesp", "3"], "--trainer.max_steps"),
    ],
)
def test_a_misspelled_option_is_one_line_naming_the_closest(tmp_path, capsys, args, closest):
    try:
        code = main(["fit", "--config", "quickstart", *args, "--data.output", str(tmp_path / "o")])
    except SystemExit as exit:  # the parser's own errors leave through sys.exit
        code = exit.code
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert lines[0].split("closest: ")[1].split(", ")[0] == closest
    assert not (tmp_path / "o").exists()
