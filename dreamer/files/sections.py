"""A config's sections as mappings: the one place that knows a section named by a class path keeps
its settings under ``init_args`` (``data: {class_path: VideoDataModule, init_args: {video: …}}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def settings(content: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The settings of ``section`` in ``content`` (the mapping itself, not a copy: changing it
    changes ``content``); ``{}`` where the section is missing or not a mapping."""
    part = content.get(section)
    inner = part.get("init_args", part) if isinstance(part, dict) else None
    return inner if isinstance(inner, dict) else {}


def plain_key(dotted: str) -> str:
    """A dotted setting without the class path's level: ``data.init_args.seed`` → ``data.seed``."""
    return dotted.replace(".init_args.", ".")


def nested_key(dotted: str) -> str:
    """A dotted data setting as a config holds it: ``data.seed`` → ``data.init_args.seed``."""
    section, _, rest = plain_key(dotted).partition(".")
    return f"{section}.init_args.{rest}" if section == "data" and rest else dotted
