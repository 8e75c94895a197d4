"""Buffers and images, optionally created for external memory, and their binding to memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vkzc.vk.binding import load
from vkzc.vk.errors import call
from vkzc.vk.instance import link

if TYPE_CHECKING:
    from vkzc.vk.device import Device
    from vkzc.vk.memory import Memory

vk = load()


@dataclass(frozen=True, kw_only=True)
class Requirements:
    size: int
    alignment: int
    type_bits: int


def _requirements(raw: Any) -> Requirements:
    return Requirements(size=raw.size, alignment=raw.alignment, type_bits=raw.memoryTypeBits)


class Buffer:
    def __init__(self, device: Device, size: int, usage: int, *, external_handle_types: int = 0) -> None:
        self.device = device
        self.size = size
        info = vk.VkBufferCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
            size=size,
            usage=usage,
            sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
        )
        external = vk.VkExternalMemoryBufferCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO, handleTypes=external_handle_types
        )
        if external_handle_types:
            link(info, external)
        self.handle = call("vkCreateBuffer", device.handle, info, None)
        self.requirements = _requirements(vk.vkGetBufferMemoryRequirements(device.handle, self.handle))
        self.memory: Memory | None = None
        device.own(self)

    def bind(self, memory: Memory, offset: int = 0) -> None:
        call("vkBindBufferMemory", self.device.handle, self.handle, memory.handle, offset)
        self.memory = memory

    def destroy(self) -> None:
        if self.handle is not None:
            vk.vkDestroyBuffer(self.device.handle, self.handle, None)
            self.handle = None


class Image:
    """A 2D image; `chain` carries extra create infos (DRM format modifier lists, explicit layouts)."""

    def __init__(
        self,
        device: Device,
        *,
        format: int,
        width: int,
        height: int,
        usage: int,
        tiling: int = vk.VK_IMAGE_TILING_OPTIMAL,
        flags: int = 0,
        external_handle_types: int = 0,
        chain: tuple[Any, ...] = (),
    ) -> None:
        self.device = device
        self.format = format
        self.width = width
        self.height = height
        info = vk.VkImageCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
            flags=flags,
            imageType=vk.VK_IMAGE_TYPE_2D,
            format=format,
            extent=vk.VkExtent3D(width=width, height=height, depth=1),
            mipLevels=1,
            arrayLayers=1,
            samples=vk.VK_SAMPLE_COUNT_1_BIT,
            tiling=tiling,
            usage=usage,
            sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
            initialLayout=vk.VK_IMAGE_LAYOUT_UNDEFINED,
        )
        structs = list(chain)
        if external_handle_types:
            structs.append(
                vk.VkExternalMemoryImageCreateInfo(
                    sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO,
                    handleTypes=external_handle_types,
                )
            )
        link(info, *structs)
        self.handle = call("vkCreateImage", device.handle, info, None)
        self.requirements = _requirements(vk.vkGetImageMemoryRequirements(device.handle, self.handle))
        self.memory: Memory | None = None
        device.own(self)

    def bind(self, memory: Memory, offset: int = 0) -> None:
        call("vkBindImageMemory", self.device.handle, self.handle, memory.handle, offset)
        self.memory = memory

    def destroy(self) -> None:
        if self.handle is not None:
            vk.vkDestroyImage(self.device.handle, self.handle, None)
            self.handle = None
