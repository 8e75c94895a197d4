"""For harness tests that need a real Vulkan device: skip, naming what is missing, when there is none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vkzc.errors import EnvironmentMissing


def open_first_device() -> Iterator[object]:
    try:
        from vkzc.vk.device import Device
        from vkzc.vk.instance import Instance

        instance = Instance()
        devices = instance.select(None)
    except EnvironmentMissing as e:
        pytest.skip(f"needs a Vulkan device: {e}")
    with instance, Device(devices[0]) as device:
        yield device
