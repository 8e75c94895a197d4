"""vkzc/decode/vulkan_import.read_vulkan_frame on a real device: a frame already in Vulkan memory (as the
cuda source delivers it: a VkBuffer and a YuvLayout) is read back row by row, padding skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from vulkan_device import open_first_device

from vkzc.conformance.yuv import YuvLayout, bytes_from_planes, random_planes
from vkzc.decode.vulkan_import import read_vulkan_frame
from vkzc.vk.binding import load
from vkzc.vk.memory import HOST_COHERENT, HOST_VISIBLE, select_memory_type
from vkzc.vk.resources import Buffer


@pytest.fixture(scope="module")
def device() -> Iterator[Any]:
    yield from open_first_device()


@pytest.mark.parametrize("depth", [8, 10])
def test_reads_a_padded_frame(device: Any, depth: int) -> None:
    vk = load()
    width, height = 70, 38
    row = width * (1 if depth == 8 else 2)
    layout = YuvLayout(
        depth=depth,
        width=width,
        height=height,
        y_offset=256,
        y_pitch=row + 64,
        uv_offset=256 + (row + 64) * height + 128,
        uv_pitch=row + 32,
    )
    y, uv = random_planes(np.random.default_rng(depth), depth, width, height)
    raw = bytes_from_planes(y, uv, layout, fill=0xA5)
    with device.scope():
        buffer = Buffer(device, raw.size, vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT)
        memory_type = select_memory_type(
            device.memory_types, buffer.requirements.type_bits, HOST_VISIBLE | HOST_COHERENT
        )
        assert memory_type is not None
        memory = device.allocate(buffer.requirements.size, memory_type)
        buffer.bind(memory)
        memory.map(0, raw.size)[:] = raw
        got_y, got_uv = read_vulkan_frame(device, buffer, layout)
    assert np.array_equal(
        got_y, np.ascontiguousarray(y.astype(y.dtype.newbyteorder("<"))).view(np.uint8).reshape(-1)
    )
    assert np.array_equal(
        got_uv, np.ascontiguousarray(uv.astype(uv.dtype.newbyteorder("<"))).view(np.uint8).reshape(-1)
    )
