"""What ``dreamer.run`` returns: the files a run wrote, shown inline in Jupyter (a video plays, a
sheet or a picture is shown) as small previews, so that a notebook stays light."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

PREVIEW = 640  # px: the long side of a picture's inline preview
VIDEO_SUFFIXES = (".mp4", ".webm")


@dataclass(frozen=True)
class Dreamed:
    """The files one run wrote (``files``; ``sheets``: its contact sheets, shown first)."""

    files: list[Path] = field(default_factory=list)
    sheets: list[Path] = field(default_factory=list)

    @property
    def videos(self) -> list[Path]:
        return [path for path in self.files if path.suffix.lower() in VIDEO_SUFFIXES]

    @property
    def pictures(self) -> list[Path]:
        return [path for path in self.files if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")]

    def shown(self) -> list[Path]:
        """What a notebook shows: the videos, else the sheets, else the first few pictures."""
        return self.videos or self.sheets or self.pictures[:4]

    def _repr_html_(self) -> str:
        parts = [
            _video_html(path) if path.suffix.lower() in VIDEO_SUFFIXES else _picture_html(path) for path in self.shown()
        ]
        more = len(self.files) + len(self.sheets) - len(self.shown())
        if more > 0:
            parts.append(f"<p>… and {more} more file{'s' if more > 1 else ''}: see <code>.files</code></p>")
        return "".join(parts) or "<p>nothing was written</p>"

    def __repr__(self) -> str:
        return f"Dreamed({len(self.files)} files, {len(self.sheets)} sheets)"


def _picture_html(path: Path) -> str:
    with Image.open(path) as picture:
        preview = picture.convert("RGB")
    preview.thumbnail((PREVIEW, PREVIEW))
    buffer = io.BytesIO()
    preview.save(buffer, format="JPEG", quality=82)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img src="data:image/jpeg;base64,{data}" title="{path.name}" style="max-width:100%"/>'


def _video_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<video controls loop autoplay muted src="data:video/mp4;base64,{data}" title="{path.name}"></video>'
