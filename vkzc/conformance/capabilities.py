"""Capability predicates: each answers None when the target can run a case, or the reason it cannot.

Every skip in the suite comes from here, so every skip names the missing capability and the device.
"""

from __future__ import annotations

import errno
import os
import platform
from collections.abc import Iterable

from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS, sync_fd_features
from vkzc.conformance.modifier_queries import modifier_name
from vkzc.conformance.target import Target
from vkzc.display.buffers import gbm_unavailable
from vkzc.dmabuf.buffer import DmaBuf, Exporter
from vkzc.dmabuf.drm import DumbExporter
from vkzc.dmabuf.sync import READ, export_sync_file
from vkzc.runners import host_service
from vkzc.vk.binding import load
from vkzc.vk.formats import (
    DrmFormatModifier,
    ExternalMemoryFeatures,
    ImageFormatAnswer,
    modifier_list2_available,
)
from vkzc.vk.memory import MemoryType

vk = load()


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


# dma-buf and external memory (suite/test_dmabuf.py, suite/test_opaque_fd.py)


def dmabuf_exporter_unavailable(exporter: Exporter) -> str | None:
    return exporter.available()


def dmabuf_size_unsupported(exporter: Exporter, size: int) -> str | None:
    return exporter.size_unsupported(size)


def no_dmabuf_exporter(exporters: Iterable[Exporter]) -> str | None:
    """None when some exporter works, else every exporter's reason."""
    reasons = []
    for exporter in exporters:
        reason = exporter.available()
        if reason is None:
            return None
        reasons.append(f"{exporter.name}: {reason}")
    return "no dma-buf exporter works here (" + "; ".join(reasons) + ")"


def external_memory_unsupported(
    target: Target, handle_type: str, support: ExternalMemoryFeatures, *, export: bool
) -> str | None:
    """None when storage buffers can be imported (and, with `export`, exported) as `handle_type`."""
    missing = [
        what
        for what, ok in (("import", support.importable), ("export", support.exportable or not export))
        if not ok
    ]
    if not missing:
        return None
    return (
        f"{_who(target)} cannot {' or '.join(missing)} {handle_type} storage buffers "
        f"(externalMemoryFeatures=0x{support.features:x})"
    )


def sync_file_export_unsupported(dmabuf: DmaBuf) -> str | None:
    """None when the kernel can hand out the dma-buf's implicit fences (DMA_BUF_IOCTL_EXPORT_SYNC_FILE)."""
    try:
        os.close(export_sync_file(dmabuf.fd, READ))
    except OSError as e:
        if e.errno == errno.ENOTTY:
            return f"the kernel ({platform.release()}) lacks DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux 6.0+)"
        return f"{dmabuf.exporter} dma-bufs refuse DMA_BUF_IOCTL_EXPORT_SYNC_FILE: {e.strerror}"
    return None


def sync_fd_semaphore_unsupported(target: Target) -> str | None:
    for extension in SEMAPHORE_EXTENSIONS:
        reason = missing_extension(target, extension)
        if reason:
            return reason
    features = sync_fd_features(target.physical)
    if features & vk.VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT:
        return None
    return f"{_who(target)} cannot import SYNC_FD semaphores (externalSemaphoreFeatures=0x{features:x})"


# DRM format modifiers (suite/test_modifiers.py)


def modifier_list2_unavailable(target: Target) -> str | None:
    if modifier_list2_available(target.physical):
        return None
    return (
        f"{_who(target)} has neither Vulkan 1.3 nor VK_KHR_format_feature_flags2: "
        "no VkDrmFormatModifierPropertiesList2EXT to compare"
    )


def modifier_not_listed(
    target: Target, format_name: str, modifier: int, modifiers: tuple[DrmFormatModifier, ...]
) -> str | None:
    if any(m.value == modifier for m in modifiers):
        return None
    names = ", ".join(modifier_name(m.value) for m in modifiers)
    return (
        f"{_who(target)} does not list {modifier_name(modifier)} for {format_name} "
        f"(VkDrmFormatModifierPropertiesListEXT: {names or 'no modifier'})"
    )


def modifier_image_unsupported(
    target: Target, what: str, answer: ImageFormatAnswer, *, export: bool
) -> str | None:
    """None when the driver supports the image described by `what` and can import it (and, with `export`,
    export it); otherwise its answer."""
    if not answer.supported:
        return (
            f"{_who(target)} does not support {what}: "
            f"vkGetPhysicalDeviceImageFormatProperties2 returned {answer.result}"
        )
    external = answer.external
    if external is None:
        return None
    missing = [
        verb
        for verb, ok in (("import", external.importable), ("export", external.exportable or not export))
        if not ok
    ]
    if not missing:
        return None
    return (
        f"{_who(target)} supports {what} but cannot {' or '.join(missing)} them "
        f"(externalMemoryFeatures=0x{external.features:x})"
    )


def modifier_lacks_feature(target: Target, what: str, feature: str, bit: int, features: int) -> str | None:
    if features & bit:
        return None
    return f"{_who(target)} lists {what} without {feature} (drmFormatModifierTilingFeatures=0x{features:x})"


def disjoint_needs_dedicated(target: Target, what: str, answer: ImageFormatAnswer) -> str | None:
    # A dedicated allocation names one image and cannot bind a single plane of a DISJOINT image.
    if answer.external is None or not answer.external.dedicated_only:
        return None
    return f"{_who(target)} needs dedicated allocations for {what}, which DISJOINT images cannot have"


# Scanout (suite/test_scanout.py)


def display_readback_unavailable() -> str | None:
    """None when the host can read the screen back (the qemu runner's screendumps)."""
    return host_service.unavailable()


def display_card_unavailable(display: str, driver: str) -> str | None:
    """None when this process can open a card driven by `driver`; else why not (no such card in the
    kernel, or its node kept out of the container or VM)."""
    reason = DumbExporter(
        name=display, driver=driver, missing=f"the machine has no {display} display"
    ).available()
    return f"no {display} display to scan out to: {reason}" if reason else None


def no_connected_output(node: str, driver: str) -> str:
    return f"{node} ({driver}) has no connected connector with a mode: nothing to scan out to"


def drm_master_refused(node: str, error: OSError) -> str:
    return (
        f"cannot become DRM master of {node} ({error.strerror}): another process (a compositor, a "
        "console) holds it, and mode setting needs it"
    )


def gbm_scanout_unavailable() -> str | None:
    return gbm_unavailable()
