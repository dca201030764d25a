"""``engine.network``: any network dreams — torchvision's zoo beyond the documented six, timm, the
user's own class (by import path, by file, with arguments), a LightningModule with its checkpoint —
and every bad name or weights file is one line, before any work."""

from __future__ import annotations

import textwrap
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from dreamer.cli import main
from dreamer.engine.networks.network import Input, build_network
from dreamer.errors import ConfigError
from dreamer.photos.data import DreamDataModule
from tests.cli_args import QUIET
from tests.conftest import make_photo, run_dream, tiny_model, tiny_octaves

NETS = textwrap.dedent(
    """
    import lightning.pytorch as pl
    import torch
    from torch import nn


    class ShapesNet(nn.Module):
        def __init__(self, width: int = 8, classes: int = 4):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            )
            self.head = nn.Linear(2 * width, classes)

        def forward(self, x):
            return self.head(self.body(x).mean(dim=(2, 3)))


    class Digits(nn.Module):  # grey 28 px pictures only: a Linear after Flatten takes exactly one size

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten())
            self.head = nn.Linear(4 * 28 * 28, 10)

        def forward(self, x):
            return self.head(self.body(x))


    class ShapesModule(pl.LightningModule):
        def __init__(self, width: int = 8):
            super().__init__()
            self.net = ShapesNet(width)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            images, labels = batch
            return nn.functional.cross_entropy(self(images), labels)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)
    """
)


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def dreams(tmp_path: Path, photo: Path, **model) -> float:
    """Dream ``photo`` through the network ``model`` names; how far the dream moved from the photo."""
    module = tiny_model(**model)
    run_dream(module, DreamDataModule(images=str(photo), output=str(tmp_path / "dream.png")), tiny_octaves(count=1))
    from dreamer.files.imageio import open_photo, to_tensor

    before, after = (to_tensor(open_photo(p)[0]) for p in (photo, tmp_path / "dream.png"))
    return float((after - before).abs().mean())


def test_a_torchvision_network_beyond_the_documented_six_dreams_by_layer_name(tmp_path, photo):
    assert dreams(tmp_path, photo, backbone="resnet18", weights=None, layers="layer2", lr=0.05) > 0.005


def test_a_timm_network_dreams(tmp_path, photo):
    assert dreams(tmp_path, photo, backbone="timm:resnet18", weights=None, layers="layer2", lr=0.05) > 0.005


def test_a_class_of_your_own_dreams_by_file_and_by_import_path_with_arguments(tmp_path, photo, nets, monkeypatch):
    assert dreams(tmp_path, photo, backbone=f"{nets}:ShapesNet", weights=None, layers="body.4", lr=0.05) > 0.005
    monkeypatch.syspath_prepend(str(nets.parent))
    network = build_network({"class_path": "nets.ShapesNet", "init_args": {"width": 4}}, None)
    assert network.module.body[0].out_channels == 4
    assert not any(p.requires_grad for p in network.module.parameters())
    assert not network.module.training


def test_a_lightning_checkpoint_and_a_safetensors_file_give_the_network_its_trained_weights(tmp_path, nets):
    from safetensors.torch import save_file

    from dreamer.engine.networks.network import import_class

    module = import_class(f"{nets}:ShapesModule")(width=4)
    images, labels = torch.rand(8, 3, 16, 16), torch.randint(0, 4, (8,))
    loader = torch.utils.data.DataLoader(list(zip(images, labels)), batch_size=4)
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, loader)
    trainer.save_checkpoint(tmp_path / "shapes.ckpt")
    trained = module.net.body[0].weight.detach()
    from_ckpt = build_network(
        {"class_path": f"{nets}:ShapesModule", "init_args": {"width": 4}}, str(tmp_path / "shapes.ckpt")
    )
    assert torch.equal(from_ckpt.module.net.body[0].weight, trained)
    save_file(module.net.state_dict(), str(tmp_path / "shapes.safetensors"))
    from_safetensors = build_network(
        {"class_path": f"{nets}:ShapesNet", "init_args": {"width": 4}}, str(tmp_path / "shapes.safetensors")
    )
    assert torch.equal(from_safetensors.module.body[0].weight, trained)


