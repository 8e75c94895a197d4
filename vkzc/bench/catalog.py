"""The routes a device may offer, as benchmark parameters, and making each one on the device.

Parameters are the same on every machine of a driver (every HOST_VISIBLE memory type, both
dma-buf exporters); what a device or kernel lacks shows when the route is made, as Unsupported
naming it, which the benchmark reports as its skip reason.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numpy as np

from vkzc.bench import figures
from vkzc.bench.routes import GPU_USAGE, Bytes, DmaBufRoute, Route, StagedRoute, Unsupported
from vkzc.conformance import capabilities, external
from vkzc.conformance.hostmem import NotImportable, host_pointer_alignment, import_host_pointer
from vkzc.dmabuf.buffer import DmaBuf, Exporter
from vkzc.dmabuf.heap import DmaHeap
from vkzc.dmabuf.udmabuf import Udmabuf
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.memory import (
    DEVICE_LOCAL,
    HOST_CACHED,
    HOST_COHERENT,
    HOST_VISIBLE,
    MemoryType,
    select_memory_type,
)
from vkzc.vk.resources import Buffer

vk = load()

HOST_ALLOCATION = vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT
# The exporters a decoder or camera hands CPU-written frames over with; a Vulkan-exported dma-buf
# would only measure the driver against itself.
DMA_BUF_EXPORTERS = ("udmabuf", "dma-heap")


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    """A route as a benchmark parameter, before anything is allocated."""

    path: str
    memory_type: MemoryType | None = None  # the mapped path's memory type
    exporter: str = ""  # the dma-buf path's exporter

    @property
    def id(self) -> str:
        if self.memory_type is not None:
            return f"{self.path}-{memory_label(self.memory_type)}"
        if self.path == figures.HOST_POINTER:
            return f"{self.path}-anon"
        return f"{self.path}-{self.exporter}" if self.exporter else self.path


def route_specs(memory_types: tuple[MemoryType, ...]) -> tuple[RouteSpec, ...]:
    """Staged, then mapped in every HOST_VISIBLE memory type, then the import paths."""
    return (
        RouteSpec(path=figures.STAGED),
        *(RouteSpec(path=figures.MAPPED, memory_type=t) for t in memory_types if t.has(HOST_VISIBLE)),
        RouteSpec(path=figures.HOST_POINTER),
        *(RouteSpec(path=figures.DMA_BUF, exporter=name) for name in DMA_BUF_EXPORTERS),
    )


def open_route(device: Device, spec: RouteSpec, size: int, direction: str) -> Route:
    """The route `spec` names, allocated on `device` and freed with the device's scope."""
    if spec.path == figures.STAGED:
        return staged(device, size, direction)
    if spec.memory_type is not None:
        return mapped(device, size, spec.memory_type)
    if spec.path == figures.HOST_POINTER:
        return host_pointer(device, size)
    return dma_buf(device, size, spec.exporter)


def require(device: Device, extension: str) -> None:
    if extension not in device.extensions:
        ident = device.physical.identity
        driver = (
            f" ({ident.driver_name} {ident.mesa_version or ident.driver_version})"
            if ident.driver_name
            else ""
        )
        raise Unsupported(f"{extension} not advertised by {ident.name}{driver}")


def memory_label(memory_type: MemoryType) -> str:
    """As the suite names memory types in case ids: type0-DEVICE_LOCAL|HOST_VISIBLE|…"""
    return f"type{memory_type.index}-{memory_type.label}"


def staged(device: Device, size: int, direction: str) -> StagedRoute:
    """Staging memory as an application picks it: write-combined (coherent) for upload, HOST_CACHED
    for readback, where the device offers the choice."""
    gpu = Buffer(device, size, GPU_USAGE)
    gpu_type = _pick(device, gpu, DEVICE_LOCAL, 0, size, "DEVICE_LOCAL memory")
    memory = device.allocate(gpu.requirements.size, gpu_type)
    gpu.bind(memory)
    staging = Buffer(device, size, vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT)
    preferred = HOST_COHERENT if direction == figures.UPLOAD else HOST_CACHED | HOST_COHERENT
    staging_type = _pick(device, staging, HOST_VISIBLE, preferred, size, "a HOST_VISIBLE staging buffer")
    staging.bind(device.allocate(staging.requirements.size, staging_type))
    return StagedRoute(device, size, gpu=gpu, memory=memory, staging=staging)


