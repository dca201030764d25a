"""What the callbacks of a run declare they report at its end, as base classes the report finds by type."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


class Account:
    """A callback that accounts for inputs: the files it wrote, the inputs that failed, and how many
    inputs it accounts for (written or failed) — over all processes once the run ends."""

    def __init__(self) -> None:
        self.written: list[Path] = []  # the dreams, frames or videos
        self.also_written: list[Path] = []  # beside them: GIFs, contact sheets, lists
        self.failed: list[str] = []  # "<file>: <reason>"
        self.accounted = 0


class SavesConfig:
    """A writer that saves the run's resolved config beside what it writes (handed over by the command line)."""

    config_text: Optional[str] = None
    embed_recipe = True  # carry the recipe inside each file written (``--embed_recipe false``: bare files)


class Findings:
    """A listener with lines for the run's end (say, how much a video flickers)."""

    def findings(self) -> list[str]:
        return []
