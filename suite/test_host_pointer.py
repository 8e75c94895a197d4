"""Host-pointer import (VK_EXT_external_memory_host): memory the caller owns becomes device memory.

The proof of zero-copy is that the check reads the caller's own array: when the GPU writes
the pattern and the array shows it, the device wrote into that memory and nothing was copied.
"""

from __future__ import annotations

import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.hostmem import (
    SOURCES,
    HostAllocation,
    NotImportable,
    allocate,
    host_pointer_alignment,
    import_host_pointer,
)
from vkzc.conformance.ids import KiB, MiB, size_id
from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.conformance.target import Target
from vkzc.pattern import mismatch, pattern, transform
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT

pytestmark = pytest.mark.path("host-pointer")
DEVICE_EXTENSIONS = ("VK_KHR_external_memory", "VK_EXT_external_memory_host")
DIRECTIONS = ("gpu-writes", "cpu-writes", "roundtrip")


@pytest.mark.parametrize("size", [64 * KiB, 4 * MiB, 64 * MiB], ids=size_id)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("source", SOURCES)
def test_host_pointer(
    target: Target, device: Device, kernels: Kernels, source: str, direction: str, size: int, seed: int
):
    alignment = host_pointer_alignment(device)
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
    try:
        buffer, memory = import_host_pointer(device, host.address, host.size, STORAGE)
    except NotImportable as e:
        pytest.fail(str(e))
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
