"""The one Vulkan device a suite session runs on, discovered once at collection time.

Case ids carry no device name, as in Mesa's CI: a results file and an expectations file
belong to one device (one cell), so the same case reads the same on every driver.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vkzc.vk.instance import DeviceIdentity, Instance, PhysicalDevice
from vkzc.vk.memory import MemoryType, memory_types


@dataclass(frozen=True, kw_only=True)
class Target:
    instance: Instance
    physical: PhysicalDevice

    @property
    def identity(self) -> DeviceIdentity:
        return self.physical.identity

    @property
    def memory_types(self) -> tuple[MemoryType, ...]:
        return memory_types(self.physical.memory_properties)

    @property
    def atom(self) -> int:
        return int(self.physical.limits.nonCoherentAtomSize)


def open_target(selector: str | None) -> Target:
    """The first device matching `selector` (VKZC_DEVICE when None; the loader's first device by default)."""
    instance = Instance()
    try:
        chosen = instance.select(selector or os.environ.get("VKZC_DEVICE") or "0")
    except BaseException:
        instance.close()
        raise
    return Target(instance=instance, physical=chosen[0])
