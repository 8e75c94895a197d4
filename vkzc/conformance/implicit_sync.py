"""Waiting in Vulkan on a dma-buf's implicit fences: its sync_file imported as a SYNC_FD semaphore.

This is how an importer orders its GPU reads after other users' writes without a CPU wait
(FFmpeg's vulkan_map_from_drm does the same); without it an import may read half-written data.
"""

from __future__ import annotations

import os
from typing import Any

from vkzc.vk.binding import load
from vkzc.vk.device import DEFAULT_FENCE_TIMEOUT_S, Device
from vkzc.vk.errors import call, check
from vkzc.vk.instance import PhysicalDevice

vk = load()

SEMAPHORE_EXTENSIONS = ("VK_KHR_external_semaphore", "VK_KHR_external_semaphore_fd")
SYNC_FD = vk.VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT


def sync_fd_features(physical: PhysicalDevice) -> int:
    """externalSemaphoreFeatures of binary semaphores for SYNC_FD (0 when unsupported)."""
    info = vk.VkPhysicalDeviceExternalSemaphoreInfo(
        sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO, handleType=SYNC_FD
    )
    out = vk.VkExternalSemaphoreProperties(sType=vk.VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES)
    vk.vkGetPhysicalDeviceExternalSemaphoreProperties(
        physical.handle, vk.ffi.addressof(info), vk.ffi.addressof(out)
    )
    return int(out.externalSemaphoreFeatures)


def sync_file_semaphore(device: Device, sync_file: int) -> Any:
    """A new binary semaphore holding `sync_file`'s fences, for one wait; the caller destroys it.

    `sync_file` is taken over either way: Vulkan owns it once imported, and it is closed if the
    semaphore cannot be made or the import fails.
    """
    try:
        semaphore = call(
            "vkCreateSemaphore",
            device.handle,
            vk.VkSemaphoreCreateInfo(sType=vk.VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO),
            None,
        )
    except BaseException:
        os.close(sync_file)
        raise
    info = vk.VkImportSemaphoreFdInfoKHR(
        sType=vk.VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR,
        semaphore=semaphore,
        # SYNC_FD payloads can only be imported temporarily: the wait consumes them.
        flags=vk.VK_SEMAPHORE_IMPORT_TEMPORARY_BIT,
        handleType=SYNC_FD,
        fd=sync_file,
    )
    try:
        check("vkImportSemaphoreFdKHR", device.proc("vkImportSemaphoreFdKHR"), device.handle, info)
    except BaseException:
        os.close(sync_file)
        if not device.lost:
            vk.vkDestroySemaphore(device.handle, semaphore, None)
        raise
    return semaphore


def wait_sync_file(device: Device, sync_file: int, *, timeout_s: float = DEFAULT_FENCE_TIMEOUT_S) -> None:
    """Make the queue wait for `sync_file` (taken over either way), and wait for that wait to finish.

    An empty batch waits on the semaphore at the compute stage and signals a fence: once the fence
    has signalled, work submitted afterwards runs after the dma-buf's fences.
    """
    semaphore = sync_file_semaphore(device, sync_file)
    fence = None
    try:
        fence = device.create_fence()
        submit = vk.VkSubmitInfo(
            sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO,
            waitSemaphoreCount=1,
            pWaitSemaphores=[semaphore],
            pWaitDstStageMask=[vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT],
            commandBufferCount=0,
        )
        call("vkQueueSubmit", device.queue, 1, [submit], fence)
        device.wait(fence, timeout_s)
    finally:
        if not device.lost:
            if fence is not None:
                vk.vkDestroyFence(device.handle, fence, None)
            vk.vkDestroySemaphore(device.handle, semaphore, None)
