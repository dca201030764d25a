"""Contact sheets: images in a grid (``torchvision.utils.make_grid``), each with a label row under it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps
from torchvision.utils import make_grid

from dreamer.files.imageio import to_image, to_tensor


def labelled(image: Image.Image, label: str, side: int) -> torch.Tensor:
    """``image`` scaled to fit a ``side``-px square, with ``label`` written in a row below: ``[3, H, W]``."""
    font = ImageFont.load_default(size=max(10, side // 11))
    text_height = getattr(font, "size", 10)
    row = round(text_height * 1.5)
    thumb = ImageOps.contain(image.convert("RGB"), (side, side), Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (side, thumb.height + row), "white")
    cell.paste(thumb, ((side - thumb.width) // 2, 0))
    draw = ImageDraw.Draw(cell)
    draw.text(((side - draw.textlength(label, font=font)) / 2, thumb.height + row * 0.15), label, "black", font)
    return to_tensor(cell)


def contact_sheet(
    images: Sequence[Image.Image], labels: Sequence[str], columns: int, side: int = 128, title: Optional[str] = None
) -> Image.Image:
    """One sheet: ``images`` in rows of ``columns``, each labelled, optionally under a ``title`` row."""
    cells = torch.stack([labelled(image, label, side) for image, label in zip(images, labels)])
    grid = to_image(make_grid(cells, nrow=columns, padding=4, pad_value=1.0))
    if not title:
        return grid
    font = ImageFont.load_default(size=max(12, side // 8))
    height = round(getattr(font, "size", 12) * 1.8)
    sheet = Image.new("RGB", (grid.width, grid.height + height), "white")
    sheet.paste(grid, (0, height))
    ImageDraw.Draw(sheet).text((6, height * 0.2), title, fill="black", font=font)
    return sheet
