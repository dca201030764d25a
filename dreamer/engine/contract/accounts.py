"""What the callbacks of a run declare they report at its end, as base classes the report finds by type."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from dreamer import __version__
from dreamer.files.recipes import dream_recipe


class Account:
    """A callback that accounts for inputs: the files it wrote, the inputs that failed, and how many
    inputs it accounts for (written or failed) — over all processes once the run ends."""

    def __init__(self) -> None:
        self.written: list[Path] = []  # the dreams, frames or videos
        self.also_written: list[Path] = []  # beside them: GIFs, contact sheets, lists
        self.failed: list[str] = []  # "<file>: <reason>"
        self.accounted = 0


class SavesConfig:
    """A writer that saves the run's recipe beside what it writes, and inside it (the resolved
    config and the files every recipe of the run pins, handed over by the command line)."""

    config_text: Optional[str] = None
    pinned: tuple[tuple[str, Path], ...] = ()  # the run's files each recipe pins: weights, guide, network …
    embed_recipe = True  # carry the recipe inside each file written (``--embed_recipe false``: bare files)

    def recipe_text(
        self, inputs: Sequence[tuple[str, Path]] = (), note: Optional[str] = None, settings: Optional[dict] = None
    ) -> Optional[str]:
        """The recipe of one output (``files.recipes.dream_recipe``): the run's pins and ``inputs``;
        ``None`` where no config was handed over."""
        if self.config_text is None:
            return None
        return dream_recipe(self.config_text, __version__, [*self.pinned, *inputs], note, settings)


class Findings:
    """A listener with lines for the run's end (say, how much a video flickers)."""

    def findings(self) -> list[str]:
        return []
