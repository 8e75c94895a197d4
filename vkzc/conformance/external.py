"""Vulkan external memory through fds: what a device supports, exporting a buffer's memory, importing it.

OPAQUE_FD shares memory between devices of the same driver and device (same deviceUUID);
DMA_BUF shares it with anything that speaks dma-buf. An import consumes its fd, so callers
import a dup() and keep their own fd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.errors import check
from vkzc.vk.formats import ExternalMemoryFeatures
from vkzc.vk.instance import Instance, PhysicalDevice
from vkzc.vk.memory import DEVICE_LOCAL, Memory, MemoryType, select_memory_type
from vkzc.vk.resources import Buffer

vk = load()

OPAQUE_FD = vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT
DMA_BUF = vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT
HANDLE_TYPE_NAMES = {OPAQUE_FD: "OPAQUE_FD", DMA_BUF: "DMA_BUF"}
FD_EXTENSIONS = ("VK_KHR_external_memory", "VK_KHR_external_memory_fd")
DMA_BUF_EXTENSIONS = (*FD_EXTENSIONS, "VK_EXT_external_memory_dma_buf")


def buffer_support(physical: PhysicalDevice, handle_type: int) -> ExternalMemoryFeatures:
    info = vk.VkPhysicalDeviceExternalBufferInfo(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO, usage=STORAGE, handleType=handle_type
    )
    out = vk.VkExternalBufferProperties(sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES)
    # Returns void: an unsupported handle type reads as no features at all.
    vk.vkGetPhysicalDeviceExternalBufferProperties(
        physical.handle, vk.ffi.addressof(info), vk.ffi.addressof(out)
    )
    return ExternalMemoryFeatures.of(out.externalMemoryProperties)


@dataclass(frozen=True, kw_only=True)
class SharedBuffer:
    """A storage buffer bound at offset 0 to exported or imported memory."""

    buffer: Buffer
    memory: Memory

    @property
    def words(self) -> int:
        return self.buffer.size // 4

    def destroy(self) -> None:
        self.buffer.destroy()
        self.memory.destroy()


def _chain(support: ExternalMemoryFeatures, buffer: Buffer, first: Any) -> list[Any]:
    chain = [first]
    if support.dedicated_only:
        chain.append(
            vk.VkMemoryDedicatedAllocateInfo(
                sType=vk.VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, buffer=buffer.handle
            )
        )
    return chain


def export_buffer(
    device: Device, size: int, handle_type: int, support: ExternalMemoryFeatures, *, usage: int = STORAGE
) -> SharedBuffer:
    """A buffer (storage, unless `usage` says otherwise) whose memory can be exported as `handle_type`
    (device-local memory preferred)."""
    buffer = Buffer(device, size, usage, external_handle_types=handle_type)
    memory_type = select_memory_type(device.memory_types, buffer.requirements.type_bits, 0, DEVICE_LOCAL)
    if memory_type is None:
        raise RuntimeError(f"no memory type for a {size}-byte exportable storage buffer")
    export = vk.VkExportMemoryAllocateInfo(
        sType=vk.VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, handleTypes=handle_type
    )
    memory = device.allocate(buffer.requirements.size, memory_type, *_chain(support, buffer, export))
    buffer.bind(memory)
    return SharedBuffer(buffer=buffer, memory=memory)


def memory_fd(device: Device, memory: Memory, handle_type: int) -> int:
    """A new fd for `memory` (vkGetMemoryFdKHR), owned by the caller."""
    info = vk.VkMemoryGetFdInfoKHR(
        sType=vk.VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, memory=memory.handle, handleType=handle_type
    )
    return int(check("vkGetMemoryFdKHR", device.proc("vkGetMemoryFdKHR"), device.handle, info))


def dma_buf_type_bits(device: Device, fd: int) -> int:
    """The memory types that can import this dma-buf (vkGetMemoryFdPropertiesKHR)."""
    props = vk.VkMemoryFdPropertiesKHR(sType=vk.VK_STRUCTURE_TYPE_MEMORY_FD_PROPERTIES_KHR)
    check(
        "vkGetMemoryFdPropertiesKHR",
        device.proc("vkGetMemoryFdPropertiesKHR"),
        device.handle,
        DMA_BUF,
        fd,
        vk.ffi.addressof(props),
    )
    return int(props.memoryTypeBits)


def import_buffer(
    device: Device,
    fd: int,
    size: int,
    handle_type: int,
    support: ExternalMemoryFeatures,
    *,
    memory_type: MemoryType | None = None,
    allocation_size: int | None = None,
) -> SharedBuffer:
    """A `size`-byte storage buffer on memory imported from `fd`, which this takes over either way.

    DMA_BUF: the memory type is one both vkGetMemoryFdPropertiesKHR and the buffer allow, the
    allocation the buffer's requirement. OPAQUE_FD: the caller gives the exporter's memory type
    and allocation size, as the spec requires.
    """
    try:
        buffer = Buffer(device, size, STORAGE, external_handle_types=handle_type)
        if memory_type is None:
            fd_bits = dma_buf_type_bits(device, fd)
            memory_type = select_memory_type(device.memory_types, fd_bits & buffer.requirements.type_bits, 0)
            if memory_type is None:
                raise RuntimeError(
                    f"no memory type can import this dma-buf as a storage buffer (fd allows 0x{fd_bits:x}, "
                    f"the buffer 0x{buffer.requirements.type_bits:x})"
                )
        info = vk.VkImportMemoryFdInfoKHR(
            sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, handleType=handle_type, fd=fd
        )
        memory = device.allocate(
            allocation_size or buffer.requirements.size, memory_type, *_chain(support, buffer, info)
        )
    except BaseException:
        # A failed import leaves the fd with the caller: close it, as success would have consumed it.
        os.close(fd)
        raise
    buffer.bind(memory)
    return SharedBuffer(buffer=buffer, memory=memory)


def device_uuid(physical: PhysicalDevice) -> bytes:
    ids = vk.VkPhysicalDeviceIDProperties(sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES)
    physical.properties2(ids)
    return bytes(ids.deviceUUID)


def same_device(instance: Instance, uuid: bytes) -> PhysicalDevice:
    """The physical device of `instance` with this deviceUUID: the same device seen by another instance."""
    for physical in instance.devices:
        if device_uuid(physical) == uuid:
            return physical
    raise RuntimeError(f"no device with deviceUUID {uuid.hex()} in the new VkInstance")


def handover(
    writer: Kernels, written: SharedBuffer, reader: Kernels, read: SharedBuffer, *, seed: int
) -> str | None:
    """The writer's GPU fills the pattern, the reader's GPU checks it through its own import of the memory:
    None, or what the reader saw."""
    writer.fill(written.buffer, seed=seed, first=0, count=written.words)
    found = reader.verify(read.buffer, seed=seed, first=0, count=read.words)
    if found.count == 0:
        return None
    return f"{found.count} of {read.words} words differ from what the other side wrote (first {found.first})"
