"""Host-pointer import: page-aligned memory owned by Python (anonymous or memfd-backed), and its
import as a Vulkan buffer.

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

from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.errors import check
from vkzc.vk.memory import HOST_COHERENT, Memory, select_memory_type
from vkzc.vk.resources import Buffer

vk = load()
SOURCES = ("anon", "memfd")
HOST_ALLOCATION = vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT


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


class NotImportable(Exception):
    """The driver offers no memory type that can import this pointer for this buffer."""


def host_pointer_alignment(device: Device) -> int:
    """minImportedHostPointerAlignment: where an imported pointer and its size must be aligned."""
    props = vk.VkPhysicalDeviceExternalMemoryHostPropertiesEXT(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT
    )
    device.physical.properties2(props)
    return int(props.minImportedHostPointerAlignment)


def import_host_pointer(device: Device, address: int, size: int, usage: int) -> tuple[Buffer, Memory]:
    """A buffer bound to the caller's own memory at `address` (VK_EXT_external_memory_host), with the
    memory type that vkGetMemoryHostPointerPropertiesEXT allows, coherent where there is a choice."""
    buffer = Buffer(device, size, usage, external_handle_types=HOST_ALLOCATION)
    pointer = vk.ffi.cast("void *", address)
    props = vk.VkMemoryHostPointerPropertiesEXT(sType=vk.VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT)
    check(
        "vkGetMemoryHostPointerPropertiesEXT",
        device.proc("vkGetMemoryHostPointerPropertiesEXT"),
        device.handle,
        HOST_ALLOCATION,
        pointer,
        vk.ffi.addressof(props),
    )
    memory_type = select_memory_type(
        device.memory_types, props.memoryTypeBits & buffer.requirements.type_bits, 0, HOST_COHERENT
    )
    if memory_type is None:
        raise NotImportable(
            f"no memory type imports this pointer for the buffer (pointer bits 0x{props.memoryTypeBits:x}, "
            f"buffer bits 0x{buffer.requirements.type_bits:x})"
        )
    info = vk.VkImportMemoryHostPointerInfoEXT(
        sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
        handleType=HOST_ALLOCATION,
        pHostPointer=pointer,
    )
    memory = device.allocate(size, memory_type, info)
    buffer.bind(memory)
    return buffer, memory
