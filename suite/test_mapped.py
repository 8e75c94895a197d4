"""The mapped path: host-visible memory that the CPU and the GPU share through one mapping.

For every HOST_VISIBLE memory type, the CPU writes a seeded pattern through the mapping, a
compute shader transforms it in place, and the CPU reads the result back through the same
mapping: the GPU read what the CPU wrote, and the CPU reads what the GPU wrote, with no copy.
"""

from __future__ import annotations

import numpy as np
import pytest

from vkzc.conformance import capabilities
from vkzc.conformance.ids import KiB, MiB, size_id
from vkzc.conformance.kernels import STORAGE, Kernels
from vkzc.conformance.plugin import TARGET
from vkzc.conformance.target import Target
from vkzc.pattern import mismatch, pattern, transform
from vkzc.vk.device import Device
from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE
from vkzc.vk.resources import Buffer

pytestmark = pytest.mark.path("mapped")

SIZES = (4 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB)
GUARD = 4 * KiB  # bytes after the region that nobody may write
GUARD_BYTE = 0xA5


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "memory_type" not in metafunc.fixturenames:
        return
    target = metafunc.config.stash[TARGET]
    host_visible = [t for t in target.memory_types if t.has(HOST_VISIBLE)]
    # Offsets: none, one atom, and a page plus an atom (a mapping that starts inside a page).
    offsets = (0, target.atom, 4 * KiB + target.atom)
    metafunc.parametrize(
        ("memory_type", "size", "offset"),
        [(t.index, s, o) for t in host_visible for s in SIZES for o in offsets],
        ids=[
            f"type{t.index}-{t.label}-{size_id(s)}-offset{o}"
            for t in host_visible
            for s in SIZES
            for o in offsets
        ],
    )


def test_mapped_roundtrip(
    target: Target, device: Device, kernels: Kernels, memory_type: int, size: int, offset: int, seed: int
):
    mtype = device.memory_types[memory_type]
    total = offset + size + GUARD
    reason = capabilities.heap_too_small(mtype, total) or capabilities.storage_range_too_small(target, total)
    if reason:
        pytest.skip(reason)
    buffer = Buffer(device, total, STORAGE)
    reason = capabilities.memory_type_not_allowed(mtype, buffer.requirements.type_bits, "storage buffers")
    if reason:
        pytest.skip(reason)
    memory = device.allocate(buffer.requirements.size, mtype)
    buffer.bind(memory)
    coherent = mtype.has(HOST_COHERENT)

    whole = memory.map()
    whole[:] = GUARD_BYTE
    if not coherent:
        memory.flush(0, memory.size)
    memory.unmap()

    words = size // 4
    region = memory.map(offset, size).view(np.uint32)
    region[:] = pattern(seed, words)
    if not coherent:
        memory.flush(offset, size)
    kernels.transform(buffer, key=~seed & 0xFFFFFFFF, first=offset // 4, count=words)
    if not coherent:
        memory.invalidate(offset, size)
    expected = transform(~seed & 0xFFFFFFFF, pattern(seed, words))
    problem = mismatch(region, expected, "read back through the mapping")
    assert problem is None, problem
    memory.unmap()

    if not coherent:
        memory.invalidate(0, memory.size)
    whole = memory.map()
    outside = np.concatenate((whole[:offset], whole[offset + size : total]))
    touched = np.flatnonzero(outside != GUARD_BYTE)
    assert touched.size == 0, f"{touched.size} bytes outside the region changed (first at {int(touched[0])})"
