"""A dma-buf fd with its size, CPU mapping, and what its exporter releases with it; the Exporter protocol."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vkzc.dmabuf import sync


class DmaBuf:
    """An owned dma-buf fd. `size` is what the kernel says the buffer holds: at least what was asked for,
    as exporters round up to pages (or rows)."""

    def __init__(self, fd: int, *, exporter: str, release: Callable[[], None] | None = None) -> None:
        self.fd = fd
        self.exporter = exporter
        # dma-buf's llseek answers SEEK_END with the buffer's size (and nothing else).
        self.size = os.lseek(fd, 0, os.SEEK_END)
        self._release = release

    def __enter__(self) -> DmaBuf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def dup(self) -> int:
        """A second fd for the same buffer: what an import consumes, so the original stays ours."""
        return os.dup(self.fd)

    @contextmanager
    def mapped(self, access: int) -> Iterator[npt.NDArray[np.uint8]]:
        """The whole buffer as bytes, mapped MAP_SHARED and bracketed by DMA_BUF_IOCTL_SYNC for `access`.

        Use the array only inside the block. The mapping is not closed explicitly: it goes with the
        last view of it, so a view kept past the block cannot point at unmapped memory.
        """
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if access & sync.WRITE else 0)
        mapping = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, prot)
        with sync.cpu_access(self.fd, access):
            yield np.frombuffer(mapping, dtype=np.uint8)

    def close(self) -> None:
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        if self._release is not None:
            self._release()


class Exporter(Protocol):
    @property
    def name(self) -> str:
        """The exporter's part of case ids: udmabuf, dma-heap, vulkan, vgem, ..."""
        ...

    def available(self) -> str | None:
        """None when allocate() can work on this machine, else exactly why not."""
        ...

    def size_unsupported(self, size: int) -> str | None:
        """None when the exporter can make a dma-buf of at least `size` bytes, else why not."""
        ...

    def allocate(self, size: int) -> DmaBuf:
        """A new dma-buf of at least `size` bytes, readable and writable, owned by the caller."""
        ...

    def close(self) -> None:
        """Release what the exporter keeps between allocations (a device, a library handle)."""
        ...
