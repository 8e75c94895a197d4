"""Capability predicates: each answers None when the target can run a case, or the reason it cannot.

Every skip in the suite comes from here, so every skip names the missing capability and the device.
"""

from __future__ import annotations

from vkzc.conformance.target import Target
from vkzc.vk.memory import MemoryType


def _who(target: Target) -> str:
    ident = target.identity
    driver = f"{ident.driver_name} {ident.mesa_version or ident.driver_version}" if ident.driver_name else ""
    return f"{ident.name}" + (f" ({driver})" if driver else "")


def missing_extension(target: Target, extension: str) -> str | None:
    if extension in target.physical.extensions:
        return None
    return f"{extension} not advertised by {_who(target)}"


def memory_type_not_allowed(memory_type: MemoryType, type_bits: int, what: str) -> str | None:
    if type_bits & (1 << memory_type.index):
        return None
    return (
        f"memory type {memory_type.index} ({memory_type.label}) is not allowed for {what} "
        f"(memoryTypeBits=0x{type_bits:x})"
    )


def storage_range_too_small(target: Target, size: int) -> str | None:
    limit = int(target.physical.limits.maxStorageBufferRange)
    if size <= limit:
        return None
    return (
        f"{_who(target)} binds at most {limit} bytes as a storage buffer (maxStorageBufferRange), not {size}"
    )


def heap_too_small(memory_type: MemoryType, size: int) -> str | None:
    # Leave room for the driver's own allocations: a case may not take more than half a heap.
    if size <= memory_type.heap_size // 2:
        return None
    return (
        f"heap {memory_type.heap_index} of memory type {memory_type.index} holds "
        f"{memory_type.heap_size} bytes, too small for {size}"
    )