def mapped(device: Device, size: int, memory_type: MemoryType) -> Route:
    """A buffer in one HOST_VISIBLE memory type, the CPU working through its mapping."""
    reason = capabilities.heap_too_small(memory_type, size)
    buffer = Buffer(device, size, GPU_USAGE)
    reason = reason or capabilities.memory_type_not_allowed(
        memory_type, buffer.requirements.type_bits, "storage buffers"
    )
    if reason:
        raise Unsupported(reason)
    memory = device.allocate(buffer.requirements.size, memory_type)
    buffer.bind(memory)
    view = memory.map()[:size]
    return Route(path=figures.MAPPED, variant=memory_label(memory_type), gpu=buffer, memory=memory, cpu=view)


def host_pointer(device: Device, size: int) -> Route:
    """The caller's own array (anonymous memory from numpy's allocator, as an application has it),
    imported with VK_EXT_external_memory_host."""
    require(device, "VK_EXT_external_memory_host")
    alignment = host_pointer_alignment(device)
    size = -(-size // alignment) * alignment
    # The route keeps the array alive, and the device's scope frees the import first.
    cpu = aligned_array(size, alignment)
    try:
        buffer, memory = import_host_pointer(device, cpu.ctypes.data, size, GPU_USAGE)
    except NotImportable as e:
        raise Unsupported(str(e)) from None
    memory_type = memory.type
    if not memory_type.has(HOST_COHERENT):
        memory.map()  # flush and invalidate need a mapping; the CPU still works on its own array
    return Route(
        path=figures.HOST_POINTER,
        variant="anon",
        gpu=buffer,
        memory=memory,
        cpu=cpu,
        handle_types=HOST_ALLOCATION,
    )


def aligned_array(size: int, alignment: int) -> Bytes:
    """`size` zeroed bytes of ordinary memory starting at a multiple of `alignment`."""
    raw = np.zeros(size + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start : start + size]


def dma_buf(device: Device, size: int, exporter_name: str) -> DmaBufRoute:
    """A dma-buf from `exporter_name`, imported as a storage buffer; the CPU writes its mmap."""
    exporter: Exporter = Udmabuf() if exporter_name == "udmabuf" else DmaHeap()
    reason = exporter.available() or exporter.size_unsupported(size)
    if reason:
        raise Unsupported(f"no dma-buf exporter available here: {reason}")
    for extension in external.DMA_BUF_EXTENSIONS:
        require(device, extension)
    support = external.buffer_support(device.physical, external.DMA_BUF)
    if not support.importable:
        raise Unsupported(f"DMA_BUF import of storage buffers not offered (features 0x{support.features:x})")
    dmabuf = _Owned(device, exporter.allocate(size)).dmabuf  # owned first: closed after the import
    buffer = Buffer(device, size, GPU_USAGE, external_handle_types=external.DMA_BUF)
    allowed = external.dma_buf_type_bits(device, dmabuf.fd) & buffer.requirements.type_bits
    memory_type = select_memory_type(device.memory_types, allowed, 0)
    if memory_type is None:
        raise Unsupported(f"no memory type imports this {exporter_name} dma-buf as a storage buffer")
    fd = dmabuf.dup()  # the import consumes it
    info = vk.VkImportMemoryFdInfoKHR(
        sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR, handleType=external.DMA_BUF, fd=fd
    )
    chain = [info]
    if support.dedicated_only:
        chain.append(
            vk.VkMemoryDedicatedAllocateInfo(
                sType=vk.VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO, buffer=buffer.handle
            )
        )
    try:
        memory = device.allocate(buffer.requirements.size, memory_type, *chain)
    except BaseException:
        os.close(fd)
        raise
    buffer.bind(memory)
    # Mapped once, as a pipeline does; the mapping goes with its last view, after the fd is closed.
    mapping = mmap.mmap(dmabuf.fd, dmabuf.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    cpu = np.frombuffer(mapping, dtype=np.uint8)[:size]
    return DmaBufRoute(dmabuf=dmabuf, gpu=buffer, memory=memory, cpu=cpu, handle_types=external.DMA_BUF)


def _pick(device: Device, buffer: Buffer, required: int, preferred: int, size: int, what: str) -> MemoryType:
    memory_type = select_memory_type(device.memory_types, buffer.requirements.type_bits, required, preferred)
    if memory_type is None:
        raise Unsupported(f"no memory type offers {what}")
    reason = capabilities.heap_too_small(memory_type, size)
    if reason:
        raise Unsupported(reason)
    return memory_type


class _Owned:
    """A dma-buf closed with the device's scope."""

    def __init__(self, device: Device, dmabuf: DmaBuf) -> None:
        self.dmabuf = dmabuf
        device.own(self)

    def destroy(self) -> None:
        self.dmabuf.close()
