"""Contact sheets: images in a grid (``torchvision.utils.make_grid``), each with a label row under it,
and the callback that makes an atlas's sheets when its run ends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from PIL import Image, ImageDraw, ImageFont, ImageOps
from torchvision.utils import make_grid
from typing_extensions import override

from dreamer.engine.contract.accounts import Account, SavesConfig
from dreamer.files.imageio import save_image, to_image, to_tensor


def labelled(image: Image.Image, label: str, side: int, width: Optional[int] = None) -> torch.Tensor:
    """``image`` scaled to fit ``width`` × ``side`` px (``width``: ``side``), with ``label`` written in
    a row below: ``[3, H, W]``."""
    width = width or side
    font = ImageFont.load_default(size=max(10, side // 11))
    text_height = getattr(font, "size", 10)
    row = round(text_height * 1.5)
    thumb = ImageOps.contain(image.convert("RGB"), (width, side), Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (width, thumb.height + row), "white")
    cell.paste(thumb, ((width - thumb.width) // 2, 0))
    draw = ImageDraw.Draw(cell)
    draw.text(((width - draw.textlength(label, font=font)) / 2, thumb.height + row * 0.15), label, "black", font)
    return to_tensor(cell)


def side_by_side(images: Sequence[Image.Image], side: int, gap: int = 3) -> Image.Image:
    """``images`` each fitted to a ``side``-px square, in one row with white gaps."""
    row = Image.new("RGB", (len(images) * (side + gap) - gap, side), "white")
    for index, image in enumerate(images):
        thumb = ImageOps.contain(image.convert("RGB"), (side, side), Image.Resampling.LANCZOS)
        row.paste(thumb, (index * (side + gap) + (side - thumb.width) // 2, (side - thumb.height) // 2))
    return row


def contact_sheet(
    images: Sequence[Image.Image],
    labels: Sequence[str],
    columns: int,
    side: int = 128,
    title: Optional[str] = None,
    width: Optional[int] = None,
) -> Image.Image:
    """One sheet: ``images`` (fitted to ``width`` × ``side`` px) in rows of ``columns``, each
    labelled, optionally under a ``title`` row."""
    cells = torch.stack([labelled(image, label, side, width) for image, label in zip(images, labels)])
    grid = to_image(make_grid(cells, nrow=columns, padding=4, pad_value=1.0))
    if not title:
        return grid
    font = ImageFont.load_default(size=max(12, side // 8))
    height = round(getattr(font, "size", 12) * 1.8)
    sheet = Image.new("RGB", (grid.width, grid.height + height), "white")
    sheet.paste(grid, (0, height))
    ImageDraw.Draw(sheet).text((6, height * 0.2), title, fill="black", font=font)
    return sheet


def save_sheet(
    sheet: Image.Image, path: Path, written: list[Path], failed: list[str], recipe: Optional[str] = None
) -> None:
    """Write ``sheet`` to ``path`` (with ``recipe`` inside) and add it to ``written``, or a line to
    ``failed`` when it cannot be written (a full disk, a read-only folder)."""
    try:
        save_image(sheet, path, recipe=recipe)
    except OSError as error:
        failed.append(f"{path}: not written ({error.strerror or error})")
        return
    written.append(path)


class ContactSheets(pl.Callback, Account, SavesConfig):
    """When the run ends, rank 0 calls ``write`` (which lays the images on their sheets, each with the
    run's recipe inside) once every process has written its images; it reports the sheets written
    and those that failed."""

    def __init__(self, write: Callable[[Optional[str]], tuple[list[Path], list[str]]]) -> None:
        super().__init__()  # sheets are no inputs: they account for none (also_written: the sheets)
        self.write = write

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if dist.is_available() and dist.is_initialized() and trainer.world_size > 1:
            dist.barrier()  # every process has written its images
        if trainer.is_global_zero:
            recipe = self.recipe_text() if self.embed_recipe else None
            self.also_written, self.failed = self.write(recipe)
