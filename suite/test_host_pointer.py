"""Host-pointer import (VK_EXT_external_memory_host): memory the caller owns becomes device memory.

The proof of zero-copy is that the check reads the caller's own array: when the GPU writes
the pattern and the array shows it, the device wrote into that memory and nothing was copied.
"""

from __future__ import annotations

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.hostmem import SOURCES, HostAllocation, allocate
from vkzc.conformance.ids import KiB, MiB, size_id
from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.conformance.target import Target
from vkzc.pattern import mismatch, pattern, transform
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.errors import check
from vkzc.vk.memory import HOST_COHERENT, Memory, select_memory_type
from vkzc.vk.resources import Buffer

vk = load()
pytestmark = pytest.mark.path("host-pointer")
DEVICE_EXTENSIONS = ("VK_KHR_external_memory", "VK_EXT_external_memory_host")
HOST_ALLOCATION = vk.VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT
DIRECTIONS = ("gpu-writes", "cpu-writes", "roundtrip")


def _alignment(device: Device) -> int:
    props = vk.VkPhysicalDeviceExternalMemoryHostPropertiesEXT(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT
    )
    device.physical.properties2(props)
    return int(props.minImportedHostPointerAlignment)


def _import(device: Device, host: HostAllocation) -> tuple[Buffer, Memory]:
    buffer = Buffer(device, host.size, STORAGE, external_handle_types=HOST_ALLOCATION)
    pointer = vk.ffi.cast("void *", host.address)
    props = vk.VkMemoryHostPointerPropertiesEXT(sType=vk.VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT)
    check(
        "vkGetMemoryHostPointerPropertiesEXT",
        device.proc("vkGetMemoryHostPointerPropertiesEXT"),
        device.handle,
        HOST_ALLOCATION,
        pointer,
        vk.ffi.addressof(props),
    )
    allowed = props.memoryTypeBits & buffer.requirements.type_bits
    memory_type = select_memory_type(device.memory_types, allowed, 0, HOST_COHERENT)
    assert memory_type is not None, (
        f"no memory type can import this pointer for a storage buffer "
        f"(host pointer bits 0x{props.memoryTypeBits:x}, buffer bits 0x{buffer.requirements.type_bits:x})"
    )
    info = vk.VkImportMemoryHostPointerInfoEXT(
        sType=vk.VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
        handleType=HOST_ALLOCATION,
        pHostPointer=pointer,
    )
    memory = device.allocate(host.size, memory_type, info)
    buffer.bind(memory)
    return buffer, memory


@pytest.mark.parametrize("size", [64 * KiB, 4 * MiB, 64 * MiB], ids=size_id)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("source", SOURCES)
def test_host_pointer(
    target: Target, device: Device, kernels: Kernels, source: str, direction: str, size: int, seed: int
):
    alignment = _alignment(device)
    size = -(-size // alignment) * alignment
    reason = capabilities.storage_range_too_small(target, size)
    if reason:
        pytest.skip(reason)
    host = allocate(source, size, alignment)
    try:
        # The import must be gone before its host memory is unmapped.
        with device.scope():
            _check_direction(device, kernels, host, direction, seed)
    finally:
        host.close()


def _check_direction(
    device: Device, kernels: Kernels, host: HostAllocation, direction: str, seed: int
) -> None:
    buffer, memory = _import(device, host)
    coherent = memory.type.has(HOST_COHERENT)
    if not coherent:
        memory.map()
    words = host.size // 4
    expected = pattern(seed, words)
    if direction in ("cpu-writes", "roundtrip"):
        host.words[:] = expected
        if not coherent:
            memory.flush(0, memory.size)
    if direction == "cpu-writes":
        found = kernels.verify(buffer, seed=seed, first=0, count=words)
        assert found.count == 0, (
            f"the GPU sees {found.count} words differ from what the CPU wrote (first {found.first})"
        )
        return
    if direction == "gpu-writes":
        kernels.fill(buffer, seed=seed, first=0, count=words)
    else:
        key = seed ^ 0x5A5A5A5A
        kernels.transform(buffer, key=key, first=0, count=words)
        expected = transform(key, expected)
    if not coherent:
        memory.invalidate(0, memory.size)
    problem = mismatch(host.words, expected, "in the caller's own array")
    assert problem is None, problem
