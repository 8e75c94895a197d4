"""udmabuf: a dma-buf over the pages of a sealed memfd (linux/udmabuf.h, CONFIG_UDMABUF)."""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.ioctl import ioctl, iow
from vkzc.dmabuf.nodes import node_unavailable

DEVICE = Path("/dev/udmabuf")
SYSFS = Path("/sys/class/misc/udmabuf")
SIZE_LIMIT = Path("/sys/module/udmabuf/parameters/size_limit_mb")
UDMABUF_FLAGS_CLOEXEC = 0x01


class UdmabufCreate(ctypes.Structure):
    _fields_ = (
        ("memfd", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("offset", ctypes.c_uint64),
        ("size", ctypes.c_uint64),
    )


UDMABUF_CREATE = iow("u", 0x42, UdmabufCreate)


@dataclass(frozen=True)
class Udmabuf:
    name: str = "udmabuf"

    def available(self) -> str | None:
        return node_unavailable(DEVICE, sysfs=SYSFS, lacking="CONFIG_UDMABUF")

    def size_unsupported(self, size: int) -> str | None:
        if size % mmap.PAGESIZE:
            return (
                f"udmabuf hands out whole pages: UDMABUF_CREATE refuses {size} bytes "
                f"(not a multiple of {mmap.PAGESIZE})"
            )
        # The module parameter caps one buffer (64 MiB by default); absent on kernels without it.
        if SIZE_LIMIT.exists():
            limit = int(SIZE_LIMIT.read_text()) << 20
            if size > limit:
                return f"udmabuf's size_limit_mb allows {limit} bytes per buffer, not {size}"
        return None

    def allocate(self, size: int) -> DmaBuf:
        memfd = os.memfd_create("vkzc-udmabuf", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(memfd, size)
            # udmabuf pins the memfd's pages: it insists that they cannot be truncated away.
            fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
            device = os.open(DEVICE, os.O_RDWR | os.O_CLOEXEC)
            try:
                arg = UdmabufCreate(memfd=memfd, flags=UDMABUF_FLAGS_CLOEXEC, offset=0, size=size)
                fd = ioctl(device, "UDMABUF_CREATE", UDMABUF_CREATE, arg)
            finally:
                os.close(device)
        finally:
            # The dma-buf holds the pages; the memfd is not needed once it exists.
            os.close(memfd)
        return DmaBuf(fd, exporter=self.name)

    def close(self) -> None:
        pass