class Payload:
    """Unpickling it would run code: it writes a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_a_checkpoint_holding_a_pickled_payload_is_refused_and_nothing_in_it_runs(tmp_path, nets):
    marker = tmp_path / "payload-ran"
    torch.save({"state_dict": {}, "extra": Payload(marker)}, tmp_path / "evil.ckpt")
    with pytest.raises(ConfigError, match="holds more than tensors"):
        build_network(f"{nets}:ShapesNet", str(tmp_path / "evil.ckpt"))
    assert not marker.exists()


def test_weights_that_do_not_fit_name_the_first_keys(tmp_path, nets):
    torch.save({"body.0.weight": torch.zeros(8, 3, 3, 3), "stray.bias": torch.zeros(1)}, tmp_path / "w.pth")
    with pytest.raises(ConfigError, match=r"does not fit .*ShapesNet: missing body.0.bias, .*; unexpected stray.bias"):
        build_network(f"{nets}:ShapesNet", str(tmp_path / "w.pth"))


def test_the_input_convention_is_the_networks_unless_given():
    assert build_network("mobilenet_v2", None).mean == (0.485, 0.456, 0.406)
    given = build_network("mobilenet_v2", None, Input(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    assert given.std == (0.25, 0.25, 0.25)
    with pytest.raises(ConfigError, match=r"model.input.mean: one number per channel the network takes \(3\)"):
        build_network("mobilenet_v2", None, Input(mean=(0.5,)))
    with pytest.raises(ConfigError, match="model.input.channels: mobilenet_v2's first convolution takes 3"):
        build_network("mobilenet_v2", None, Input(channels=1))


@pytest.mark.parametrize(
    "backbone, weights, message",
    [
        ("resnet5", "null", "Unknown backbone 'resnet5'; closest: resnet50"),
        ("timm:resnet1", "null", "timm has no model 'resnet1'; closest: "),
        ("no/such/nets.py:Net", "null", "no/such/nets.py is not a file"),
        ("NETS:ShapeNet", "null", "no class 'ShapeNet' there; closest: ShapesNet"),
        ("NETS:ShapesNet", "imagenet", "imagenet is for torchvision and timm networks"),
        ("no_such_package.Net", "null", "cannot import no_such_package"),
    ],
)
def test_a_bad_network_is_one_line_and_exit_2_before_any_work(tmp_path, nets, capsys, backbone, weights, message):
    photo = make_photo(tmp_path / "p.png")
    backbone = backbone.replace("NETS", str(nets))
    args = ["fit", "--config", "quickstart", "--data.images", str(photo), "--data.output", str(tmp_path / "out")]
    code = main([*args, "--model.backbone", backbone, "--model.weights", weights, "--model.layers", "body.4", *QUIET])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_dream_through_your_own_file_runs_back_from_its_saved_config_anywhere(tmp_path, nets, monkeypatch):
    """The file form is made absolute in the saved config, and random weights are the same every run;
    a saved config is a recipe, so the network file is imported because the command line names it."""
    photo = make_photo(tmp_path / "p.png")
    monkeypatch.chdir(tmp_path)
    network = ["--model.backbone", "nets.py:ShapesNet", "--model.weights", "null", "--model.layers", "body.4"]
    args = ["--config", "quickstart", "--data.images", str(photo), "--octaves.iterations", "2", *QUIET]
    assert main(["fit", *args, *network, "--data.output", "first"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    mine = ["--model.backbone", f"{tmp_path / 'nets.py'}:ShapesNet"]
    assert main(["fit", "--config", str(tmp_path / "first" / "p.yaml"), *mine, "--data.output", "again", *QUIET]) == 0
    assert (elsewhere / "again" / "p.png").read_bytes() == (tmp_path / "first" / "p.png").read_bytes()


def test_a_vision_transformers_tokens_are_maps_of_its_patches_and_it_dreams_at_any_size(tmp_path):
    """timm's ViT: the class token left out, the others laid out as [B, C, ⌈H/16⌉, ⌈W/16⌉]; a picture
    that is not a multiple of the patch is padded, its position embeddings interpolated."""
    layer = "blocks.6.mlp.fc1"
    model = tiny_model(backbone="timm:vit_tiny_patch16_224", weights=None, layers=layer, objective="channel 5")
    activation = model.objective.extractor(torch.rand(2, 3, 72, 100), (layer,))[layer]
    assert activation.shape == (2, 768, 5, 7)
    photo = make_photo(tmp_path / "p.png", size=(100, 72))
    assert dreams(tmp_path, photo, backbone="timm:vit_tiny_patch16_224", weights=None, layers=layer, lr=0.05) > 0.005


def test_swins_stages_laid_out_height_width_channels_are_climbed_as_maps():
    model = tiny_model(backbone="swin_t", weights=None, layers="features.3", objective="channel 5")
    activation = model.objective.extractor(torch.rand(1, 3, 96, 128), ("features.3",))["features.3"]
    assert activation.shape == (1, 192, 12, 16)  # [B, C, h, w], though swin_t runs its stages [B, h, w, C]
    assert model.objective.widths() == {"features.3": 192}


DYNAMIC = """
from torch import nn

