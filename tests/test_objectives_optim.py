import pytest
import torch

from dreamer.engine.climb.objectives import activation_objective
from dreamer.engine.optim import NormalizedGD


def test_mean_square_and_mean_values():
    act = torch.tensor([[[[1.0, -3.0]], [[2.0, 2.0]]]])  # [1, 2, 1, 2]
    assert activation_objective(act, kind="mean_square").item() == pytest.approx((1 + 9 + 4 + 4) / 4)
    assert activation_objective(act, kind="mean").item() == pytest.approx((1 - 3 + 2 + 2) / 4)


def test_channels_restrict_the_objective():
    act = torch.zeros(1, 4, 3, 3)
    act[:, 2] = 5.0
    assert activation_objective(act, channels=[2]).item() == pytest.approx(25.0)
    assert activation_objective(act, channels=[0, 1]).item() == 0.0
    with pytest.raises(ValueError, match="out of range"):
        activation_objective(act, channels=[4])


def test_objective_is_per_image():
    act = torch.stack([torch.ones(2, 2, 2), 2 * torch.ones(2, 2, 2)])
    assert activation_objective(act).tolist() == [1.0, 4.0]


def test_normalized_gd_moves_each_image_by_lr_on_average():
    image = torch.nn.Parameter(torch.zeros(2, 3, 4, 4))
    image.grad = torch.randn(2, 3, 4, 4) * torch.tensor([1.0, 1000.0]).view(2, 1, 1, 1)
    NormalizedGD([image], lr=0.1).step()
    moved = image.detach().abs().flatten(1).mean(dim=1)
    assert torch.allclose(moved, torch.tensor([0.1, 0.1]), rtol=1e-4)
    assert torch.all(torch.sign(image.detach()) == -torch.sign(image.grad))


def test_normalized_gd_takes_full_steps_for_tiny_gradients_and_none_for_zero():
    image = torch.nn.Parameter(torch.zeros(2, 3, 4, 4))
    image.grad = torch.randn(2, 3, 4, 4) * torch.tensor([1e-12, 0.0]).view(2, 1, 1, 1)
    NormalizedGD([image], lr=0.1).step()
    moved = image.detach().abs().flatten(1).mean(dim=1)
    assert moved[0].item() == pytest.approx(0.1, rel=1e-4)
    assert moved[1].item() == 0.0
