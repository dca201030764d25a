"""Configs, flags and keywords written for earlier dreamers (and the configs they saved beside their
dreams) still run, read in today's names:

- 0.1: moved class paths get their new homes; the jitter settings became the ``model.jitter`` group.
- 0.2: the octave walk left the model for the ``octaves`` section (``model.octaves`` is
  ``octaves.count``, ``model.alpha`` is ``octaves.alpha`` …); the step filters became the
  ``model.filters`` group and the guide the ``model.guide`` group (``model.guide`` is
  ``model.guide.image``, ``model.guide_side`` is ``model.guide.side``); a video's ``data.blend``
  (the carried share of the dream) is ``data.carry``. Keyframe, audio and sweep keys are renamed
  alike. A dream runs without a subcommand, so a saved config's ``ckpt_path: null`` and
  ``weights_only: null`` (``fit``'s own arguments, never used by a dream) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dreamer.files.sections import plain_key
from dreamer.files.sections import settings as settings_of

MOVED = {
    "dreamer.optim.NormalizedGD": "dreamer.engine.optim.NormalizedGD",
    "dreamer.data.DreamDataModule": "dreamer.photos.data.DreamDataModule",
    "dreamer.motion.ZoomDataModule": "dreamer.motion.zoom.ZoomDataModule",
    "dreamer.motion.VideoDataModule": "dreamer.motion.video.VideoDataModule",
    "dreamer.atlas.AtlasDataModule": "dreamer.explore.atlas.AtlasDataModule",
}
JITTER = {"jitter_rotate": "rotate", "jitter_scale": "scale", "jitter_flip": "flip"}  # now in the group
# A model setting of 0.1 → its dotted key today (its section first).
RENAMED = {
    **{f"model.{old}": f"model.jitter.{new}" for old, new in JITTER.items()},
    "model.octaves": "octaves.count",
    "model.smallest_octave": "octaves.smallest",
    "model.scale": "octaves.scale",
    "model.iterations": "octaves.iterations",
    "model.alpha": "octaves.alpha",
    "model.blend": "octaves.blend",
    "model.init": "octaves.init",
    "model.grad_blur": "model.filters.grad_blur",
    "model.laplacian_levels": "model.filters.laplacian_levels",
    "model.image_blur": "model.filters.image_blur",
    "model.guide_side": "model.guide.side",
}
DATA_RENAMED = {"data.blend": "data.carry"}  # a video's carried share (``octaves.blend`` is the octaves')
OLD_MODEL_KEYS = {key.split(".", 1)[1] for key in RENAMED}  # ``dream(octaves=2)`` keywords


def _moved(value: Any) -> Any:
    if isinstance(value, str):
        return MOVED.get(value, value)
    if isinstance(value, dict):
        return {key: _moved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item) for item in value]
    return value


def renamed_key(key: str) -> str:
    """A dotted setting (a flag without its dashes, a keyframe, audio or sweep key) in today's name."""
    if key == "model.jitter":
        return key  # a whole group, or a roll alone (``upgraded_args`` decides which)
    return RENAMED.get(key, DATA_RENAMED.get(key, key))


def _put(content: dict[str, Any], dotted: str, value: Any) -> None:
    section, *path = dotted.split(".")
    content.setdefault(section, {})
    node = settings_of(content, section)
    for part in path[:-1]:
        child = node.get(part)
        node[part] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node.setdefault(path[-1], value)  # a value given in today's name wins


def upgraded(content: dict[str, Any]) -> dict[str, Any]:
    """A config's mapping in today's names (unchanged when it already uses them)."""
    content = _moved(content)
    for unused in ("ckpt_path", "weights_only"):
        if unused in content and content[unused] is None:
            del content[unused]
    settings = settings_of(content, "model")
    if settings:
        if isinstance(settings.get("jitter"), int):
            settings["jitter"] = {"roll": settings["jitter"]}
        if isinstance(settings.get("guide"), str) or settings.get("guide", {}) is None:
            settings["guide"] = {"image": settings["guide"]}
        for key in [key for key in list(settings) if f"model.{key}" in RENAMED]:
            _put(content, RENAMED[f"model.{key}"], settings.pop(key))
    data_settings = settings_of(content, "data")
    if "blend" in data_settings:
        data_settings.setdefault("carry", data_settings.pop("blend"))
    animation = content.get("animation")
    if isinstance(animation, dict):
        if isinstance(animation.get("keyframes"), dict):
            animation["keyframes"] = {
                time: {renamed_key(key): value for key, value in frame.items()} if isinstance(frame, dict) else frame
                for time, frame in animation["keyframes"].items()
            }
        for drive in animation.get("audio") or []:
            if isinstance(drive, dict) and isinstance(drive.get("setting"), str):
                drive["setting"] = renamed_key(drive["setting"])
    if isinstance(content.get("sweep"), dict):
        content["sweep"] = {renamed_key(key): values for key, values in content["sweep"].items()}
    return content


def upgraded_args(args: Sequence[str]) -> list[str]:
    """Command-line arguments in today's names: ``--model.octaves 4`` is ``--octaves.count 4``,
    ``--model.jitter 16`` is ``--model.jitter.roll 16``, ``--model.guide a.jpg`` is
    ``--model.guide.image a.jpg``, moved class paths their new ones."""
    out = []
    for index, arg in enumerate(args):
        flag, equals, value = arg.partition("=")
        given = value if equals else (args[index + 1] if index + 1 < len(args) else "")
        if flag.startswith("--model.") or flag in ("--data.blend", "--data.init_args.blend"):
            flag = "--" + renamed_key(plain_key(flag[2:]))
        if flag == "--model.jitter" and given.lstrip("-").isdigit():
            flag = "--model.jitter.roll"
        if flag == "--model.guide" and not given.lstrip().startswith("{"):
            flag = "--model.guide.image"
        out.append(f"{flag}={MOVED.get(value, value)}" if equals else MOVED.get(flag, flag))
    return out


def upgraded_setting(dotted: str, value: Any) -> tuple[str, Any]:
    """A setting given by dotted name and value (``dream(octaves=4)``'s ``model.octaves``, say) in
    today's name: as ``upgraded_args`` reads the same flag."""
    (flag,) = [arg.partition("=")[0] for arg in upgraded_args([f"--{dotted}={value}"])]
    return flag[2:], MOVED.get(value, value) if isinstance(value, str) else value
