"""Configs and flags written for dreamer 0.1 (and the configs it saved beside its dreams) still run:
moved class paths get their new homes, and the jitter settings become the ``jitter`` group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MOVED = {
    "dreamer.optim.NormalizedGD": "dreamer.engine.optim.NormalizedGD",
    "dreamer.data.DreamDataModule": "dreamer.photos.data.DreamDataModule",
    "dreamer.motion.ZoomDataModule": "dreamer.motion.zoom.ZoomDataModule",
    "dreamer.motion.VideoDataModule": "dreamer.motion.video.VideoDataModule",
    "dreamer.atlas.AtlasDataModule": "dreamer.explore.atlas.AtlasDataModule",
}
JITTER = {"jitter_rotate": "rotate", "jitter_scale": "scale", "jitter_flip": "flip"}  # now in the group


def _moved(value: Any) -> Any:
    if isinstance(value, str):
        return MOVED.get(value, value)
    if isinstance(value, dict):
        return {key: _moved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item) for item in value]
    return value


def upgraded(content: dict[str, Any]) -> dict[str, Any]:
    """A config's mapping in today's names (unchanged when it already uses them)."""
    content = _moved(content)
    model = content.get("model")
    settings = model.get("init_args", model) if isinstance(model, dict) else None
    if isinstance(settings, dict):
        group = settings.get("jitter")
        group = {"roll": group} if isinstance(group, int) else dict(group or {})
        moved = {JITTER[key]: settings.pop(key) for key in list(settings) if key in JITTER}
        if moved or isinstance(settings.get("jitter"), int):
            settings["jitter"] = {**group, **moved}
    return content


def upgraded_args(args: Sequence[str]) -> list[str]:
    """Command-line arguments in today's names: ``--model.jitter 16`` is ``--model.jitter.roll 16``,
    ``--model.jitter_rotate 8`` is ``--model.jitter.rotate 8``, moved class paths their new ones."""
    renamed = {
        "--model.jitter": "--model.jitter.roll",
        **{f"--model.{old}": f"--model.jitter.{new}" for old, new in JITTER.items()},
    }
    out = []
    for index, arg in enumerate(args):
        flag, equals, value = arg.partition("=")
        given = value if equals else (args[index + 1] if index + 1 < len(args) else "")
        if flag in renamed and (flag != "--model.jitter" or given.lstrip("-").isdigit()):
            flag = renamed[flag]
        out.append(f"{flag}={MOVED.get(value, value)}" if equals else MOVED.get(flag, flag))
    return out
