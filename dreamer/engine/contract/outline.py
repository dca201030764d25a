"""How long dreams are: the settings as the data side needs them (the outline), and the stream of steps.

The command line makes a ``DreamOutline`` from the octave walk and the model
(``DreamModule.outline``) and hands it to the data module, so data never asks the running model;
``DreamSteps`` turns the data's batches into one batch per gradient step, each with its ``Position``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Optional

from dreamer.engine.contract.batch import DreamBatch, Pace, Position
from dreamer.engine.contract.octaves import Octaves
from dreamer.engine.image.pyramid import auto_octaves
from dreamer.files.background import ahead


def _accept(names: Sequence[str]) -> None:
    return None


@dataclass(frozen=True)
class DreamOutline:
    """What the settings say about any dream, before one starts.

    Args:
        octaves: The pyramid walk (count, scale, iterations per octave …).
        min_side: The smallest image side the full-size level's layers can work on.
        layers: The layer schedule, one entry (a tuple of layer names) per schedule entry.
        widths: Channels of each scheduled layer.
        channels_set: Whether ``model.channels`` chooses the channels.
        check_names: Raises ``ConfigError`` for inputs the model cannot dream (a photo without its guide).
        own_class_at: The network's output, where a bare ``class`` objective climbs each picture's own
            class (``None``: the objective has none; then no data may hand pictures their classes).
        categories: The names of the network's classes, where its weights carry them.
        grey: Whether the network sees one channel (its dreams are written grey).
    """

    octaves: Octaves = Octaves()
    min_side: int = 1
    layers: tuple[tuple[str, ...], ...] = ()
    widths: dict[str, int] = field(default_factory=dict)
    channels_set: bool = False
    check_names: Callable[[Sequence[str]], None] = _accept
    own_class_at: Optional[str] = None
    categories: tuple[str, ...] = ()
    grey: bool = False

    def levels_for(self, size: tuple[int, int]) -> int:
        """Pyramid levels of a dream of ``(height, width)``."""
        octaves = self.octaves
        if octaves.count == "auto":
            return auto_octaves(*size, octaves.scale, octaves.smallest)
        return octaves.count

    def steps_for(self, size: tuple[int, int]) -> int:
        """Gradient steps of a whole dream of ``(height, width)``."""
        return self.levels_for(size) * self.octaves.iterations

    def walk(self, batch: DreamBatch) -> tuple[int, int, int]:
        """``(levels, first_octave, iterations)`` of ``batch``'s dream (at its first step)."""
        pace = batch.pace or Pace()
        levels = pace.levels if pace.levels is not None else self.levels_for(batch.size)
        return levels, pace.first_octave, pace.iterations or self.octaves.iterations


class DreamSteps:
    """Repeats every batch for each gradient step of its dream, in exactly ``total`` steps.

    Step 0 carries the pixels; later steps carry only the bookkeeping, so nothing is copied to the
    device again. Idle one-step batches fill the stream up to ``total``: Lightning synchronises
    processes at every training step, so a process with less to dream must take as many steps as
    the busiest.

    With ``prefetch`` the loader runs that many batches ahead on a background thread (``ahead``):
    for loaders without worker processes, so that the next batch is ready when a dream ends.
    """

    def __init__(self, loader: Iterable[DreamBatch], outline: DreamOutline, total: int, prefetch: int = 0) -> None:
        self.loader, self.outline, self.total, self.prefetch = loader, outline, total, prefetch

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[DreamBatch]:
        taken = 0
        for batch in ahead(self.loader, self.prefetch) if self.prefetch else self.loader:
            levels, first, iterations = self.outline.walk(batch)
            steps = (levels - first) * iterations
            for step in range(steps):
                if taken == self.total:
                    return
                octave, iteration = divmod(step, iterations)
                position = Position(step, steps, first + octave, iteration, iterations, levels)
                first_step = step == 0
                yield replace(
                    batch,
                    pixels=batch.pixels if first_step else None,
                    mask=batch.mask if first_step else None,
                    position=position,
                )
                taken += 1
        for _ in range(self.total - taken):
            yield DreamBatch.idle()
