"""Page-aligned host memory owned by Python, for host-pointer import: anonymous or memfd-backed.

The two sources differ where drivers differ: some import only anonymous memory and reject
pointers into fd-backed (shmem) mappings.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SOURCES = ("anon", "memfd")


@dataclass
class HostAllocation:
    """`size` bytes at an address aligned to `alignment`, viewed as `words` (uint32)."""

    mapping: mmap.mmap
    address: int
    size: int
    words: npt.NDArray[np.uint32]
    fd: int | None

    def close(self) -> None:
        del self.words
        self.mapping.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def allocate(source: str, size: int, alignment: int) -> HostAllocation:
    """mmap() gives page alignment; a larger alignment is met by mapping more and starting inside."""
    slack = max(alignment - mmap.PAGESIZE, 0)
    length = size + slack
    fd = None
    if source == "anon":
        mapping = mmap.mmap(-1, length, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    elif source == "memfd":
        fd = os.memfd_create("vkzc-host-pointer", os.MFD_CLOEXEC)
        os.ftruncate(fd, length)
        mapping = mmap.mmap(fd, length, flags=mmap.MAP_SHARED)
    else:
        raise ValueError(f"unknown host memory source {source!r}; one of {SOURCES}")
    base = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
    start = -base % alignment
    words = np.frombuffer(mapping, dtype=np.uint32, count=size // 4, offset=start)
    return HostAllocation(mapping=mapping, address=base + start, size=size, words=words, fd=fd)
