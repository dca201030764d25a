"""Reading photos into tensors and writing dreams without ever leaving a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageOps
from torch import Tensor
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

from dreamer.errors import ConfigError, ImageError

_UMASK = os.umask(0)
os.umask(_UMASK)

IMAGE_SUFFIXES = {suffix for suffix, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}


def open_rgb(path: Path) -> Image.Image:
    """Decode ``path`` as an upright RGB image (EXIF orientation applied, first frame of animations)."""
    try:
        with Image.open(path) as image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: rescale, don't clip
                image = image.point(lambda v: v / 256).convert("L")
            return image.convert("RGB")
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path}: refused, too many pixels ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def to_tensor(image: Image.Image) -> Tensor:
    """PIL RGB → float ``[3, H, W]`` in [0, 1]."""
    return pil_to_tensor(image).float().div_(255)


def to_image(pixels: Tensor) -> Image.Image:
    """Float ``[3, H, W]`` in [0, 1] → 8-bit RGB PIL image (rounded, not truncated)."""
    return to_pil_image(pixels.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu())


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_image(image: Image.Image, path: Path) -> None:
    """Save atomically in the format the suffix asks for (PNG, JPEG, WebP, TIFF …)."""
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        raise ConfigError(f"{path}: cannot write images with suffix {path.suffix!r}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    atomic_write_bytes(path, lambda handle: image.save(handle, format=fmt, **options))


def save_text(text: str, path: Path) -> None:
    atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))
