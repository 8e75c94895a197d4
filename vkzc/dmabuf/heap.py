"""DMA heaps: dma-bufs from /dev/dma_heap/<heap> (linux/dma-heap.h, CONFIG_DMABUF_HEAPS_SYSTEM)."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.ioctl import ioctl, iowr
from vkzc.dmabuf.nodes import node_unavailable


class DmaHeapAllocationData(ctypes.Structure):
    _fields_ = (
        ("len", ctypes.c_uint64),
        ("fd", ctypes.c_uint32),
        ("fd_flags", ctypes.c_uint32),
        ("heap_flags", ctypes.c_uint64),
    )


DMA_HEAP_IOCTL_ALLOC = iowr("H", 0x0, DmaHeapAllocationData)


@dataclass(frozen=True)
class DmaHeap:
    name: str = "dma-heap"
    heap: str = "system"

    @property
    def node(self) -> Path:
        return Path("/dev/dma_heap") / self.heap

    def available(self) -> str | None:
        return node_unavailable(
            self.node, sysfs=Path("/sys/class/dma_heap") / self.heap, lacking="CONFIG_DMABUF_HEAPS_SYSTEM"
        )

    def size_unsupported(self, size: int) -> str | None:
        # The heap rounds any length up to whole pages.
        return None

    def allocate(self, size: int) -> DmaBuf:
        # Heaps are opened read-only; the access of the dma-buf itself is in fd_flags.
        heap = os.open(self.node, os.O_RDONLY | os.O_CLOEXEC)
        try:
            arg = DmaHeapAllocationData(len=size, fd=0, fd_flags=os.O_RDWR | os.O_CLOEXEC, heap_flags=0)
            ioctl(heap, "DMA_HEAP_IOCTL_ALLOC", DMA_HEAP_IOCTL_ALLOC, arg)
        finally:
            os.close(heap)
        return DmaBuf(int(arg.fd), exporter=self.name)

    def close(self) -> None:
        pass
