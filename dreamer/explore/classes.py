"""Class dreams: what the network pictures for each of its classes (Inceptionism's class
visualisations), one dreamed picture per class (or several faces of it), on contact sheets labelled
with the classes' names where the weights carry them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

from dreamer.engine.climb.objectives import class_number
from dreamer.engine.contract.outline import DreamOutline
from dreamer.errors import ConfigError
from dreamer.explore.atlas import AtlasDataModule

_NUMBERS = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")


def parse_classes(text: str, width: int, categories: Sequence[str], setting: str = "data.classes") -> list[int]:
    """``all``, or comma-separated classes: numbers, inclusive ranges (``0-9``) and names where the
    weights carry them (``goldfish, tiger shark``: matched as ``class 'name'`` is), checked against
    the network's ``width`` classes; sorted, without repeats.

    Raises:
        ConfigError: a part that is none of these, a range that runs backwards, a class past the
            network's classes, or a name none or several classes match.
    """
    if text.strip() == "all":
        return list(range(width))
    chosen: set[int] = set()
    for part in (part.strip() for part in text.split(",")):
        numbers = _NUMBERS.match(part)
        if numbers is None:
            if not part or not categories:
                raise ConfigError(
                    f"{setting}: {part!r} is not a class number or a range like 0-9"
                    + ("" if categories else " (these weights carry no class names)")
                )
            chosen.add(class_number(part.strip("'\""), categories, setting))
            continue
        low, high = int(numbers[1]), int(numbers[2] or numbers[1])
        if low > high:
            raise ConfigError(f"{setting}: the range {part!r} runs backwards")
        chosen.update(range(low, high + 1))
    past = [number for number in sorted(chosen) if number >= width]
    if past:
        raise ConfigError(f"{setting}: class {past[0]} is past the network's {width} classes (0-{width - 1})")
    return sorted(chosen)


class ClassesDataModule(AtlasDataModule):
    """What the network pictures for each class: one picture each, on labelled contact sheets.

    Every class (or some) of the network, one picture each from noise (or from ``photo``): the
    objective's bare ``class`` climbs each picture's own class logit. Batches are shared out over
    processes like photos (``--trainer.strategy ddp_independent``); a run that stops resumes where it
    stopped.

    Args:
        classes: ``all``, or classes by number, inclusive range or name: ``0-9``, ``1,207``,
            ``goldfish, tiger shark``.
        output: Folder: ``<output layer>/<output layer>-class0207.png`` per class and
            ``<output layer>-sheet1.png`` … sheets labelled with the classes' names.
        size: Side of each (square) picture, in pixels.
        photo: Start every class's dream from this photo (resized to ``size``): the photo turns
            towards each class.
        faces: Pictures per class, each from its own noise (with ``model.diversity`` pushed apart).
        batch_size: Pictures dreamed together (a class's faces stay together).
        overwrite: Replace pictures that exist; otherwise they are skipped (resume) and still shown
            on the sheets.
        seed: Seeds each class's noise and jitter together with its name.
        sheet_columns: Tiles per row of a contact sheet.
        sheet_tiles: Tiles per sheet; more classes make more sheets.
        tile_side: Side of a tile on the sheets, in pixels.

    Raises:
        ConfigError: a setting out of range, or classes that are not the network's.
    """

    unit, what, whats = "class", "class", "classes"
    choice = "data.classes"
    gives_classes = True

    def __init__(
        self,
        classes: str = "all",
        output: str = "dreams/classes",
        size: int = 128,
        photo: Optional[str] = None,
        faces: int = 1,
        batch_size: int = 8,
        overwrite: bool = False,
        seed: int = 0,
        sheet_columns: int = 8,
        sheet_tiles: int = 48,
        tile_side: int = 128,
    ) -> None:
        super().__init__(
            channels=classes,
            output=output,
            size=size,
            photo=photo,
            faces=faces,
            batch_size=batch_size,
            overwrite=overwrite,
            seed=seed,
            sheet_columns=sheet_columns,
            sheet_tiles=sheet_tiles,
            tile_side=tile_side,
        )
        self.categories: tuple[str, ...] = ()

    def choose_layer(self, outline: DreamOutline) -> tuple[str, int]:
        """The network's output, where each picture's class is climbed, and its number of classes."""
        if outline.own_class_at is None:
            raise ConfigError("model.objective: the classes preset climbs each picture's own class: write 'class'")
        self.categories = outline.categories
        return outline.own_class_at, outline.widths[outline.own_class_at]

    def parse(self, text: str, width: int) -> list[int]:
        return parse_classes(text, width, self.categories)

    def label(self, channel: int) -> str:
        """``207 golden retriever`` (shortened to fit a tile), or the number where there are no names."""
        if channel >= len(self.categories):
            return str(channel)
        label = f"{channel} {self.categories[channel]}"
        fits = max(8, self.tile_side // 7)
        return label if len(label) <= fits else label[: fits - 1] + "…"
