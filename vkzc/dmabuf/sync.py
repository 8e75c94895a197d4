"""CPU access brackets and implicit fences of any dma-buf (linux/dma-buf.h).

A CPU that touches a dma-buf's mapping must say so first (DMA_BUF_IOCTL_SYNC START) and
after (END): exporters with non-coherent caches flush or invalidate there, and START waits for
the device's pending work. EXPORT_SYNC_FILE (Linux 6.0) hands the buffer's implicit fences out
as a sync_file fd, which Vulkan waits on as a SYNC_FD semaphore.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

from vkzc.dmabuf.ioctl import ioctl, iow, iowr

READ = 1 << 0
WRITE = 2 << 0
START = 0 << 2
END = 1 << 2


class DmaBufSync(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64),)


class DmaBufExportSyncFile(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint32), ("fd", ctypes.c_int32))


DMA_BUF_IOCTL_SYNC = iow("b", 0, DmaBufSync)
DMA_BUF_IOCTL_EXPORT_SYNC_FILE = iowr("b", 2, DmaBufExportSyncFile)


def sync(fd: int, flags: int) -> None:
    ioctl(fd, "DMA_BUF_IOCTL_SYNC", DMA_BUF_IOCTL_SYNC, DmaBufSync(flags=flags))


@contextmanager
def cpu_access(fd: int, access: int) -> Iterator[None]:
    """Bracket CPU access (READ, WRITE or both) to the dma-buf's mapping with SYNC START and END."""
    sync(fd, START | access)
    try:
        yield
    finally:
        sync(fd, END | access)


def export_sync_file(fd: int, access: int) -> int:
    """A sync_file fd that signals when the fences `access` must wait for have signalled.

    READ waits for the buffer's writers, WRITE for every user. Raises OSError(ENOTTY) on a
    kernel older than 6.0.
    """
    arg = DmaBufExportSyncFile(flags=access, fd=-1)
    ioctl(fd, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE", DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg)
    return int(arg.fd)
