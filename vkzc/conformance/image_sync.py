"""A GPU read of an imported image that waits, on the GPU, for the dma-buf's implicit fences.

The sync_file from DMA_BUF_IOCTL_EXPORT_SYNC_FILE is imported as a SYNC_FD semaphore and the copy
of the image waits on it in the same batch, as FFmpeg's vulkan_map_from_drm does. The batch is
left pending so that a case can look at it while the exporter's fence is still unsignalled.
"""

from __future__ import annotations

from typing import Any

from vkzc.conformance.formats import Bytes, Format
from vkzc.conformance.image_transfer import SHARED_LAYOUT, staging_buffer
from vkzc.conformance.implicit_sync import sync_file_semaphore
from vkzc.conformance.modifier_images import ModifierImage
from vkzc.vk.binding import load
from vkzc.vk.device import Device
from vkzc.vk.errors import call

vk = load()


class PendingRead:
    """A submitted copy of a single-plane image into a host-visible buffer, after a sync_file."""

    def __init__(
        self, device: Device, image: ModifierImage, fmt: Format, size: tuple[int, int], *, acquire_from: int
    ) -> None:
        self.device = device
        (self._bytes,) = fmt.plane_bytes(*size)
        self._staging, self._mapped = staging_buffer(device, self._bytes, vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT)
        self._semaphore: Any = None
        self._fence: Any = None
        self._cmd: Any = None
        self._record(image, fmt, size, acquire_from)

    def _record(self, image: ModifierImage, fmt: Format, size: tuple[int, int], acquire_from: int) -> None:
        device = self.device
        alloc = vk.VkCommandBufferAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            commandPool=device.command_pool,
            level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            commandBufferCount=1,
        )
        self._cmd = call("vkAllocateCommandBuffers", device.handle, alloc)[0]
        begin = vk.VkCommandBufferBeginInfo(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        )
        call("vkBeginCommandBuffer", self._cmd, begin)
        # The acquire half of the ownership transfer from the exporter's side.
        acquire = vk.VkImageMemoryBarrier(
            sType=vk.VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
            srcAccessMask=0,
            dstAccessMask=vk.VK_ACCESS_TRANSFER_READ_BIT,
            oldLayout=SHARED_LAYOUT,
            newLayout=vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
            srcQueueFamilyIndex=acquire_from,
            dstQueueFamilyIndex=device.queue_family,
            image=image.handle,
            subresourceRange=vk.VkImageSubresourceRange(
                aspectMask=vk.VK_IMAGE_ASPECT_COLOR_BIT,
                baseMipLevel=0,
                levelCount=1,
                baseArrayLayer=0,
                layerCount=1,
            ),
        )
        vk.vkCmdPipelineBarrier(
            self._cmd,
            vk.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            0,
            0,
            None,
            0,
            None,
            1,
            [acquire],
        )
        width, height = size
        region = vk.VkBufferImageCopy(
            bufferOffset=0,
            bufferRowLength=0,
            bufferImageHeight=0,
            imageSubresource=vk.VkImageSubresourceLayers(
                aspectMask=fmt.aspect(0), mipLevel=0, baseArrayLayer=0, layerCount=1
            ),
            imageOffset=vk.VkOffset3D(x=0, y=0, z=0),
            imageExtent=vk.VkExtent3D(width=width, height=height, depth=1),
        )
        vk.vkCmdCopyImageToBuffer(
            self._cmd,
            image.handle,
            vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
            self._staging.handle,
            1,
            [region],
        )
        host = vk.VkMemoryBarrier(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            srcAccessMask=vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            dstAccessMask=vk.VK_ACCESS_HOST_READ_BIT,
        )
        vk.vkCmdPipelineBarrier(
            self._cmd,
            vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
            vk.VK_PIPELINE_STAGE_HOST_BIT,
            0,
            1,
            [host],
            0,
            None,
            0,
            None,
        )
        call("vkEndCommandBuffer", self._cmd)

    def submit_after(self, sync_file: int) -> None:
        """Submit the copy to wait (on the GPU) for `sync_file`, which is taken over either way."""
        self._semaphore = sync_file_semaphore(self.device, sync_file)
        self._fence = self.device.create_fence()
        submit = vk.VkSubmitInfo(
            sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO,
            waitSemaphoreCount=1,
            pWaitSemaphores=[self._semaphore],
            pWaitDstStageMask=[vk.VK_PIPELINE_STAGE_TRANSFER_BIT],
            commandBufferCount=1,
            pCommandBuffers=[self._cmd],
        )
        call("vkQueueSubmit", self.device.queue, 1, [submit], self._fence)

    def done(self) -> bool:
        """Whether the copy has finished (vkGetFenceStatus), without waiting."""
        try:
            vk.vkGetFenceStatus(self.device.handle, self._fence)
        except vk.VkNotReady:
            return False
        return True

    def result(self, timeout_s: float) -> Bytes:
        """Wait for the copy; the image's bytes, tightly packed."""
        self.device.wait(self._fence, timeout_s)
        return self._mapped.copy()

    def close(self) -> None:
        device = self.device
        if device.lost:
            return
        if self._fence is not None:
            vk.vkDestroyFence(device.handle, self._fence, None)
        if self._semaphore is not None:
            vk.vkDestroySemaphore(device.handle, self._semaphore, None)
        if self._cmd is not None:
            vk.vkFreeCommandBuffers(device.handle, device.command_pool, 1, [self._cmd])
