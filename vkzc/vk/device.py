"""A logical device with one compute queue, owning everything created on it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Protocol

from vkzc.vk.binding import load
from vkzc.vk.errors import GpuTimeout, VulkanError, call
from vkzc.vk.instance import PhysicalDevice
from vkzc.vk.memory import Memory, MemoryType, memory_types

vk = load()

DEFAULT_FENCE_TIMEOUT_S = 30.0


class Destroyable(Protocol):
    def destroy(self) -> None: ...


class Device:
    """A VkDevice as a context manager.

    Only the extensions a case asks for are enabled. Objects created on the device register
    with it and are destroyed, newest first, when it closes, so a failing case leaks nothing.
    """

    def __init__(self, physical: PhysicalDevice, *, extensions: Sequence[str] = ()) -> None:
        physical.require(extensions)
        self.physical = physical
        self.extensions = frozenset(extensions)
        self.queue_family = self._compute_family(physical)
        queue = vk.VkDeviceQueueCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
            queueFamilyIndex=self.queue_family,
            queueCount=1,
            pQueuePriorities=[1.0],
        )
        info = vk.VkDeviceCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
            queueCreateInfoCount=1,
            pQueueCreateInfos=[queue],
            enabledExtensionCount=len(extensions),
            ppEnabledExtensionNames=list(extensions),
        )
        self.handle = call("vkCreateDevice", physical.handle, info, None)
        self.queue = vk.vkGetDeviceQueue(self.handle, self.queue_family, 0)
        self._owned: list[Destroyable] = []
        self._procs: dict[str, Any] = {}
        pool = vk.VkCommandPoolCreateInfo(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            flags=vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            queueFamilyIndex=self.queue_family,
        )
        self.command_pool = call("vkCreateCommandPool", self.handle, pool, None)
        # After a GPU timeout, work may still be in flight: destroying anything it uses could
        # crash the driver, so a lost device leaks its objects instead.
        self.lost = False

    @staticmethod
    def _compute_family(physical: PhysicalDevice) -> int:
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(physical.handle)
        for index, family in enumerate(families):
            if family.queueFlags & vk.VK_QUEUE_COMPUTE_BIT:
                return index
        raise VulkanError(
            "vkGetPhysicalDeviceQueueFamilyProperties (no compute queue)", vk.VK_ERROR_FEATURE_NOT_PRESENT
        )

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def own(self, obj: Destroyable) -> None:
        self._owned.append(obj)

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Destroy, on leaving, everything created on the device inside the block (newest first)."""
        mark = len(self._owned)
        try:
            yield
        finally:
            if not self.lost:
                while len(self._owned) > mark:
                    self._owned.pop().destroy()

    def close(self) -> None:
        if self.handle is None:
            return
        if self.lost:
            self.handle = None
            return
        while self._owned:
            self._owned.pop().destroy()
        vk.vkDestroyCommandPool(self.handle, self.command_pool, None)
        vk.vkDestroyDevice(self.handle, None)
        self.handle = None

    def proc(self, name: str) -> Any:
        """A device-level extension entry point, resolved once."""
        if name not in self._procs:
            self._procs[name] = vk.vkGetDeviceProcAddr(self.handle, name)
        return self._procs[name]

    @cached_property
    def memory_types(self) -> tuple[MemoryType, ...]:
        return memory_types(self.physical.memory_properties)

    def allocate(self, size: int, memory_type: MemoryType, *chain: Any) -> Memory:
        return Memory(self, size, memory_type, *chain)

    def submit(self, record: Any, *, timeout_s: float = DEFAULT_FENCE_TIMEOUT_S) -> None:
        """Record one command buffer with `record(cmd)`, submit it and wait for its fence.

        A fence that does not signal within `timeout_s` raises GpuTimeout instead of hanging the suite.
        """
        alloc = vk.VkCommandBufferAllocateInfo(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            commandPool=self.command_pool,
            level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            commandBufferCount=1,
        )
        cmd = call("vkAllocateCommandBuffers", self.handle, alloc)[0]
        fence = self.create_fence()
        try:
            begin = vk.VkCommandBufferBeginInfo(
                sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
            )
            call("vkBeginCommandBuffer", cmd, begin)
            record(cmd)
            call("vkEndCommandBuffer", cmd)
            submit = vk.VkSubmitInfo(
                sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, commandBufferCount=1, pCommandBuffers=[cmd]
            )
            call("vkQueueSubmit", self.queue, 1, [submit], fence)
            self.wait(fence, timeout_s)
        finally:
            if not self.lost:
                vk.vkDestroyFence(self.handle, fence, None)
                vk.vkFreeCommandBuffers(self.handle, self.command_pool, 1, [cmd])

    def create_fence(self) -> Any:
        """An unsignalled fence; its owner destroys it."""
        return call(
            "vkCreateFence",
            self.handle,
            vk.VkFenceCreateInfo(sType=vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO),
            None,
        )

    def wait(self, fence: Any, timeout_s: float) -> None:
        try:
            call("vkWaitForFences", self.handle, 1, [fence], vk.VK_TRUE, int(timeout_s * 1e9))
        except VulkanError as e:
            if e.result == vk.VK_TIMEOUT:
                self.lost = True
                raise GpuTimeout("vkWaitForFences", e.result, timeout_s) from None
            raise
