"""Memory types, their selection by property flags, and device memory with its CPU mapping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vkzc.vk.binding import load
from vkzc.vk.errors import call

if TYPE_CHECKING:
    from vkzc.vk.device import Device

vk = load()

# Bits the binding lacks names for are spelled as numbers (VkMemoryPropertyFlagBits).
_PROPERTY_NAMES = (
    (vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "DEVICE_LOCAL"),
    (vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "HOST_VISIBLE"),
    (vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "HOST_COHERENT"),
    (vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "HOST_CACHED"),
    (0x10, "LAZILY_ALLOCATED"),
    (0x20, "PROTECTED"),
    (0x40, "DEVICE_COHERENT_AMD"),
    (0x80, "DEVICE_UNCACHED_AMD"),
    (0x100, "RDMA_CAPABLE_NV"),
)
HOST_VISIBLE = vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
HOST_COHERENT = vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
HOST_CACHED = vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT
DEVICE_LOCAL = vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT


def property_names(flags: int) -> list[str]:
    return [name for bit, name in _PROPERTY_NAMES if flags & bit]


@dataclass(frozen=True, kw_only=True)
class MemoryType:
    index: int
    flags: int
    heap_index: int
    heap_size: int
    heap_device_local: bool

    @property
    def label(self) -> str:
        """The property flags as a case-id fragment, e.g. HOST_VISIBLE|HOST_COHERENT ("NONE" for 0)."""
        return "|".join(property_names(self.flags)) or "NONE"

    def has(self, flags: int) -> bool:
        return self.flags & flags == flags


def memory_types(memory_properties: Any) -> tuple[MemoryType, ...]:
    heaps = memory_properties.memoryHeaps
    return tuple(
        MemoryType(
            index=i,
            flags=t.propertyFlags,
            heap_index=t.heapIndex,
            heap_size=heaps[t.heapIndex].size,
            heap_device_local=bool(heaps[t.heapIndex].flags & vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT),
        )
        for i, t in ((i, memory_properties.memoryTypes[i]) for i in range(memory_properties.memoryTypeCount))
    )


def select_memory_type(
    types: Sequence[MemoryType], type_bits: int, required: int, preferred: int = 0
) -> MemoryType | None:
    """The allowed type with every `required` flag and the most `preferred` ones; the lowest index wins a tie,
    as drivers order their types by preference."""
    allowed = [t for t in types if type_bits & (1 << t.index) and t.has(required)]
    if not allowed:
        return None
    return max(allowed, key=lambda t: (bin(t.flags & preferred).count("1"), -t.index))


class Memory:
    """A VkDeviceMemory allocation; freed by its device if not before."""

    def __init__(self, device: Device, size: int, memory_type: MemoryType, *chain: Any) -> None:
        from vkzc.vk.instance import link

        self.device = device
        self.size = size
        self.type = memory_type
        info = vk.VkMemoryAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            allocationSize=size,
            memoryTypeIndex=memory_type.index,
        )
        link(info, *chain)
        self.handle = call("vkAllocateMemory", device.handle, info, None)
        self._mapped: Any = None
        device.own(self)

    def map(self, offset: int = 0, size: int | None = None) -> npt.NDArray[np.uint8]:
        """The CPU's view of [offset, offset+size) of this memory: a writable byte array over the mapping."""
        size = self.size - offset if size is None else size
        self._mapped = call("vkMapMemory", self.device.handle, self.handle, offset, size, 0)
        return np.frombuffer(self._mapped, dtype=np.uint8)

    def unmap(self) -> None:
        if self._mapped is not None:
            vk.vkUnmapMemory(self.device.handle, self.handle)
            self._mapped = None

    def _range(self, offset: int, size: int) -> Any:
        return vk.VkMappedMemoryRange(
            sType=vk.VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, memory=self.handle, offset=offset, size=size
        )

    def flush(self, offset: int, size: int) -> None:
        """Make CPU writes in a mapped range visible to the device (needed unless HOST_COHERENT)."""
        call("vkFlushMappedMemoryRanges", self.device.handle, 1, [self._range(offset, size)])

    def invalidate(self, offset: int, size: int) -> None:
        """Make device writes in a mapped range visible to the CPU (needed unless HOST_COHERENT)."""
        call("vkInvalidateMappedMemoryRanges", self.device.handle, 1, [self._range(offset, size)])

    def destroy(self) -> None:
        if self.handle is not None:
            self.unmap()
            vk.vkFreeMemory(self.device.handle, self.handle, None)
            self.handle = None
