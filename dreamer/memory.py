"""Process-wide allocator policy for long gradient-ascent loops on the CPU."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(largest_reused: int = 256 * 2**20) -> bool:
    """Let glibc keep freed blocks up to ``largest_reused`` bytes for reuse instead of returning them.

    Every step allocates and frees the same activations (a VGG-16 layer at 256² is 16 MiB); by
    default glibc serves blocks this large with ``mmap`` and unmaps them on free, so every step
    faults the same pages in again (zeroed by the kernel). Keeping them in the heap removes that churn.
    Called once the network is built, so its one-off temporaries have already been returned.
    Returns whether the policy was applied (glibc only; elsewhere nothing changes).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, largest_reused)) and bool(mallopt(_M_TRIM_THRESHOLD, 4 * largest_reused))
