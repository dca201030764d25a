"""Weights files: a state dict read without running anything in the file, and loaded exactly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from dreamer.errors import ConfigError, WeightsNotFoundError


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: safetensors, or a torch file loaded with ``weights_only`` (tensors
    and plain containers only: nothing in it is run); a Lightning checkpoint gives its ``state_dict``.

    Raises:
        ConfigError: a file that is not there, not weights, or holds pickled objects.
    """
    if path.is_dir():
        raise ConfigError(f"model.weights: {path} is a folder, not a weights file")
    if not path.is_file():
        raise WeightsNotFoundError(f"model.weights: {path} does not exist")
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as error:
            raise ConfigError(f"model.weights: {path} is not a readable safetensors file ({error})") from None
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "weights_only" in str(error) or "Unsupported global" in str(error) or "pickle" in str(error).lower():
            raise ConfigError(
                f"model.weights: {path} holds more than tensors (pickled objects); it is not loaded, "
                "so nothing in it ran (save a state dict: torch.save(model.state_dict(), path))"
            ) from None
        raise ConfigError(f"model.weights: {path} is not a weights file ({first})") from None
    if isinstance(content, Mapping) and isinstance(content.get("state_dict"), Mapping):
        content = content["state_dict"]  # a Lightning checkpoint
    if not isinstance(content, Mapping) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise ConfigError(f"model.weights: {path} holds no state dict (a mapping of names to tensors)")
    return dict(content)


def load_weights(module: nn.Module, path: Path, label: str) -> None:
    """Load the state dict of ``path`` into ``module``, exactly.

    Raises:
        ConfigError: keys that are missing or unexpected (the first few named), or shapes that differ.
    """
    state = read_state_dict(path)
    fit(module, state, str(path), label, assign=False)


def fit(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, label: str, assign: bool) -> None:
    """Load ``state`` into ``module`` exactly (``assign``: take its tensors, for a module on ``meta``).

    Raises:
        ConfigError: one line naming the first missing and unexpected keys, or the shapes that differ.
    """
    expected = set(module.state_dict())
    missing = [key for key in module.state_dict() if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        parts = [
            f"{what} {', '.join(keys[:4])}{' …' if len(keys) > 4 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected))
            if keys
        ]
        raise ConfigError(f"model.weights: {source} does not fit {label}: {'; '.join(parts)}")
    try:
        module.load_state_dict(state, assign=assign)
    except RuntimeError as error:  # shapes that differ
        detail = " ".join(str(error).split())
        raise ConfigError(f"model.weights: {source} does not fit {label}: {detail[:300]}") from None
