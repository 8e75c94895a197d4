"""A command buffer recorded once and submitted every round, as a streaming application does.

Device.submit records a fresh command buffer and fence per call, which is right for a conformance
case and wrong for a benchmark: at 1 MiB the Python-side recording would cost more than the copy.
A Replay pays for recording once; a round is reset fence, submit, wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vkzc.vk.binding import load
from vkzc.vk.device import DEFAULT_FENCE_TIMEOUT_S, Device
from vkzc.vk.errors import call

vk = load()


class Replay:
    def __init__(self, device: Device, record: Callable[[Any], None]) -> None:
        self.device = device
        dev = device.handle
        alloc = vk.VkCommandBufferAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            commandPool=device.command_pool,
            level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            commandBufferCount=1,
        )
        self.cmd = call("vkAllocateCommandBuffers", dev, alloc)[0]
        self.fence = device.create_fence()
        device.own(self)
        call(
            "vkBeginCommandBuffer",
            self.cmd,
            vk.VkCommandBufferBeginInfo(sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO),
        )
        record(self.cmd)
        call("vkEndCommandBuffer", self.cmd)
        # Built once: constructing cffi structs is a measurable part of a small round.
        self._submit = [
            vk.VkSubmitInfo(
                sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, commandBufferCount=1, pCommandBuffers=[self.cmd]
            )
        ]
        self._fences = [self.fence]

    def run(self, timeout_s: float = DEFAULT_FENCE_TIMEOUT_S) -> None:
        """Submit the recorded commands and wait until the GPU has finished them."""
        call("vkResetFences", self.device.handle, 1, self._fences)
        call("vkQueueSubmit", self.device.queue, 1, self._submit, self.fence)
        self.device.wait(self.fence, timeout_s)

    def destroy(self) -> None:
        if self.fence is not None:
            vk.vkDestroyFence(self.device.handle, self.fence, None)
            vk.vkFreeCommandBuffers(self.device.handle, self.device.command_pool, 1, [self.cmd])
            self.fence = None


def barrier(cmd: Any, src_stage: int, src_access: int, dst_stage: int, dst_access: int) -> None:
    """A global memory barrier: what one command wrote becomes visible to what the next one does."""
    memory_barrier = vk.VkMemoryBarrier(
        sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER, srcAccessMask=src_access, dstAccessMask=dst_access
    )
    vk.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, [memory_barrier], 0, None, 0, None)
