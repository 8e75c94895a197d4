"""What a decoder pipeline pays per frame to hand a buffer to Vulkan by file descriptor.

The exporter (the decoder's side) exports its memory once as an opaque fd. A pipeline then either
imports the fd afresh every frame (dup, a buffer, vkAllocateMemory with the fd, bind, and both
freed after the frame) or keeps its imports in a cache keyed by the buffer's identity, as
compositors do for dma-bufs: fstat's (device, inode) names the buffer whatever fd number it
arrives under.
"""

from __future__ import annotations

import os

from vkzc.bench.catalog import require
from vkzc.bench.routes import Unsupported
from vkzc.conformance import external
from vkzc.vk.device import Device


class Exported:
    """A storage buffer whose memory was exported once as an opaque fd, closed with the device scope."""

    def __init__(self, device: Device, size: int) -> None:
        for extension in external.FD_EXTENSIONS:
            require(device, extension)
        self.support = external.buffer_support(device.physical, external.OPAQUE_FD)
        if not (self.support.exportable and self.support.importable):
            raise Unsupported(
                f"opaque-fd storage buffers are not both exportable and importable "
                f"(features 0x{self.support.features:x})"
            )
        self.device = device
        self.size = size
        self.shared = external.export_buffer(device, size, external.OPAQUE_FD, self.support)
        self.fd: int | None = external.memory_fd(device, self.shared.memory, external.OPAQUE_FD)
        device.own(self)

    def import_once(self) -> external.SharedBuffer:
        """One frame's import, from a dup of the fd (the import owns what it is given); the device
        scope frees it."""
        assert self.fd is not None
        return external.import_buffer(
            self.device,
            os.dup(self.fd),
            self.size,
            external.OPAQUE_FD,
            self.support,
            # Opaque fds import only into the exporter's memory type and allocation size.
            memory_type=self.shared.memory.type,
            allocation_size=self.shared.memory.size,
        )

    def destroy(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class ImportCache:
    """Imports kept per buffer identity, so that a buffer seen again costs an fstat and a lookup."""

    def __init__(self) -> None:
        self._imports: dict[tuple[int, int], external.SharedBuffer] = {}

    def get(self, exported: Exported) -> external.SharedBuffer:
        assert exported.fd is not None
        status = os.fstat(exported.fd)
        key = (status.st_dev, status.st_ino)
        shared = self._imports.get(key)
        if shared is None:
            shared = self._imports[key] = exported.import_once()
        return shared
