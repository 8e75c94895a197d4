"""The Vulkan layer: result names, memory-type selection, extension checks, errors that name the call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vulkan_device import open_first_device

from vkzc.vk.errors import MissingExtension, VulkanError, result_name
from vkzc.vk.memory import (
    DEVICE_LOCAL,
    HOST_CACHED,
    HOST_COHERENT,
    HOST_VISIBLE,
    MemoryType,
    select_memory_type,
)


def _type(index: int, flags: int) -> MemoryType:
    return MemoryType(index=index, flags=flags, heap_index=0, heap_size=1 << 30, heap_device_local=True)


TYPES = (
    _type(0, DEVICE_LOCAL),
    _type(1, HOST_VISIBLE | HOST_COHERENT),
    _type(2, HOST_VISIBLE | HOST_COHERENT | HOST_CACHED),
    _type(3, DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT),
)


def test_result_names_include_extension_codes_with_the_right_sign() -> None:
    assert result_name(-2) == "VK_ERROR_OUT_OF_DEVICE_MEMORY"
    assert result_name(2) == "VK_TIMEOUT"
    assert result_name(-1000072003) == "VK_ERROR_INVALID_EXTERNAL_HANDLE"
    assert result_name(-1000158000) == "VK_ERROR_INVALID_DRM_FORMAT_MODIFIER_PLANE_LAYOUT_EXT"
    assert result_name(-123456) == "VkResult(-123456)"


def test_memory_type_selection() -> None:
    assert select_memory_type(TYPES, 0b1111, HOST_VISIBLE).index == 1
    assert select_memory_type(TYPES, 0b1111, HOST_VISIBLE, HOST_CACHED).index == 2
    assert select_memory_type(TYPES, 0b1111, HOST_VISIBLE, DEVICE_LOCAL).index == 3
    assert select_memory_type(TYPES, 0b0001, HOST_VISIBLE) is None
    assert select_memory_type(TYPES, 0b1000, 0).index == 3


def test_memory_type_label() -> None:
    assert TYPES[3].label == "DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT"
    assert _type(0, 0).label == "NONE"


@pytest.fixture(scope="module")
def device() -> Iterator[object]:
    yield from open_first_device()


def test_unknown_extension_is_named(device) -> None:
    from vkzc.vk.device import Device

    with pytest.raises(MissingExtension, match="VK_VKZC_no_such_extension"):
        Device(device.physical, extensions=["VK_KHR_external_memory", "VK_VKZC_no_such_extension"])


def test_failing_call_names_the_call_and_result(device) -> None:
    from vkzc.vk.binding import load
    from vkzc.vk.memory import Memory

    vk = load()
    huge = max(t.heap_size for t in device.memory_types) * 64
    with pytest.raises(VulkanError) as failure:
        Memory(device, huge, device.memory_types[0])
    assert failure.value.call == "vkAllocateMemory"
    assert failure.value.result in (vk.VK_ERROR_OUT_OF_DEVICE_MEMORY, vk.VK_ERROR_OUT_OF_HOST_MEMORY)
    assert str(failure.value).startswith("vkAllocateMemory returned VK_ERROR_OUT_OF_")
