import pytest
import torch

from dreamer.engine.image.pyramid import (
    blend_octave,
    blur,
    gaussian_pyramid,
    gaussian_resize,
    laplacian_merge,
    laplacian_normalize,
    laplacian_split,
    normalized_bands,
    octave_sizes,
)


def test_octave_sizes_smallest_first_ending_at_input():
    sizes = octave_sizes(512, 384, octaves=4, scale=2.0)
    assert sizes == [(64, 48), (128, 96), (256, 192), (512, 384)]


def test_octave_sizes_seed_defaults_reach_a_few_pixels():
    sizes = octave_sizes(512, 512, octaves=8, scale=1.8)
    assert len(sizes) == 8
    assert sizes[-1] == (512, 512)
    assert sizes[0] == (round(512 / 1.8**7),) * 2 == (8, 8)
    assert all(a[0] < b[0] for a, b in zip(sizes, sizes[1:]))


@pytest.mark.parametrize("octaves, scale", [(0, 1.4), (3, 1.0), (3, 0.5)])
def test_octave_sizes_rejects_bad_settings(octaves, scale):
    with pytest.raises(ValueError):
        octave_sizes(100, 100, octaves, scale)


def test_gaussian_resize_removes_aliasing_of_fine_stripes():
    stripes = torch.zeros(1, 1, 64, 64)
    stripes[..., ::2] = 1.0  # 1-px stripes cannot be represented at half size
    small = gaussian_resize(stripes, (16, 16))
    assert small.shape == (1, 1, 16, 16)
    assert small.std() < 0.05
    assert abs(small.mean() - 0.5) < 0.05


def test_pyramid_levels_have_their_sizes():
    levels = gaussian_pyramid(torch.rand(2, 3, 50, 40), [(10, 8), (25, 20), (50, 40)])
    assert [tuple(level.shape[-2:]) for level in levels] == [(10, 8), (25, 20), (50, 40)]


def test_alpha_zero_restarts_from_the_original_and_one_keeps_the_dream():
    original_before, original_next = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16)
    dream = torch.rand(1, 3, 8, 8)
    assert torch.equal(blend_octave(dream, original_before, original_next, alpha=0.0), original_next)
    upscaled = torch.nn.functional.interpolate(dream, size=(16, 16), mode="bilinear", align_corners=False)
    assert torch.allclose(blend_octave(dream, original_before, original_next, alpha=1.0), upscaled)
    half = blend_octave(dream, original_before, original_next, alpha=0.5)
    assert torch.allclose(half, 0.5 * original_next + 0.5 * upscaled)


def test_detail_blend_carries_only_the_added_detail():
    original_before = torch.full((1, 3, 8, 8), 0.3)
    original_next = torch.rand(1, 3, 16, 16) * 0.5
    dream = original_before + 0.2  # the dream added a constant 0.2
    out = blend_octave(dream, original_before, original_next, alpha=0.0, blend="detail")
    assert torch.allclose(out, original_next + 0.2, atol=1e-6)


def test_blur_smooths_and_zero_sigma_is_identity():
    noise = torch.rand(1, 3, 32, 32)
    assert torch.equal(blur(noise, 0.0), noise)
    assert blur(noise, 2.0).std() < 0.5 * noise.std()


def test_laplacian_split_and_merge_reconstruct_exactly():
    images = torch.rand(2, 3, 57, 83)
    bands = laplacian_split(images, 4)
    assert [tuple(b.shape[-2:]) for b in bands] == [(57, 83), (29, 42), (15, 21), (8, 11)]
    assert torch.allclose(laplacian_merge(bands), images, atol=1e-6)
    assert len(laplacian_split(torch.rand(1, 3, 8, 8), 6)) == 3  # 8², 4², then a 2² rest: no tinier bands


def test_laplacian_normalisation_gives_unit_std_per_band_and_keeps_the_shape():
    gradient = torch.randn(2, 3, 64, 96) * torch.tensor([1e-9, 5.0]).view(2, 1, 1, 1)  # wildly different scales
    gradient += blur(torch.randn(2, 3, 64, 96), 6.0) * 100  # a strong coarse component
    for band in normalized_bands(gradient, 4):
        assert torch.allclose(band.std(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
    normalised = laplacian_normalize(gradient, 4)
    assert normalised.shape == gradient.shape
    assert torch.isfinite(normalised).all()
    # each image on its own: the result for image 0 does not depend on image 1
    assert torch.allclose(laplacian_normalize(gradient[:1], 4), normalised[:1], atol=1e-5)
