"""GPU copies between a staging buffer and an image's planes, with the queue family ownership transfers
that hand an image to another device or driver (VK_QUEUE_FAMILY_EXTERNAL) or to the CPU and other
dma-buf users (VK_QUEUE_FAMILY_FOREIGN_EXT).

The staging buffer holds the planes tightly packed one after the other, as Format.pattern makes them. A
readback's staging buffer is a storage buffer too, so a compute shader can work on the planes where the
copy left them (the NV12/P010 to RGBA conversion).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vkzc.conformance.formats import Bytes, Format
from vkzc.conformance.modifier_images import ModifierImage
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE, select_memory_type
from vkzc.vk.resources import Buffer

vk = load()

EXTERNAL = vk.VK_QUEUE_FAMILY_EXTERNAL
FOREIGN = vk.VK_QUEUE_FAMILY_FOREIGN_EXT
IGNORED = vk.VK_QUEUE_FAMILY_IGNORED
FOREIGN_EXTENSION = "VK_EXT_queue_family_foreign"
# The layout an image is handed over in: the one every user of the memory understands.
SHARED_LAYOUT = vk.VK_IMAGE_LAYOUT_GENERAL


_STAGING = vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT


def staging_buffer(device: Device, size: int, usage: int = _STAGING) -> tuple[Buffer, Bytes]:
    """A host-visible, coherent buffer of `size` bytes and its mapping (for the GPU's copies in and out)."""
    buffer = Buffer(device, size, usage)
    memory_type = select_memory_type(
        device.memory_types, buffer.requirements.type_bits, HOST_VISIBLE | HOST_COHERENT
    )
    if memory_type is None:
        raise RuntimeError(f"no HOST_VISIBLE|HOST_COHERENT memory type for a {size}-byte staging buffer")
    memory = device.allocate(buffer.requirements.size, memory_type)
    buffer.bind(memory)
    return buffer, memory.map(0, size)


def _regions(fmt: Format, width: int, height: int, offset: int = 0) -> list[Any]:
    """One copy per plane, the planes tightly packed from `offset` of the buffer."""
    regions = []
    for index, (plane, size) in enumerate(zip(fmt.planes, fmt.plane_bytes(width, height), strict=True)):
        plane_width, plane_height = plane.extent(width, height)
        regions.append(
            vk.VkBufferImageCopy(
                bufferOffset=offset,
                bufferRowLength=0,  # tightly packed
                bufferImageHeight=0,
                imageSubresource=vk.VkImageSubresourceLayers(
                    aspectMask=fmt.aspect(index), mipLevel=0, baseArrayLayer=0, layerCount=1
                ),
                imageOffset=vk.VkOffset3D(x=0, y=0, z=0),
                imageExtent=vk.VkExtent3D(width=plane_width, height=plane_height, depth=1),
            )
        )
        offset += size
    return regions


def _image_barrier(
    image: ModifierImage,
    old: int,
    new: int,
    *,
    src_access: int = 0,
    dst_access: int = 0,
    src_family: int = IGNORED,
    dst_family: int = IGNORED,
) -> Any:
    return vk.VkImageMemoryBarrier(
        sType=vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
        srcAccessMask=src_access,
        dstAccessMask=dst_access,
        oldLayout=old,
        newLayout=new,
        srcQueueFamilyIndex=src_family,
        dstQueueFamilyIndex=dst_family,
        image=image.handle,
        # COLOR names every plane of a multi-planar image, disjoint or not.
        subresourceRange=vk.VkImageSubresourceRange(
            aspectMask=vk.VK_IMAGE_ASPECT_COLOR_BIT,
            baseMipLevel=0,
            levelCount=1,
            baseArrayLayer=0,
            layerCount=1,
        ),
    )


def _barrier(cmd: Any, src_stage: int, dst_stage: int, barrier: Any) -> None:
    vk.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, None, 0, None, 1, [barrier])


