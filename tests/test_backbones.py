import urllib.error

import pytest
import torch
import torchvision

from dreamer.engine.networks.backbones import (
    BACKBONES,
    build_backbone,
    hub_checkpoint_path,
    node_name,
    resolve_state_dict,
    shipped_checkpoint_path,
)
from dreamer.engine.networks.extractor import IMAGENET_MEAN, IMAGENET_STD, LayerExtractor
from dreamer.errors import WeightsNotFoundError


@pytest.fixture(scope="module")
def vgg():
    return build_backbone("vgg16", weights=None)


@pytest.fixture(scope="module")
def vgg_extractor(vgg):
    return LayerExtractor(vgg, [("features.6",), ("features.30",)])


def test_vgg_index_i_is_features_i(vgg, vgg_extractor):
    assert node_name("vgg16", 6) == "features.6"
    assert node_name("vgg16", "30") == "features.30"
    images = torch.rand(1, 3, 64, 64)
    normalised = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    expected = vgg.features[:7](normalised)
    got = vgg_extractor(images, ["features.6"])["features.6"]
    assert torch.allclose(got, expected, atol=1e-6)


def test_extractor_truncates_after_the_deepest_layer(vgg, vgg_extractor):
    calls = []
    hooks = [vgg.features[i].register_forward_hook(lambda *_, i=i: calls.append(i)) for i in (6, 7, 30)]
    hooks.append(vgg.classifier.register_forward_hook(lambda *_: calls.append("classifier")))
    vgg_extractor(torch.rand(1, 3, 64, 64), ["features.6"])
    for hook in hooks:
        hook.remove()
    assert calls == [6]


def test_min_input_size_of_the_last_vgg_pool(vgg_extractor):
    assert vgg_extractor.min_input_size(("features.30",)) == 32
    assert vgg_extractor.min_input_size(("features.6",)) <= 4


@pytest.mark.parametrize(
    "backbone, layer", [("vgg16", "features.22"), ("inception_v3", "Mixed_5b"), ("resnet50", "layer2")]
)
def test_min_input_size_agrees_with_real_forwards(backbone, layer):
    """Meta-device shape propagation gives the side where real forwards start to give an activation
    covering at least a pixel (Inception v3's unpadded stem fails to run below its answer)."""
    extractor = LayerExtractor(build_backbone(backbone, weights=None), [(layer,)])
    side = extractor.min_input_size((layer,))

    def real_side(size: int) -> int:
        try:
            with torch.no_grad():
                return min(extractor(torch.rand(1, 3, size, size), [layer])[layer].shape[-2:])
        except RuntimeError:
            return 0

    stride = -(-512 // real_side(512))
    assert real_side(side) >= 1
    assert side >= stride
    assert side == stride or real_side(side - 1) == 0


def test_googlenet_has_no_numbered_layers():
    with pytest.raises(ValueError, match="no numbered layers"):
        node_name("googlenet", 3)


def test_unknown_layer_is_a_clear_error_with_the_closest_names(vgg):
    with pytest.raises(ValueError, match="has no layer 'features.99'") as error:
        LayerExtractor(vgg, [("features.99",)])
    closest = str(error.value).split("closest: ")[1].split(")")[0].split(", ")
    assert closest[0] == "features.9"
    assert "x" not in closest  # the input is no layer to dream
    with pytest.raises(ValueError, match=r"closest: classifier\b"):
        LayerExtractor(vgg, [("clasifier",)])
    LayerExtractor(vgg, [("features.29", "classifier")])  # module paths are fine


def test_extractor_keeps_only_the_modules_its_layers_reach(vgg):
    extractor = LayerExtractor(vgg, [("features.6",), ("features.6", "features.8")])
    kept = sum(p.numel() for p in extractor.parameters())
    assert kept == sum(p.numel() for p in vgg.features[:9].parameters())
    with pytest.raises(ValueError, match="not among"):
        extractor(torch.rand(1, 3, 32, 32), ["features.29"])


def test_missing_weights_offline_names_file_place_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.models.VGG16_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(WeightsNotFoundError) as raised:
        build_backbone("vgg16", "imagenet")
    message = str(raised.value)
    assert "vgg16-397923af.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "dreamer weights fetch vgg16 --dest <folder>" in message
    assert "--model.weights" in message


def test_local_weights_file_is_used(tmp_path):
    reference = torchvision.models.mobilenet_v2(weights=None)
    torch.save(reference.state_dict(), tmp_path / "mine.pth")
    model = build_backbone("mobilenet_v2", str(tmp_path / "mine.pth"))
    assert torch.equal(model.features[0][0].weight, reference.features[0][0].weight)
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        build_backbone("mobilenet_v2", str(tmp_path / "missing.pth"))
    with pytest.raises(
        ValueError, match=r"mine.pth does not fit resnet50: missing conv1.weight, bn1.weight, .* …; unexpected features"
    ):
        build_backbone("resnet50", str(tmp_path / "mine.pth"))
    from safetensors.torch import save_file

    save_file(reference.state_dict(), str(tmp_path / "mine.safetensors"))  # a torchvision network takes any format
    from_safetensors = build_backbone("mobilenet_v2", str(tmp_path / "mine.safetensors"))
    assert torch.equal(from_safetensors.features[0][0].weight, reference.features[0][0].weight)


def test_hub_cache_is_searched_first(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = {"w": torch.ones(1)}
    hub_checkpoint_path("vgg16").parent.mkdir(parents=True)
    torch.save(state, hub_checkpoint_path("vgg16"))
    assert torch.equal(resolve_state_dict("vgg16", "imagenet")["w"], state["w"])


def test_mobilenet_weights_shipped_by_an_installed_package():
    path = shipped_checkpoint_path("mobilenet_v2")
    assert path is not None
    assert path.name == BACKBONES["mobilenet_v2"].filename
    model = build_backbone("mobilenet_v2", "imagenet")
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training


@pytest.mark.parametrize(
    "name, layer", [("googlenet", "inception4c"), ("inception_v3", "Mixed_5d"), ("resnet50", "layer2")]
)
def test_every_backbone_builds_and_extracts(name, layer):
    extractor = LayerExtractor(build_backbone(name, weights=None), [(layer,)])
    out = extractor(torch.rand(1, 3, 96, 96), [layer])[layer]
    assert out.dim() == 4
    assert out.shape[0] == 1
