"""The recipe inside a dream's file: the resolved config that made it, the dreamer that wrote it,
and each input's path and SHA-256, so that the file alone says how to make it again
(``dreamer fit --config dream.png``) and ``dreamer recipe FILE`` prints it.

Where it goes: a PNG's ``iTXt`` chunk ``dreamer.recipe``, a JPEG's comment, a WebP's XMP, a GIF's
comment, an MP4's ``comment`` tag. The recipe says how the picture was made, not where it was
written (``data.output`` is left out), so a re-run's file, recipe included, is the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import yaml
from PIL import Image, PngImagePlugin

from dreamer.errors import ConfigError
from dreamer.files.sections import settings

KEY = "dreamer.recipe"  # the PNG chunk's keyword
HEADER = "# written by dreamer "
RECIPE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp4", ".mov", ".m4v")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dream_recipe(
    config_text: str,
    version: str,
    inputs: Sequence[tuple[str, Path]] = (),
    note: Optional[str] = None,
    remake: Optional[dict[str, Any]] = None,
) -> str:
    """The recipe of one output: ``config_text`` (the resolved config) without ``data.output``, each
    input (``("data.images", path)``) pinned with its SHA-256 — a data input also pointing its
    setting at exactly that file, a later one of the same setting replacing an earlier (the run's
    folder of photos by this dream's photo); a direction file of ``model.objective`` pinned beside
    the others — the data settings that make only this output (``remake``: ``{"data.channels": "7"}``),
    and a ``recipe`` section with the dreamer version and ``note`` (what a re-run reproduces)."""
    config = yaml.safe_load(config_text) or {}
    arguments = settings(config, "data")
    arguments.pop("output", None)
    for setting, value in (remake or {}).items():
        arguments[setting.split(".", 1)[1]] = value
    pinned: dict[tuple[str, str], Path] = {}
    for setting, path in inputs:
        path = Path(os.path.abspath(path))  # where the first run found it, wherever the recipe runs from
        if setting.startswith("data."):
            arguments[setting.split(".", 1)[1]] = str(path)
        key = (setting, str(path) if setting == "model.objective" else "")
        pinned.pop(key, None)
        pinned[key] = path
    listed = [{"setting": setting, "path": str(path), "sha256": sha256(path)} for (setting, _), path in pinned.items()]
    made = {"dreamer": version, "inputs": listed, **({"note": note} if note else {})}
    return HEADER + version + "\n" + yaml.safe_dump({"recipe": made, **config}, sort_keys=False)


def png_info(recipe: Optional[str]) -> Optional[PngImagePlugin.PngInfo]:
    """A PNG's text chunks holding ``recipe`` (``None``: none)."""
    if recipe is None:
        return None
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, recipe, zip=True)
    return info


def save_options(fmt: str, recipe: Optional[str]) -> dict[str, Any]:
    """What PIL's ``save`` needs to carry ``recipe`` in a picture of format ``fmt``."""
    if recipe is None:
        return {}
    if fmt == "PNG":
        return {"pnginfo": png_info(recipe)}
    if fmt in ("JPEG", "GIF"):
        return {"comment": recipe.encode("utf-8")}
    if fmt == "WEBP":
        return {"xmp": recipe.encode("utf-8")}
    return {}


def read_recipe(path: Path) -> Optional[str]:
    """The recipe ``path`` carries (``None``: none). Pictures are read by PIL, videos by PyAV.

    Raises:
        ConfigError: a file that cannot be read as a picture or a video.
    """
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        import av

        try:
            with av.open(str(path)) as video:
                text = video.metadata.get("comment")
        except (OSError, av.FFmpegError) as error:
            raise ConfigError(f"{path}: not a readable video ({error})") from None
        return text if text and text.startswith(HEADER) else None
    try:
        with Image.open(path) as picture:
            info = dict(picture.info)
            text = getattr(picture, "text", {}).get(KEY) if picture.format == "PNG" else None
    except (OSError, ValueError, Image.DecompressionBombError) as error:  # Pillow's text limit raises ValueError
        raise ConfigError(f"{path}: not a readable picture ({error})") from None
    if text is None:
        raw = info.get("comment") or info.get("xmp")
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text if isinstance(text, str) and text.startswith(HEADER) else None


def renamed_inputs(recipe: str, names: dict[str, str], drop: Sequence[str] = ()) -> str:
    """``recipe`` with its inputs named as ``names`` says (an input's setting → the name it has beside
    the file: the page's downloads) and the options in ``drop`` (``--trainer.logger=false``) left out."""
    header, _, body = recipe.partition("\n")
    content = yaml.safe_load(body) or {}
    for option in drop:
        section, name = option.removeprefix("--").split("=")[0].split(".", 1)
        content.get(section, {}).pop(name, None)
    arguments = settings(content, "data")
    for entry in content.get("recipe", {}).get("inputs", []):
        if entry.get("setting") in names:
            entry["path"] = arguments[entry["setting"].split(".", 1)[1]] = names[entry["setting"]]
    return header + "\n" + yaml.safe_dump(content, sort_keys=False)


def recipe_config(path: Path, version: str) -> dict[str, Any]:
    """The config that the recipe in ``path`` describes, with its ``recipe`` section (what it pins):
    still data, for the gate (``command.trust``) to check before anything reads it.

    Raises:
        ConfigError: no recipe, a recipe of a newer dreamer, one that is not a mapping, or a Live
            recording's (nothing to dream again).
    """
    text = read_recipe(path)
    if text is None:
        raise ConfigError(f"--config {path}: the file holds no dreamer recipe")
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--config {path}: its recipe is not valid YAML ({str(error).splitlines()[0]})") from None
    made = content.get("recipe") if isinstance(content, dict) else None
    if not isinstance(made, dict):
        raise ConfigError(f"--config {path}: its recipe has no 'recipe' section")
    if made.get("source") == "camera":
        raise ConfigError(
            f"--config {path}: made by Live: its recipe shows how it was made (dreamer recipe {path.name}), "
            "but its source was a camera, so there is nothing to dream again"
        )
    check_version(content, path, version)
    return content


def check_version(content: dict[str, Any], path: Path, version: str) -> None:
    """One line (``ConfigError``) when ``content``'s recipe was written by a newer dreamer than ``version``."""
    made = content.get("recipe")
    writer = str(made.get("dreamer", "?")) if isinstance(made, dict) else "?"
    if _version(writer) > _version(version):
        raise ConfigError(f"--config {path}: its recipe was written by dreamer {writer}, newer than this {version}")


def written_by_dreamer(path: Path) -> bool:
    """Whether ``path`` is a file dreamer wrote: a dream's (its recipe inside) or a YAML file whose
    first line says so (a recipe as text, a config saved beside a dream)."""
    if path.suffix.lower() in RECIPE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            return handle.readline().startswith(HEADER.encode())
    except OSError:
        return False


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
