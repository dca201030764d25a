"""What every process of a run has: one value per process, gathered to all of them."""

from __future__ import annotations

from typing import TypeVar

import torch.distributed as dist

T = TypeVar("T")


def everyone(mine: T, world_size: int) -> list[T]:
    """Each process's ``mine``, in rank order (``[mine]`` alone in a single-process run). Every
    process must call it, and at the same point: it waits for all of them."""
    if world_size == 1 or not (dist.is_available() and dist.is_initialized()):
        return [mine]
    parts: list[T] = [mine] * world_size
    dist.all_gather_object(parts, mine)
    return parts
