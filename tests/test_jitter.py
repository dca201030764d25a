"""Jitter beyond rolls: identity when off, exact adjoint on the gradient, per-image streams."""

import pytest
import torch

from dreamer.engine.contract.batch import DreamBatch
from dreamer.engine.image.jitter import Jitter, random_affine
from dreamer.engine.optim import NormalizedGD
from dreamer.errors import ConfigError
from tests.conftest import tiny_model


def generators(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def test_nothing_to_do_returns_the_images_themselves():
    images = torch.rand(2, 3, 20, 30)
    assert random_affine(images, generators(0, 1)) is images


def test_a_flip_is_undone_on_the_gradient():
    """With flips only, the transform is an exact mirror half of the time (else the identity), and
    autograd mirrors the gradient back."""
    outcomes = []
    for seed in range(16):
        images = torch.rand(1, 3, 16, 24, requires_grad=True)
        weights = torch.rand(1, 3, 16, 24)
        flipped = random_affine(images, generators(seed), flip=True)
        (flipped * weights).sum().backward()
        # grid_sample's pixel centres carry float rounding (~1e-6); a wrong transform is off by ~0.3
        mirrored = torch.allclose(flipped.detach(), images.detach().flip(-1), atol=1e-4)
        assert mirrored or torch.allclose(flipped, images, atol=1e-4)
        assert torch.allclose(images.grad, weights.flip(-1) if mirrored else weights, atol=1e-4)
        outcomes.append(mirrored)
    assert 4 <= sum(outcomes) <= 12, outcomes  # flips happen, and not always


def test_rotations_are_small_and_each_image_has_its_own():
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 96), indexing="ij")
    smooth = torch.stack([x, y, (x + y) / 2])  # a photo-like smooth picture, not pixel noise
    images = smooth.expand(2, -1, -1, -1).contiguous()
    turned = random_affine(images, generators(3, 4), rotate=5.0, scale=0.05)
    assert not torch.allclose(turned[0], turned[1])  # different streams, different transforms
    alone = random_affine(images[:1], generators(3), rotate=5.0, scale=0.05)
    assert torch.allclose(alone, turned[:1], atol=1e-6)  # independent of batch mates
    assert (turned - images).abs().mean() < 0.05  # a small change, not a different picture


def test_dreams_with_rotation_and_flip_jitter_still_ascend():
    jitter = Jitter(roll=4, rotate=8.0, scale=0.05, flip=True)
    model = tiny_model(jitter=jitter)
    image = torch.nn.Parameter(torch.rand(1, 3, 64, 80))
    optimizer = NormalizedGD([image], lr=0.02)
    batch = DreamBatch(None, names=["a"], seeds=[0])
    generators = [torch.Generator().manual_seed(0)]
    first = None
    for _ in range(6):
        objective = model.objective(jitter(image, generators), batch).sum()
        first = first if first is not None else objective.item()
        optimizer.zero_grad()
        (-objective).backward()
        optimizer.step()
        image.data.clamp_(0, 1)
    assert model.objective(image, batch).item() > first


def test_jitter_settings_out_of_range_are_refused():
    with pytest.raises(ConfigError, match="jitter.roll must be >= 0"):
        Jitter(roll=-1)
    with pytest.raises(ConfigError, match="scale within"):
        Jitter(scale=1.0)
