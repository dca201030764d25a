"""Guided dreams: excite the features a guide image has, not whatever the layer likes best.

For every position of the dream's activation the objective takes the guide's feature vector that it
matches best (largest dot product) and rewards the dot product with it: the dream grows the guide's
patterns where it already leans towards them (Google's DeepDream notebook).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from PIL import Image
from torch import Tensor

from dreamer.errors import ConfigError, ImageError
from dreamer.files.imageio import open_photo, to_tensor


def guided_objective(activation: Tensor, guide: Tensor) -> Tensor:
    """Per-image objective ``[B]``: the mean over positions of ``x · g*`` where ``x`` is the dream's
    feature vector there and ``g*`` the guide feature (``guide``: ``[C, M]``) that matches it best."""
    features = activation.float().flatten(2)  # [B, C, N]
    scores = torch.einsum("bcn,cm->bnm", features, guide)
    best = guide.t()[scores.argmax(dim=2)]  # [B, N, C]
    return torch.einsum("bcn,bnc->bn", features, best).mean(dim=1)


@dataclass(frozen=True)
class Guide:
    """A guided dream's settings (the ``model.guide`` group).

    Args:
        image: A guide image, or a folder with one per photo (``<photo stem>.<suffix>``): each
            position then excites the guide's best-matching feature instead of the layer as a whole.
            ``null``: no guide.
        side: The guide's long side in pixels when its features are taken.

    Raises:
        ConfigError: a side under 8 px.
    """

    image: Optional[str] = None
    side: int = 320

    def __post_init__(self) -> None:
        if self.side < 8:
            raise ConfigError(f"model.guide.side must be at least 8 px, got {self.side}")


NO_GUIDE = Guide()


class Guides:
    """One guide image for every photo (``path`` is a file), or one per photo by name (``path`` is a
    folder holding ``<photo stem>.<any image suffix>``); each shrunk to at most ``side`` px."""

    def __init__(self, path: str, side: int) -> None:
        self.path, self.side = Path(path).expanduser(), side
        if not self.path.exists():
            raise ConfigError(f"model.guide.image: {self.path} does not exist")
        if self.path.is_file():
            self._load(self.path)  # an unreadable guide fails here, before any dreaming
        self._sources: dict[str, Path] = {}
        self._pixels: dict[Path, Tensor] = {}
        self._features: dict[tuple[Path, tuple[str, ...]], dict[str, Tensor]] = {}

    def _load(self, path: Path) -> Tensor:
        try:
            image, _ = open_photo(path)
        except ImageError as error:
            raise ConfigError(f"model.guide.image: {error}") from None
        image.thumbnail((self.side, self.side), Image.Resampling.LANCZOS)
        return to_tensor(image)

    def source(self, name: str) -> Path:
        """The guide of the photo called ``name``."""
        if self.path.is_file():
            return self.path
        if name not in self._sources:
            self._sources[name] = self._find(name)
        return self._sources[name]

    def _find(self, name: str) -> Path:
        stem = Path(name).with_suffix("").name
        found = sorted(p for p in self.path.glob(f"{stem}.*") if p.suffix.lower() in Image.registered_extensions())
        if not found:
            raise ConfigError(f"model.guide.image: no guide for {name} in {self.path} (expected {stem}.<jpg|png|…>)")
        return found[0]

    def check(self, names: Sequence[str]) -> None:
        """Every photo has a guide that can be read."""
        for path in dict.fromkeys(self.source(name) for name in names):
            self._load(path)

    def features(
        self, sources: Sequence[Path], layers: tuple[str, ...], extract: Callable[[Tensor], dict[str, Tensor]]
    ) -> list[dict[str, Tensor]]:
        """Each guide's ``{layer: [C, M]}`` features (``extract`` maps ``[1, 3, H, W]`` to the layers'
        activations), taken once per guide and layer set."""
        out = []
        for source in sources:
            key = (source, layers)
            if key not in self._features:
                if source not in self._pixels:
                    self._pixels[source] = self._load(source)
                with torch.no_grad():
                    found = extract(self._pixels[source][None])
                self._features[key] = {layer: value.float().flatten(2)[0] for layer, value in found.items()}
            out.append(self._features[key])
        return out


def guided_objectives(activation: Tensor, guides: Sequence[Tensor]) -> Tensor:
    """``guided_objective`` of each image against its own guide (``guides``: one ``[C, M]`` per image)."""
    if all(guide is guides[0] for guide in guides):
        return guided_objective(activation, guides[0])
    return torch.cat([guided_objective(activation[i : i + 1], guide) for i, guide in enumerate(guides)])
