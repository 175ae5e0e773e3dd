"""Giving freed memory back to the operating system.

glibc keeps what a process freed in its heaps for reuse; after a burst of large allocations
(embedding a batch of documents at start-up or ingestion) that stays in the process's RSS
for good. ``malloc_trim`` returns it. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_free_memory() -> None:
    trim = _trim()
    if trim is not None:
        trim(0)
