"""Waiting for a frame's implicit fences before the GPU reads it: each object's DMA_BUF_IOCTL_EXPORT_SYNC_FILE
(READ: the writers' fences) imported as a SYNC_FD semaphore the queue waits on, as FFmpeg's
vulkan_map_from_drm does. A decoder's pending write then orders before the read, with no CPU wait."""

from __future__ import annotations

import errno
import os
import platform

from vkzc.conformance.implicit_sync import wait_sync_file
from vkzc.decode.drm_descriptor import DrmFrame
from vkzc.dmabuf.sync import READ, export_sync_file
from vkzc.vk.device import Device


def wait_for_writers(device: Device, drm: DrmFrame) -> None:
    """The queue waits for every object's writers; raises OSError where the kernel cannot export them."""
    for obj in drm.objects:
        wait_sync_file(device, export_sync_file(obj.fd, READ))


def sync_file_unsupported(drm: DrmFrame) -> str | None:
    """None when every object of the frame hands out its fences, else why not (the kernel's answer)."""
    for index, obj in enumerate(drm.objects):
        try:
            os.close(export_sync_file(obj.fd, READ))
        except OSError as e:
            if e.errno == errno.ENOTTY:
                return f"the kernel ({platform.release()}) lacks DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux 6.0+)"
            return f"object {index} of the frame refuses DMA_BUF_IOCTL_EXPORT_SYNC_FILE: {e.strerror}"
    return None
