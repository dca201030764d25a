"""Command-line flags the tests share: quiet runs and short dreams."""

from __future__ import annotations

QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


def flags(**values: object) -> list[str]:
    """``flags(octaves_count=2, data_size=64)`` → ``["--octaves.count", "2", "--data.size", "64"]``."""
    out = []
    for key, value in values.items():
        section, name = key.split("_", 1)
        out += [f"--{section}.{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return out
