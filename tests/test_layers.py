"""``dreamer layers``: every layer a network can be dreamed at, by the names ``model.layers`` takes."""

from __future__ import annotations

import textwrap

import torch

from dreamer.cli import main


def lines_of(capsys, *args: str) -> list[str]:
    assert main(["layers", *args]) == 0
    return [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]


def test_each_call_of_a_module_is_a_layer_named_in_call_order_with_its_type_shape_and_channels(capsys):
    lines = lines_of(capsys, "--model.backbone", "resnet50")
    assert lines[0] == "resnet50: 199 layers, output shapes for a 224×224 picture"
    assert "layer1.0.relu ReLU [1, 64, 56, 56] 64" in lines
    assert "layer1.0.relu_2 ReLU [1, 256, 56, 56] 256" in lines  # the Bottleneck's one relu, called a third time
    assert "layer4.2.add add [1, 2048, 7, 7] 2048" in lines
    assert "fc Linear [1, 1000] 1000" in lines
    assert "layer3.2 Bottleneck [1, 1024, 14, 14] 1024" in lines  # a block: its last node's output


def test_a_presets_network_is_listed_with_its_integer_shortcuts(capsys):
    lines = lines_of(capsys, "--config", "quickstart")
    assert lines[0].startswith("mobilenet_v2: ")
    assert "features.11 (11) InvertedResidual [1, 96, 14, 14] 96" in lines


def test_your_own_network_is_listed_from_its_file(tmp_path, capsys):
    nets = tmp_path / "nets.py"
    nets.write_text(
        textwrap.dedent(
            """
            from torch import nn

            class Tiny(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.act = nn.ReLU()  # one module object, called from two places
                    self.one, self.two = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 6, 3)

                def forward(self, x):
                    return self.act(self.two(self.act(self.one(x))))
            """
        )
    )
    lines = lines_of(capsys, "--model.backbone", f"{nets}:Tiny", "--model.weights", "absent.pth")
    assert lines[0] == f"{nets}:Tiny: 4 layers, output shapes for a 224×224 picture"
    assert "act ReLU [1, 4, 222, 222] 4" in lines
    assert "act_1 ReLU [1, 6, 220, 220] 6" in lines
    assert lines[-1] == "(names and shapes do not depend on the weights: absent.pth was not read)"


def test_a_misspelled_network_is_one_line_with_the_closest_names(capsys):
    assert main(["layers", "--model.backbone", "resnt50"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "Unknown backbone 'resnt50'; closest: resnet50" in error[0]


SHARED = textwrap.dedent(
    """
    from torch import nn

    class Block(nn.Module):
        def __init__(self, act):
            super().__init__()
            self.conv, self.act = nn.Conv2d(4, 4, 3, padding=1), act

        def forward(self, x):
            return self.act(self.conv(x))

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            act = nn.ReLU()  # one module object, registered in every block
            self.stem = nn.Conv2d(3, 4, 3, padding=1)
            self.body = nn.Sequential(Block(act), Block(act), Block(act))

        def forward(self, x):
            return self.body(self.stem(x))
    """
)


def test_a_module_shared_by_every_block_is_named_by_the_block_that_calls_it_and_dreams_there(tmp_path, capsys):
    from dreamer.engine.climb.objective import DreamObjective
    from dreamer.engine.networks.network import build_network

    (tmp_path / "shared.py").write_text(SHARED)
    backbone = f"{tmp_path / 'shared.py'}:Shared"
    lines = lines_of(capsys, "--model.backbone", backbone)
    assert [line.split()[0] for line in lines if ".act" in line] == ["body.0.act", "body.1.act", "body.2.act"]
    objective = DreamObjective(build_network(backbone, None), "body.2.act", None, "mean_square")
    images = torch.rand(1, 3, 32, 32, requires_grad=True)
    activations = objective.extractor(images, ("body.2.act",))["body.2.act"]
    network = objective.extractor.graphs[0]
    assert activations.shape == (1, 4, 32, 32)
    assert "body.2.act" in [str(node.target) for node in network.graph.nodes if node.op == "call_module"]
