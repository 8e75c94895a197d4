"""Loading the `vulkan` binding, with a missing loader turned into an actionable error."""

from __future__ import annotations

from functools import cache
from types import ModuleType

from vkzc.errors import EnvironmentMissing


@cache
def load() -> ModuleType:
    try:
        import vulkan
    except ImportError as e:
        raise EnvironmentMissing(
            "the Python package 'vulkan' is not importable", "install vkzc's dependencies: pip install vulkan"
        ) from e
    except OSError as e:
        # The binding dlopen()s libvulkan.so.1 at import; OSError means no loader at all.
        raise EnvironmentMissing(
            "no Vulkan loader (libvulkan.so.1) on this machine",
            "install one, e.g. `apt-get install libvulkan1 mesa-vulkan-drivers` for lavapipe",
        ) from e
    return vulkan
