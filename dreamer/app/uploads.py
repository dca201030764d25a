"""Files from the browser: checked for size and type with the command line's own readers, and
copied into the session's folder under names the page chooses (a browser's file name is only ever
shown, never made into a path)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from dreamer.errors import ImageError
from dreamer.files.imageio import open_photo
from dreamer.motion.videoio import VIDEO_SUFFIXES, probe

PHOTO_LIMIT_MB = 50
VIDEO_LIMIT_MB = 200
VIDEO_FRAME_LIMIT = 600  # the page is for short clips; longer ones are the command line's


class UploadError(ImageError):
    """An upload the page refuses; the message names the file as the browser called it."""


def shown_name(browser_name: str) -> str:
    """The last part of a browser's file name, for messages only."""
    return Path(browser_name.replace("\\", "/")).name or "upload"


def _check_size(upload: Path, name: str, limit_mb: int) -> None:
    size = upload.stat().st_size
    if size > limit_mb * 2**20:
        raise UploadError(f"{name}: {size / 2**20:.1f} MB is over the page's {limit_mb} MB limit")
    if size == 0:
        raise UploadError(f"{name}: the file is empty")


def _named(error: ImageError, upload: Path, name: str) -> UploadError:
    return UploadError(str(error).replace(str(upload), name))


def take_photo(upload: Path, browser_name: str, folder: Path) -> Path:
    """Check ``upload`` as the CLI checks a photo and copy it, byte for byte, to ``folder/photo.<ext>``
    (the extension of the format it really has)."""
    name = shown_name(browser_name)
    _check_size(upload, name, PHOTO_LIMIT_MB)
    try:
        open_photo(upload)
    except ImageError as error:
        raise _named(error, upload, name) from None
    with Image.open(upload) as image:
        kind = image.format or "PNG"
    suffix = next((ext for ext, fmt in Image.registered_extensions().items() if fmt == kind), ".png")
    suffix = {".jpe": ".jpg", ".jpeg": ".jpg", ".jfif": ".jpg"}.get(suffix, suffix)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"photo{suffix}"
    shutil.copyfile(upload, target)
    return target


def take_video(upload: Path, browser_name: str, folder: Path) -> Path:
    """Check ``upload`` as the CLI checks a video (a known suffix, a stream that decodes, at most
    ``VIDEO_FRAME_LIMIT`` frames) and copy it to ``folder/video.<ext>``."""
    name = shown_name(browser_name)
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise UploadError(f"{name}: not a video file ({', '.join(sorted(VIDEO_SUFFIXES))})")
    _check_size(upload, name, VIDEO_LIMIT_MB)
    try:
        info = probe(upload)
    except ImageError as error:
        raise _named(error, upload, name) from None
    if info.frames > VIDEO_FRAME_LIMIT:
        raise UploadError(
            f"{name}: {info.frames} frames is more than the page's {VIDEO_FRAME_LIMIT}; "
            "trim it, or dream it with `dreamer fit --config video`"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"video{suffix}"
    shutil.copyfile(upload, target)
    return target
