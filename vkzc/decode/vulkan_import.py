"""A DRM PRIME frame into Vulkan, by one of three routes, and the GPU's reading of its Y and CbCr planes.

multi-planar  one G8_B8R8_2PLANE_420 / G10X6_B10X6R10X6_2PLANE_420 image with the frame's modifier and
              explicit plane layouts; two objects make it DISJOINT, one memory bound per plane
              (VkBindImagePlaneMemoryInfo)
two-layer     one single-plane image per plane, R8 + R8G8 (R16 + R16G16 for P010), bound to the same
              dma-buf(s) at their layouts' offsets: FFmpeg's vulkan_map_from_drm
buffer        each dma-buf imported as a VkBuffer and the planes addressed by offset and pitch: the last
              resort, for LINEAR frames only

Each route first asks the driver (modifier list, vkGetPhysicalDeviceImageFormatProperties2 or
vkGetPhysicalDeviceExternalBufferProperties) and raises Unsupported with its answer when it says no.
Reading is a GPU copy into a host-visible staging buffer, planes tightly packed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vkzc.conformance import capabilities
from vkzc.conformance.external import DMA_BUF, buffer_support, dma_buf_type_bits
from vkzc.conformance.formats import BY_NAME, LAYERS, Bytes, Format
from vkzc.conformance.image_transfer import EXTERNAL, FOREIGN, FOREIGN_EXTENSION, download, staging_buffer
from vkzc.conformance.modifier_images import (
    ImageSpec,
    ModifierImage,
    PlaneLayout,
    import_memory,
    import_shared,
)
from vkzc.conformance.modifier_queries import DISJOINT_FEATURE, listed, modifier_name, query
from vkzc.conformance.target import Target
from vkzc.conformance.yuv import YuvLayout
from vkzc.decode.drm_descriptor import DrmFrame
from vkzc.probe.modifiers import LINEAR
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.formats import MODIFIER_EXTENSION, ExternalMemoryFeatures
from vkzc.vk.memory import select_memory_type
from vkzc.vk.resources import Buffer

vk = load()

ROUTES = ("multi-planar", "two-layer", "buffer")
FORMATS = {8: BY_NAME["G8_B8R8_2PLANE_420_UNORM"], 10: BY_NAME["G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16"]}
USAGE = vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT


class Unsupported(Exception):
    """The driver's own answer that a route cannot take this frame."""


Planes = tuple[Bytes, Bytes]


@dataclass(frozen=True, kw_only=True)
class Imported:
    route: str
    read: Callable[[], Planes]  # the GPU copies the imported Y and CbCr out, tightly packed


def _family(device: Device) -> int:
    return FOREIGN if FOREIGN_EXTENSION in device.extensions else EXTERNAL


def _modifier(drm: DrmFrame) -> int:
    modifiers = {o.modifier for o in drm.objects}
    if len(modifiers) != 1:
        raise Unsupported(f"the frame's objects carry different modifiers: {sorted(modifiers)}")
    return modifiers.pop()


def _image_support(
    target: Target, fmt: Format, modifier: int, flags: int, what: str
) -> ExternalMemoryFeatures:
    reason = capabilities.missing_extension(target, MODIFIER_EXTENSION)
    if reason:
        raise Unsupported(reason)
    entries = listed(target.physical, fmt)
    reason = capabilities.modifier_not_listed(target, fmt.name, modifier, entries)
    if reason:
        raise Unsupported(reason)
    answer = query(target.physical, fmt, modifier, USAGE, DMA_BUF, flags=flags)
    reason = capabilities.modifier_image_unsupported(target, what, answer, export=False)
    if reason:
        raise Unsupported(reason)
    if flags:
        entry = next(m for m in entries if m.value == modifier)
        reason = capabilities.modifier_lacks_feature(
            target, what, "DISJOINT", DISJOINT_FEATURE, entry.features
        ) or capabilities.disjoint_needs_dedicated(target, what, answer)
        if reason:
            raise Unsupported(reason)
    return ExternalMemoryFeatures(features=answer.external.features if answer.external else 0)


def _layout(drm: DrmFrame, plane: int) -> PlaneLayout:
    p = drm.planes[plane]
    return PlaneLayout(offset=p.offset, size=0, row_pitch=p.pitch)


