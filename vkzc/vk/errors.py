"""Vulkan failures as exceptions that name the call and the VkResult."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from vkzc.errors import EnvironmentMissing
from vkzc.vk.binding import load


class VulkanError(Exception):
    def __init__(self, call: str, result: int) -> None:
        self.call = call
        self.result = result
        self.result_name = result_name(result)
        super().__init__(f"{call} returned {self.result_name}")


class GpuTimeout(VulkanError):
    """A fence did not signal in time: the GPU (or the driver) is hung or far too slow."""

    def __init__(self, call: str, result: int, timeout_s: float) -> None:
        super().__init__(call, result)
        self.timeout_s = timeout_s
        self.args = (f"{call}: no signal within {timeout_s:g} s ({self.result_name})",)


class MissingExtension(EnvironmentMissing):
    def __init__(self, device_name: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"{device_name} lacks {', '.join(missing)}",
            "choose another device with --device, or a driver that advertises it",
        )


@cache
def _codes() -> tuple[dict[type, int], dict[int, str]]:
    vk = load()
    by_class = {cls: _fix_sign(code) for code, cls in vk.exception_codes.items() if code is not None}
    names: dict[int, str] = {}
    for name, value in vars(vk).items():
        if not (name.startswith("VK_ERROR_") or name in _POSITIVE_RESULTS) or not isinstance(value, int):
            continue
        code = -abs(value) if name.startswith("VK_ERROR_") else value
        # Aliases with vendor suffixes (…_KHR, …_EXT) share a value with the shorter core name.
        if code not in names or len(name) < len(names[code]):
            names[code] = name
    return by_class, names


def _fix_sign(code: int) -> int:
    # The binding (1.3.275.1) computes extension error codes with the wrong sign
    # (VK_ERROR_INVALID_EXTERNAL_HANDLE = +1000072003); drivers return the negative value.
    return -code if code >= 1_000_000_000 else code


_POSITIVE_RESULTS = frozenset(
    {
        "VK_SUCCESS",
        "VK_NOT_READY",
        "VK_TIMEOUT",
        "VK_EVENT_SET",
        "VK_EVENT_RESET",
        "VK_INCOMPLETE",
        "VK_SUBOPTIMAL_KHR",
        "VK_THREAD_IDLE_KHR",
        "VK_THREAD_DONE_KHR",
        "VK_OPERATION_DEFERRED_KHR",
        "VK_OPERATION_NOT_DEFERRED_KHR",
        "VK_PIPELINE_COMPILE_REQUIRED",
    }
)


def result_name(code: int) -> str:
    return _codes()[1].get(code, f"VkResult({code})")


def check(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a binding function, re-raising its result exception as a VulkanError naming `name`."""
    vk = load()
    try:
        return fn(*args)
    # Results are two class families in the binding: VkException (positive, e.g. VK_TIMEOUT)
    # and VkError (negative, e.g. VK_ERROR_FORMAT_NOT_SUPPORTED); neither derives from the other.
    except (vk.VkException, vk.VkError) as e:
        code = _codes()[0].get(type(e))
        if code is None:
            raise
        raise VulkanError(name, code) from None
    except KeyError as e:
        # The binding raises KeyError(result) for results missing from its table, which is
        # how every negative extension error code (see _fix_sign) reaches us.
        if len(e.args) == 1 and isinstance(e.args[0], int) and e.args[0] < 0:
            raise VulkanError(name, e.args[0]) from None
        raise


def call(name: str, *args: Any) -> Any:
    """Call the core command `name` (e.g. "vkCreateBuffer") through the binding."""
    return check(name, getattr(load(), name), *args)
