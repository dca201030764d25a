"""Process-wide allocator policy for long gradient-ascent loops on the CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import Optional

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(largest_reused: int = 256 * 2**20) -> bool:
    """Let glibc keep freed blocks up to ``largest_reused`` bytes for reuse instead of returning them.

    Every step allocates and frees the same activations (a VGG-16 layer at 256² is 16 MiB); by
    default glibc serves blocks this large with ``mmap`` and unmaps them on free, so every step
    faults the same pages in again (zeroed by the kernel). Keeping them in the heap removes that churn.
    Called once the network is built, so its one-off temporaries have already been returned; undone
    by ``release_freed_memory`` once the dreaming is over. Returns whether the policy was applied
    (glibc only; elsewhere nothing changes).
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, largest_reused)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, 4 * largest_reused)
    )


def release_freed_memory() -> None:
    """Hand the blocks kept by ``keep_freed_memory`` back to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.lru_cache(maxsize=1)
def _glibc() -> Optional[ctypes.CDLL]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):  # not glibc (musl, or no C library found)
        return None
    return libc