class Dyn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) if x.mean() > 0.5 else 2 * self.conv(x)
"""


@pytest.mark.parametrize(
    "backbone, layers, message",
    [
        ("vit_b_16", "encoder", "torchvision's vit_b_16 takes pictures of exactly its own size"),
        ("DYN:Dyn", "conv", "Dyn's forward cannot be traced by torch.fx"),
    ],
)
def test_a_network_that_cannot_dream_is_refused_in_one_line(tmp_path, capsys, backbone, layers, message):
    (tmp_path / "dyn.py").write_text(DYNAMIC)
    backbone = backbone.replace("DYN", str(tmp_path / "dyn.py"))
    args = ["fit", "--config", "quickstart", "--data.output", str(tmp_path / "out"), *QUIET]
    assert main([*args, "--model.backbone", backbone, "--model.weights", "null", "--model.layers", layers]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_a_grey_network_of_one_size_dreams_any_photo_grey_through_its_input(tmp_path, nets, photo, capsys):
    """A network whose first convolution takes one channel sees the mean of the colours, at its own
    28 px (``model.input.size``): the colour photo is dreamed, written as a grey PNG, with a note."""
    from PIL import Image

    args = ["fit", "--config", "quickstart", "--model.backbone", f"{nets}:Digits", "--model.weights", "null"]
    args += ["--model.objective", "class 3", "--data.images", str(photo), "--data.output", str(tmp_path / "out")]
    args += [*QUIET, "--octaves.count", "2", "--octaves.iterations", "3"]
    assert main(args) == 2  # it cannot run a 512 px picture: one line
    assert "cannot run a 512×512 picture" in capsys.readouterr().err
    assert main([*args, "--model.input.size", "28"]) == 0
    assert "sees one channel: pictures are dreamed and written grey" in capsys.readouterr().out
    with Image.open(tmp_path / "out" / photo.name) as dream, Image.open(photo) as original:
        assert dream.mode == "L"
        assert dream.size == original.size
        before = torch.tensor(list(original.convert("RGB").getdata()), dtype=torch.float32).mean(dim=1)
        after = torch.tensor(list(dream.getdata()), dtype=torch.float32)
    assert (after - before).abs().mean() > 1  # it dreamed: the picture changed beyond the grey conversion
    network = build_network(f"{nets}:Digits", None, Input(size=28))
    assert (network.channels, network.size) == (1, 28)
    assert network.mean == pytest.approx((0.449,))  # ImageNet's means, averaged over the colours


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model.input.channels", "2"], "model.input.channels: 1 (grey) or 3 (colour), got 2"),
        (["--model.input.mean", "[0.5, 0.5]"], "model.input.mean: one number per channel the network takes (1)"),
        (["--model.input.size", "4"], "model.input.size must be at least 8 px, got 4"),
    ],
)
def test_a_bad_input_convention_is_one_line_before_any_work(tmp_path, nets, photo, capsys, options, message):
    args = ["fit", "--config", "quickstart", "--model.backbone", f"{nets}:Digits", "--model.weights", "null"]
    args += ["--data.images", str(photo), "--data.output", str(tmp_path / "out"), *QUIET, *options]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


TWO_OUTPUTS = textwrap.dedent(
    """
    from torch import nn


    class Two(nn.Module):  # class scores first, a map computed after them
        def __init__(self):
            super().__init__()
            self.body, self.head, self.extra = nn.Conv2d(3, 8, 3), nn.Linear(8, 4), nn.Conv2d(8, 2, 1)

        def forward(self, x):
            features = self.body(x)
            return self.head(features.mean((2, 3))), self.extra(features)


    class Named(Two):
        def forward(self, x):
            scores, extra = super().forward(x)
            return {"scores": scores, "map": extra}
    """
)


def test_class_terms_climb_the_first_tensor_forward_returns_and_a_mapping_is_one_line(tmp_path, capsys):
    nets = tmp_path / "two.py"
    nets.write_text(TWO_OUTPUTS)
    assert build_network(f"{nets}:Two", None).output == "head"  # not "extra", the node traced last
    photo = make_photo(tmp_path / "p.png", size=(48, 48))
    args = ["fit", "--config", "quickstart", "--data.images", str(photo), "--model.weights", "null", *QUIET]
    args += ["--model.objective", "class 1", "--octaves.count", "1", "--octaves.iterations", "2"]
    assert main([*args, "--model.backbone", f"{nets}:Two", "--data.output", str(tmp_path / "a")]) == 0
    assert main([*args, "--model.backbone", f"{nets}:Named", "--data.output", str(tmp_path / "b")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "Named's forward returns a mapping (scores, map)" in lines[0]


def test_timm_weights_that_are_not_here_offline_are_one_line_at_once(tmp_path, monkeypatch):
    import timm
    import torch

    import dreamer.engine.networks.network as network
    from dreamer.errors import WeightsNotFoundError

    def never(*args, **kwargs):
        raise AssertionError("timm was asked to download")

    monkeypatch.setattr(network, "hub_reachable", lambda: False)
    monkeypatch.setattr(timm, "create_model", never)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *args, **kwargs: None)
    with pytest.raises(WeightsNotFoundError, match="timm:resnet18 are not on this machine"):
        build_network("timm:resnet18")
    checkpoint = tmp_path / "hub" / "checkpoints" / "resnet18_a1_0-d63eafa0.pth"  # where timm's url puts them
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")
    assert network.timm_weights_here("resnet18")
    with pytest.raises(WeightsNotFoundError, match=r"could not be downloaded \(AssertionError\)"):
        build_network("timm:resnet18")  # here: timm is asked to load them
