"""Masks that say where a dream may act: read from an image, at a dream's size, with a soft edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dreamer.errors import ConfigError, ImageError
from dreamer.files.imageio import open_photo


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """``float32 [H, W]`` in [0, 1] at ``size = (height, width)``: the image's alpha channel where it
    has one, else its brightness (white: dream, black: keep the source).

    Raises:
        ConfigError: the file is not a readable image (one line naming it).
    """
    try:
        image, alpha = open_photo(path)
    except ImageError as error:
        raise ConfigError(f"data.mask: {error}") from None
    grey = alpha if alpha is not None else image.convert("L")
    if (grey.height, grey.width) != size:
        grey = grey.resize(size[::-1], Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255


def feathered(mask: np.ndarray, feather: float) -> np.ndarray:
    """``mask`` with a soft edge: a Gaussian blur of σ = ``feather`` px (0: as it is)."""
    if feather <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), feather, borderType=cv2.BORDER_REFLECT_101)


def check_feather(feather: float) -> None:
    if feather < 0:
        raise ConfigError(f"data.mask_feather must be >= 0 px, got {feather}")


def check_mask(mask: str) -> Path:
    """The mask's path, if it names an existing file (else one line saying so)."""
    path = Path(mask).expanduser()
    if not path.is_file():
        raise ConfigError(f"data.mask: {path}: file not found")
    return path