def _multi_planar(target: Target, device: Device, drm: DrmFrame, depth: int) -> Imported:
    fmt = FORMATS[depth]
    modifier = _modifier(drm)
    disjoint = len(drm.objects) > 1
    spec = ImageSpec(format=fmt, width=drm.width, height=drm.height, usage=USAGE, disjoint=disjoint)
    what = (
        f"{'DISJOINT ' if disjoint else ''}{fmt.name} {modifier_name(modifier)} images imported from DMA_BUF"
    )
    support = _image_support(target, fmt, modifier, spec.flags, what)
    layouts = tuple(_layout(drm, i) for i in range(len(drm.planes)))
    image = ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(modifier, layouts))
    import_memory(image, support, [os.dup(o.fd) for o in drm.objects])

    def read() -> Planes:
        y, uv = download(device, image, fmt, (drm.width, drm.height), acquire_from=_family(device))
        return y, uv

    return Imported(route="multi-planar", read=read)


def _two_layer(target: Target, device: Device, drm: DrmFrame, depth: int) -> Imported:
    fmt = FORMATS[depth]
    modifier = _modifier(drm)
    images = []
    supports = []
    for index, plane in enumerate(fmt.planes):
        layer = LAYERS[plane.layer]
        what = f"{layer.name} {modifier_name(modifier)} images imported from DMA_BUF"
        supports.append(_image_support(target, layer, modifier, 0, what))
        width, height = plane.extent(drm.width, drm.height)
        spec = ImageSpec(format=layer, width=width, height=height, usage=USAGE)
        image = ModifierImage(device, spec, handle_type=DMA_BUF, explicit=(modifier, (_layout(drm, index),)))
        images.append((layer, spec, image))
    objects = [p.object_index for p in drm.planes]
    if len(set(objects)) == 1:
        features = 0
        for support in supports:
            features |= support.features
        import_shared([i for _, _, i in images], ExternalMemoryFeatures(features=features), drm.objects[0].fd)
    else:
        for (_, _, image), support, obj in zip(images, supports, objects, strict=True):
            import_memory(image, support, [os.dup(drm.objects[obj].fd)])

    def read() -> Planes:
        found = []
        for layer, spec, image in images:
            (plane,) = download(device, image, layer, (spec.width, spec.height), acquire_from=_family(device))
            found.append(plane)
        return found[0], found[1]

    return Imported(route="two-layer", read=read)


def _import_buffer(device: Device, fd: int, size: int, support: ExternalMemoryFeatures) -> Buffer:
    """A TRANSFER_SRC buffer over the whole dma-buf; `fd` stays the caller's."""
    buffer = Buffer(device, size, vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT, external_handle_types=DMA_BUF)
    allowed = dma_buf_type_bits(device, fd) & buffer.requirements.type_bits
    memory_type = select_memory_type(device.memory_types, allowed, 0)
    if memory_type is None:
        raise RuntimeError(f"no memory type can import this dma-buf as a buffer (allowed 0x{allowed:x})")
    own = os.dup(fd)
    chain: list[Any] = [
        vk.VkImportMemoryFdInfoKHR(
            sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, handleType=DMA_BUF, fd=own
        )
    ]
    if support.dedicated_only:
        chain.append(
            vk.VkMemoryDedicatedAllocateInfo(
                sType=vk.VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, buffer=buffer.handle
            )
        )
    try:
        memory = device.allocate(max(size, buffer.requirements.size), memory_type, *chain)
    except BaseException:
        os.close(own)  # a failed import leaves the fd with us
        raise
    buffer.bind(memory)
    return buffer


def _buffer(target: Target, device: Device, drm: DrmFrame, depth: int) -> Imported:
    modifier = _modifier(drm)
    if modifier != LINEAR:
        raise Unsupported(f"a buffer import cannot untile {modifier_name(modifier)}: LINEAR frames only")
    reason = capabilities.missing_extension(target, "VK_EXT_external_memory_dma_buf")
    if reason:
        raise Unsupported(reason)
    support = buffer_support(target.physical, DMA_BUF)
    reason = capabilities.external_memory_unsupported(target, "DMA_BUF", support, export=False)
    if reason:
        raise Unsupported(reason)
    buffers = [_import_buffer(device, o.fd, drm.object_size(i), support) for i, o in enumerate(drm.objects)]
    y, uv = (RowPlace(buffer=p.object_index, offset=p.offset, pitch=p.pitch) for p in drm.planes)
    places = (y, uv)
    return Imported(
        route="buffer",
        read=lambda: read_rows(device, buffers, places, depth, drm.width, drm.height, acquire=True),
    )


