"""Pure functions that carry a picture from one frame to the next: optical flow, warping, occlusion, zoom.

Frames are ``numpy`` arrays ``[H, W, 3]`` (``uint8`` or ``float32``); flows are ``float32``
``[H, W, 2]`` holding ``(dx, dy)``. A flow ``F`` *from* frame a *to* frame b says that the pixel
at ``p`` in a is at ``p + F(p)`` in b. Warping is backward: ``warp(image_b, F_a→b)`` samples
``image_b`` at ``p + F(p)`` and so shows b's content on a's pixel grid.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

# Forward–backward consistency (Sundaram, Brox & Keutzer 2010, as used for video style transfer):
# a pixel is occluded when following the flow there and back misses it by more than this.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        frame = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


_estimators = threading.local()  # one DIS instance per thread: made once, not per frame pair


def dis_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dense flow ``[H, W, 2]`` from ``source`` to ``target`` (RGB frames of one size) with OpenCV's
    DIS optical flow (medium preset): no weights, about 4 ms for a 256×170 pair on a CPU core."""
    dis = getattr(_estimators, "dis", None)
    if dis is None:
        dis = _estimators.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
    return dis.calc(_grey(source), _grey(target), None)


def motion(picture: np.ndarray, earlier: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The flow ``picture`` → ``earlier`` and where it holds (``consistent``), both at ``picture``'s
    size, found on the two frames scaled to a long side of ``side`` px (never up): the work falls with
    the square of the scale, and a camera's motion is smooth at a few pixels."""
    height, width = picture.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small, small_earlier = (
        (cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in (picture, earlier))
        if scale < 1.0
        else (picture, earlier)
    )
    backward = dis_flow(small, small_earlier)
    valid = consistent(backward, dis_flow(small_earlier, small))
    if scale == 1.0:
        return backward, valid
    full = cv2.resize(backward, (width, height), interpolation=cv2.INTER_LINEAR)
    full *= np.array([width / size[0], height / size[1]], dtype=np.float32)
    held = cv2.resize(valid.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return full, held.astype(bool)


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The absolute sampling positions ``(x + dx, y + dy)`` of ``flow``, as ``cv2.remap`` maps."""
    height, width = flow.shape[:2]
    x, y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return x + flow[..., 0], y + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``p + flow(p)`` (bilinear; positions outside repeat the edge)."""
    map_x, map_y = sample_grid(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Boolean ``[H, W]``: where frame t's pixels are seen in frame t−1 too.

    ``backward`` is the flow t→t−1, ``forward`` t−1→t. Following ``backward`` and then ``forward``
    must come back to the start; where it does not, the pixel was hidden in t−1 (disoccluded) or the
    flow is wrong, and where ``backward`` points outside the frame the pixel entered the picture.
    """
    map_x, map_y = sample_grid(backward)
    forward_there = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    miss = np.square(backward + forward_there).sum(-1)
    scale = np.square(backward).sum(-1) + np.square(forward_there).sum(-1)
    height, width = backward.shape[:2]
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return (miss <= CONSISTENCY_RELATIVE * scale + CONSISTENCY_ABSOLUTE) & inside


def carry_over(previous_dream: np.ndarray, frame: np.ndarray, backward: np.ndarray, carried: np.ndarray) -> np.ndarray:
    """The start of frame t's dream: ``(1 − carried)·frame + carried·warp(previous_dream)``, per pixel
    (``carried`` is 0 where the pixel was hidden before: there is no dream to carry). ``float32`` [0, 1]."""
    warped = warp(previous_dream, backward)
    weight = carried[..., None]
    return ((1 - weight) * frame + weight * warped).astype(np.float32)


def warping_error(dream: np.ndarray, previous_dream: np.ndarray, backward: np.ndarray, valid: np.ndarray) -> float:
    """Mean ``|dream_t − warp(dream_{t−1})|`` over the pixels ``valid`` in both frames (same units as
    the frames): how much a video flickers beyond what the motion explains."""
    difference = np.abs(dream.astype(np.float32) - warp(previous_dream, backward).astype(np.float32)).mean(-1)
    return float(difference[valid].mean()) if valid.any() else 0.0


def zoom_matrix(height: int, width: int, zoom: float, rotate: float, translate: Sequence[float]) -> np.ndarray:
    """The ``2×3`` affine map of one zoom step: scale by ``zoom`` and turn by ``rotate`` degrees
    (counter-clockwise) about the centre, then shift by ``translate = (dx, dy)`` px."""
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), rotate, zoom)
    matrix[:, 2] += np.asarray(translate, dtype=np.float64)
    return matrix


def zoom_step(
    image: np.ndarray, zoom: float, rotate: float = 0.0, translate: Sequence[float] = (0.0, 0.0)
) -> np.ndarray:
    """``image`` moved by one zoom step. Where the moved picture leaves the frame uncovered (a turn, a
    shift, a zoom out), the picture's own edge is mirrored in, so no black border creeps in."""
    height, width = image.shape[:2]
    matrix = zoom_matrix(height, width, zoom, rotate, translate)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def mean_warping_error(dreams: Iterable[np.ndarray], sources: Iterable[np.ndarray]) -> float:
    """The mean warping error of a dreamed video over all its frame pairs, with the optical flow and
    occlusions of its ``sources`` (the frames it was dreamed from, at the dreams' size)."""
    errors, previous = [], None
    for dream, source in zip(dreams, sources):
        if previous is not None:
            backward = dis_flow(source, previous[1])
            valid = consistent(backward, dis_flow(previous[1], source))
            errors.append(warping_error(dream, previous[0], backward, valid))
        previous = (dream, source)
    return float(np.mean(errors)) if errors else 0.0