def upload(
    device: Device,
    image: ModifierImage,
    fmt: Format,
    size: tuple[int, int],
    planes: Sequence[Bytes],
    *,
    release_to: int,
    old_layout: int = vk.VK_IMAGE_LAYOUT_UNDEFINED,
) -> None:
    """The GPU copies `planes` into the image (every texel of every plane), then releases the image to
    `release_to` in SHARED_LAYOUT. UNDEFINED as `old_layout` lets the driver drop the old contents, which
    the copy replaces; an image whose bytes between rows must survive passes its current layout."""
    data = np.concatenate(planes)
    staging, mapped = staging_buffer(device, data.size)
    mapped[:] = data
    regions = _regions(fmt, *size)
    family = device.queue_family

    def record(cmd: Any) -> None:
        _barrier(
            cmd,
            vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            _image_barrier(
                image,
                old_layout,
                vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                dst_access=vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            ),
        )
        vk.vkCmdCopyBufferToImage(
            cmd, staging.handle, image.handle, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, len(regions), regions
        )
        # The release half of the ownership transfer: the other side acquires with the same layouts.
        _barrier(
            cmd,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
            _image_barrier(
                image,
                vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                SHARED_LAYOUT,
                src_access=vk.VK_ACCESS_TRANSFER_WRITE_BIT,
                src_family=family,
                dst_family=release_to,
            ),
        )

    device.submit(record)


@dataclass(frozen=True, kw_only=True)
class Readback:
    """The planes of one or more images, copied one after the other, tightly packed, into `buffer` (a
    storage buffer, host-visible), and those planes' bytes as the host reads them."""

    buffer: Buffer
    planes: tuple[Bytes, ...]


def read_back(
    device: Device,
    images: Sequence[tuple[ModifierImage, Format, tuple[int, int]]],
    *,
    acquire_from: int,
) -> Readback:
    """Acquire each image from `acquire_from` (in SHARED_LAYOUT) and copy every plane of every (image,
    format, size) into one buffer, in order. The images stay with this device, in TRANSFER_SRC_OPTIMAL."""
    sizes = [list(fmt.plane_bytes(*size)) for _, fmt, size in images]
    total = sum(sum(s) for s in sizes)
    # Whole words: a shader reads the buffer as 32-bit words (NV12 of 130x66 is 12870 bytes).
    staging, mapped = staging_buffer(
        device,
        -(-total // 4) * 4,
        vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT | vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
    )
    copies = []
    offset = 0
    for (image, fmt, size), plane_sizes in zip(images, sizes, strict=True):
        copies.append((image, _regions(fmt, *size, offset)))
        offset += sum(plane_sizes)
    family = device.queue_family

    def record(cmd: Any) -> None:
        for image, regions in copies:
            _barrier(
                cmd,
                vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                # The acquire half of the transfer the other side released.
                _image_barrier(
                    image,
                    SHARED_LAYOUT,
                    vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                    dst_access=vk.VK_ACCESS_TRANSFER_READ_BIT,
                    src_family=acquire_from,
                    dst_family=family,
                ),
            )
            vk.vkCmdCopyImageToBuffer(
                cmd,
                image.handle,
                vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                staging.handle,
                len(regions),
                regions,
            )
        # For the host's reads, and for a compute shader's, which a later submission records.
        done = vk.VkMemoryBarrier(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            srcAccessMask=vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            dstAccessMask=vk.VK_ACCESS_HOST_READ_BIT | vk.VK_ACCESS_SHADER_READ_BIT,
        )
        vk.vkCmdPipelineBarrier(
            cmd,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_PIPELINE_STAGE_HOST_BIT | vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            0,
            1,
            [done],
            0,
            None,
            0,
            None,
        )

    device.submit(record)
    found = []
    offset = 0
    for plane_size in (s for image_sizes in sizes for s in image_sizes):
        found.append(mapped[offset : offset + plane_size].copy())
        offset += plane_size
    return Readback(buffer=staging, planes=tuple(found))


def download(
    device: Device, image: ModifierImage, fmt: Format, size: tuple[int, int], *, acquire_from: int
) -> tuple[Bytes, ...]:
    """Acquire the image from `acquire_from` (in SHARED_LAYOUT), copy every plane out, and return the
    planes' bytes. The image stays with this device, in TRANSFER_SRC_OPTIMAL."""
    return read_back(device, [(image, fmt, size)], acquire_from=acquire_from).planes


def first_difference(
    fmt: Format, actual: Sequence[Bytes], expected: Sequence[Bytes], where: str
) -> str | None:
    """None when every plane's significant bits are equal, else which plane and byte first differ."""
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        got, want = fmt.significant(got), fmt.significant(want)
        bad = np.flatnonzero(got != want)
        if bad.size:
            first = int(bad[0])
            return (
                f"plane {index} {where}: byte {first} of {got.size} is 0x{int(got[first]):02x}, "
                f"expected 0x{int(want[first]):02x} ({bad.size} bytes differ)"
            )
    return None
