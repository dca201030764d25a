"""Reading photos into tensors and writing dreams without ever leaving a half-written file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Optional

import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

from dreamer.errors import ConfigError, ImageError
from dreamer.files.outputs import atomic_path
from dreamer.files.recipes import save_options

IMAGE_SUFFIXES = {suffix for suffix, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}


def _decode_error(path: Path, error: Exception) -> ImageError:
    if isinstance(error, FileNotFoundError):
        return ImageError(f"{path}: file not found")
    if isinstance(error, PermissionError):
        return ImageError(f"{path}: permission denied")
    if isinstance(error, Image.DecompressionBombError):
        return ImageError(f"{path}: refused, too many pixels ({error})")
    if isinstance(error, OSError) and "truncated" in str(error):
        return ImageError(f"{path}: truncated file ({error})")
    return ImageError(f"{path}: not a readable image ({type(error).__name__}: {error})")


def open_photo(path: Path) -> tuple[Image.Image, Optional[Image.Image]]:
    """Decode ``path`` as an upright RGB image and its alpha channel, if it has one.

    EXIF orientation is applied, animations give their first frame, 16-bit grey is rescaled
    (not clipped), palette transparency becomes alpha. Any failure is an ``ImageError`` naming the file.
    """
    try:
        with Image.open(path) as opened:
            opened.seek(0)
            opened.load()
            return upright(opened)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise _decode_error(path, error) from None


def upright(picture: Image.Image) -> tuple[Image.Image, Optional[Image.Image]]:
    """A decoded picture as ``open_photo`` gives it: upright RGB and its alpha channel, if any."""
    image: Image.Image = ImageOps.exif_transpose(picture)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") else None
    return image.convert("RGB"), alpha


def to_tensor(image: Image.Image) -> Tensor:
    """PIL RGB → float ``[3, H, W]`` in [0, 1]."""
    return pil_to_tensor(image).float().div_(255)


def to_bytes(pixels: Tensor) -> Tensor:
    """Float ``[..., 3, H, W]`` in [0, 1] → 8-bit values on the CPU (rounded, not truncated); always a copy."""
    return pixels.detach().float().clamp(0, 1).mul(255).round().to(device="cpu", dtype=torch.uint8, copy=True)


def to_image(pixels: Tensor) -> Image.Image:
    """Float ``[3, H, W]`` in [0, 1] → 8-bit RGB PIL image (rounded, not truncated)."""
    return to_pil_image(to_bytes(pixels))


def atomic_write_bytes(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place:
    a killed process leaves either the old state or the whole new file, never a partial one."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        write(handle)


def save_image(image: Image.Image, path: Path, png_level: int = 6, recipe: Optional[str] = None) -> None:
    """Save atomically in the format the suffix asks for (PNG, JPEG, WebP, TIFF …), with ``recipe``
    inside where the format has room (``files.recipes``); ``png_level`` is zlib's effort for PNG (1:
    several times faster, files about a fifth larger)."""
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        raise ConfigError(f"{path}: cannot write images with suffix {path.suffix!r}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {"compress_level": png_level} if fmt == "PNG" else {}
    options.update(save_options(fmt, recipe))
    atomic_write_bytes(path, lambda handle: image.save(handle, format=fmt, **options))


def with_recipe(path: Path, recipe: str) -> None:
    """Write ``path`` (a picture) again, the same pixels, with ``recipe`` inside instead of its own."""
    with Image.open(path) as picture:
        picture.load()
        save_image(picture, path, recipe=recipe)


def save_text(text: str, path: Path) -> None:
    atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))
