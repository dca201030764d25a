"""What a sequence's source says about every frame before it is dreamed: the ages of the carried
dream and a mask, both moved with the picture from frame to frame.

Both depend on the source alone (its motion), never on a dream, so a resumed or sharded run computes
them exactly as an uninterrupted one (from the first frame on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Optional

import numpy as np

from dreamer.files.masks import feathered
from dreamer.motion.drift import carried_share, first_ages, older

Move = Callable[[np.ndarray], np.ndarray]  # one map [H, W] carried to the next frame


class SourceTrack:
    """Ages (with ``max_age``) and a mask followed along a sequence, one ``advance`` per frame.

    Args:
        size: (height, width) of the frames.
        max_age: Frames a carried dream lives before it fades to the source (0: forever).
        seed: Seeds the staggered first ages.
        mask: The first frame's mask ``[H, W]`` in [0, 1], moved along with the picture; or
        mask_frames: one mask per frame (a mask video; past its end its last frame holds).
        feather: Soft edge (px) given to the mask at every frame.
    """

    def __init__(
        self,
        size: tuple[int, int],
        max_age: int = 0,
        seed: int = 0,
        mask: Optional[np.ndarray] = None,
        mask_frames: Optional[Iterator[np.ndarray]] = None,
        feather: float = 0.0,
    ) -> None:
        self.max_age, self.feather = max_age, feather
        self.ages = first_ages(size, max_age, seed) if max_age > 0 else None
        self.carried_mask = mask
        self.mask_frames = mask_frames
        self._mask: Optional[np.ndarray] = None
        self.frame = -1

    @property
    def follows(self) -> bool:
        """Whether every frame's motion is needed (ages or a mask to move), even before the frames dreamed."""
        return self.ages is not None or self.carried_mask is not None

    def advance(self, move: Optional[Move], valid: Optional[np.ndarray]) -> None:
        """On to the next frame; ``move`` carries a map from the frame before (``None`` at frame 0)."""
        self.frame += 1
        if self.frame > 0 and move is not None:
            seen = valid if valid is not None else np.ones(self.ages.shape if self.ages is not None else (1, 1), bool)
            if self.ages is not None:
                self.ages = older(self.ages, move, seen, self.max_age)
            if self.carried_mask is not None:
                self.carried_mask = (move(self.carried_mask) >= 0.5).astype(np.float32)  # the edge stays crisp
        if self.mask_frames is not None:
            latest = next(self.mask_frames, None)
            if latest is not None:
                self._mask = latest
        elif self.carried_mask is not None:
            self._mask = self.carried_mask

    def share(self) -> Optional[np.ndarray]:
        """How much of the carried dream each pixel keeps at this frame (``None``: all of it)."""
        return carried_share(self.ages, self.max_age) if self.ages is not None else None

    def mask(self) -> Optional[np.ndarray]:
        """This frame's mask with its soft edge (``None``: no mask)."""
        return feathered(self._mask, self.feather) if self._mask is not None else None
