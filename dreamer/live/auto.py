"""Live's "auto" size: the largest size that holds a frame rate, found by watching the frames shown.

It goes down a size as soon as the rate at the current size falls below the target, and up only
when the rate, scaled by the larger size's area, would still be ``MARGIN`` above it; a size it left
for being too slow is not tried again for ``BARRED`` seconds. Every decision waits for ``HOLD``
seconds of frames at the current size, so one slow frame never moves it (hysteresis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional


class AutoSize:
    """Picks the size (a long side, px) of ``sizes`` to dream at from the times frames are shown.

    Args:
        sizes: The sizes to choose from.
        rate: The frames per second to hold.
        start: The size to begin with (the smallest unless given).
    """

    HOLD = 3.0  # seconds of frames at a size before deciding
    MARGIN = 1.2  # going up needs the rate expected at the larger size this far above the target
    BARRED = 30.0  # seconds a size left for being too slow is not tried again

    def __init__(self, sizes: Sequence[int], rate: float = 10.0, start: Optional[int] = None) -> None:
        self.sizes = sorted(sizes)
        self.rate = rate
        self.size = start if start is not None else self.sizes[0]
        self._times: list[float] = []  # when each frame at the current size was shown
        self._barred: dict[int, float] = {}  # size → until when it is not tried again

    def shown(self, side: int, at: float) -> int:
        """A frame of long side ``side`` was shown at ``at`` (s); the size to dream at from now on."""
        if side != self.size:
            return self.size  # a frame dreamed before the last change: it says nothing of this size
        self._times.append(at)
        if self._times[-1] - self._times[0] < self.HOLD:
            return self.size
        measured = (len(self._times) - 1) / (self._times[-1] - self._times[0])
        index = self.sizes.index(self.size)
        if measured < self.rate and index > 0:
            self._barred[self.size] = at + self.BARRED
            return self._move(self.sizes[index - 1])
        if index + 1 < len(self.sizes):
            larger = self.sizes[index + 1]
            expected = measured * (self.size / larger) ** 2  # a frame's work grows with its area
            if expected >= self.rate * self.MARGIN and self._barred.get(larger, 0.0) <= at:
                return self._move(larger)
        self._times = self._times[-int(self.HOLD * max(measured, 1.0)) :]  # the last HOLD seconds
        return self.size

    def _move(self, size: int) -> int:
        self.size, self._times = size, []
        return size
