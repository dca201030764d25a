"""Pure motion maths: flow, warping, occlusion masks, zoom steps, warping error."""

import numpy as np

from dreamer.motion.warp import carry_over, consistent, dis_flow, warp, warping_error, zoom_step
from tests.videos import texture


def test_warp_of_a_known_translation_is_exact_away_from_the_borders():
    image = texture(60, 80).astype(np.float32) / 255
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # each pixel p of the result shows image[p + (3, -2)]
    warped = warp(image, flow)
    np.testing.assert_allclose(warped[2:, :-3], image[:-2, 3:], atol=1e-6)


def test_dis_flow_finds_a_translation_and_warping_undoes_it():
    world = texture(80, 120)
    before, after = world[:, 10:90], world[:, 14:94]  # the camera moved 4 px right: content moves left
    backward = dis_flow(after, before)  # after → before: a pixel of `after` was 4 px further right in `before`
    inner = (slice(10, -10), slice(10, -10))
    assert abs(float(np.median(backward[inner][..., 0])) - 4.0) < 0.25
    assert abs(float(np.median(backward[inner][..., 1]))) < 0.25
    error = np.abs(warp(before.astype(np.float32), backward) - after.astype(np.float32))[inner].mean()
    assert error < 3.0  # out of 255


def test_occlusion_mask_marks_exactly_what_a_moving_square_uncovers():
    height, width, left, side, step = 40, 60, 20, 10, 4
    # A square moves 4 px right over a still background between frame t−1 and t.
    backward = np.zeros((height, width, 2), np.float32)  # t → t−1
    backward[10:20, left + step : left + step + side, 0] = -step
    forward = np.zeros((height, width, 2), np.float32)  # t−1 → t
    forward[10:20, left : left + side, 0] = step
    valid = consistent(backward, forward)
    expected = np.ones((height, width), bool)
    expected[10:20, left : left + step] = False  # background the square uncovered: not in frame t−1
    np.testing.assert_array_equal(valid, expected)


def test_pixels_entering_the_frame_are_not_valid():
    backward = np.zeros((20, 30, 2), np.float32)
    backward[..., 0] = 5.0  # everything was 5 px further right: the right 5 columns came from outside
    valid = consistent(backward, -backward)
    assert valid[:, :25].all()
    assert not valid[:, 26:].any()


def test_carry_over_blends_where_valid_and_takes_the_frame_where_not():
    frame = np.full((10, 12, 3), 0.2, np.float32)
    previous = np.full((10, 12, 3), 1.0, np.float32)
    valid = np.ones((10, 12), bool)
    valid[:, :4] = False
    start = carry_over(previous, frame, np.zeros((10, 12, 2), np.float32), 0.75 * valid.astype(np.float32))
    np.testing.assert_allclose(start[:, 4:], 0.25 * 0.2 + 0.75 * 1.0, atol=1e-6)
    np.testing.assert_allclose(start[:, :4], 0.2, atol=1e-6)


def test_warping_error_is_zero_for_a_perfectly_carried_dream_and_counts_only_valid_pixels():
    dream = texture(30, 40).astype(np.float32)
    flow = np.zeros((30, 40, 2), np.float32)
    valid = np.ones((30, 40), bool)
    assert warping_error(dream, dream, flow, valid) == 0.0
    other = dream.copy()
    other[:, :10] += 50
    valid[:, :10] = False
    assert warping_error(other, dream, flow, valid) == 0.0
    valid[:, :10] = True
    assert abs(warping_error(other, dream, flow, valid) - 50 * 10 / 40) < 1e-3


def test_zoom_step_zooms_about_the_centre_and_lets_no_black_border_in():
    image = np.zeros((41, 41, 3), np.float32)
    image[20, 20] = 1.0
    image[20, 30] = 1.0  # 10 px right of the centre
    zoomed = zoom_step(image, 2.0)
    assert zoomed[20, 20].max() == 1.0  # the centre stays
    assert zoomed[20, 40].max() > 0.9  # the other point doubled its distance
    bright = np.full((50, 70, 3), 0.8, np.float32)
    for moved in (zoom_step(bright, 1.0, rotate=10), zoom_step(bright, 1.0, translate=(6, -4)), zoom_step(bright, 0.9)):
        np.testing.assert_allclose(moved, 0.8, atol=1e-5)  # edges mirrored in, never black