@dataclass(frozen=True, kw_only=True)
class RowPlace:
    """Where one plane's rows start in which of the buffers, and their pitch."""

    buffer: int
    offset: int
    pitch: int


def read_rows(
    device: Device,
    buffers: Sequence[Buffer],
    places: tuple[RowPlace, RowPlace],
    depth: int,
    width: int,
    height: int,
    *,
    acquire: bool,
) -> Planes:
    """The GPU copies Y and CbCr, row by row from their offsets and pitches in `buffers` (TRANSFER_SRC),
    into a host-visible buffer, tightly packed. `acquire`: the buffers are external memory, taken over
    from the foreign (or external) queue family first."""
    row_bytes = width * (1 if depth == 8 else 2)
    rows = (height, height // 2)
    total = row_bytes * (rows[0] + rows[1])
    staging, mapped = staging_buffer(device, total)
    by_buffer: dict[int, list[Any]] = {}
    out = 0
    for index, place in enumerate(places):
        for row in range(rows[index]):
            by_buffer.setdefault(place.buffer, []).append(
                vk.VkBufferCopy(srcOffset=place.offset + row * place.pitch, dstOffset=out, size=row_bytes)
            )
            out += row_bytes

    def record(cmd: Any) -> None:
        if acquire:
            barriers = [
                vk.VkBufferMemoryBarrier(
                    sType=vk.VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
                    srcAccessMask=0,
                    dstAccessMask=vk.VK_ACCESS_TRANSFER_READ_BIT,
                    srcQueueFamilyIndex=_family(device),
                    dstQueueFamilyIndex=device.queue_family,
                    buffer=b.handle,
                    offset=0,
                    size=b.size,
                )
                for b in buffers
            ]
            vk.vkCmdPipelineBarrier(
                cmd,
                vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                0,
                0,
                None,
                len(barriers),
                barriers,
                0,
                None,
            )
        for index, regions in by_buffer.items():
            vk.vkCmdCopyBuffer(cmd, buffers[index].handle, staging.handle, len(regions), regions)
        host = vk.VkMemoryBarrier(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            srcAccessMask=vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            dstAccessMask=vk.VK_ACCESS_HOST_READ_BIT,
        )
        vk.vkCmdPipelineBarrier(
            cmd,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_PIPELINE_STAGE_HOST_BIT,
            0,
            1,
            [host],
            0,
            None,
            0,
            None,
        )

    device.submit(record)
    data = np.array(mapped[:total])
    split = row_bytes * rows[0]
    return data[:split], data[split:]


def read_vulkan_frame(device: Device, buffer: Buffer, layout: YuvLayout) -> Planes:
    """Y and CbCr of a frame already in this device's memory (a source that delivers a VkBuffer and a
    YuvLayout, e.g. NVDEC through CUDA interop), read by the same GPU copy as a buffer import."""
    places = (
        RowPlace(buffer=0, offset=layout.y_offset, pitch=layout.y_pitch),
        RowPlace(buffer=0, offset=layout.uv_offset, pitch=layout.uv_pitch),
    )
    return read_rows(device, [buffer], places, layout.depth, layout.width, layout.height, acquire=False)


_BY_ROUTE = {"multi-planar": _multi_planar, "two-layer": _two_layer, "buffer": _buffer}


def import_frame(target: Target, device: Device, drm: DrmFrame, depth: int, route: str) -> Imported:
    """Import `drm` by `route` on `device` (freed with the device's scope); raises Unsupported with the
    driver's answer where the route cannot take the frame."""
    return _BY_ROUTE[route](target, device, drm, depth)


class ImportCache:
    """Imports kept per dma-buf identity, as a player keeps them for a decoder's surface pool: fstat's
    (device, inode) names a dma-buf whatever fd number it arrives under, so a recycled surface costs an
    fstat and a lookup instead of an import."""

    def __init__(self, target: Target, device: Device, route: str) -> None:
        self.target = target
        self.device = device
        self.route = route
        self.imports = 0
        self._cache: dict[tuple[Any, ...], Imported] = {}

    @staticmethod
    def key(drm: DrmFrame) -> tuple[Any, ...]:
        identity = tuple((s.st_dev, s.st_ino) for s in (os.fstat(o.fd) for o in drm.objects))
        placement = tuple((p.object_index, p.offset, p.pitch) for p in drm.planes)
        return identity, placement, drm.width, drm.height

    def get(self, drm: DrmFrame, depth: int) -> Imported:
        key = self.key(drm)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = import_frame(self.target, self.device, drm, depth, self.route)
            self.imports += 1
        return found
