"""Vulkan as a dma-buf exporter: memory exported with vkGetMemoryFdKHR(DMA_BUF) from a device of its own.

A driver may advertise DMA_BUF export and still fail it: lavapipe makes its exportable memory
with /dev/udmabuf and answers VK_ERROR_OUT_OF_DEVICE_MEMORY without it. So availability is
decided by exporting one small buffer, not by the advertised properties alone.
"""

from __future__ import annotations

from vkzc.conformance.external import DMA_BUF, DMA_BUF_EXTENSIONS, buffer_support, export_buffer, memory_fd
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.udmabuf import DEVICE as UDMABUF
from vkzc.vk.device import Device
from vkzc.vk.errors import VulkanError
from vkzc.vk.formats import ExternalMemoryFeatures
from vkzc.vk.instance import PhysicalDevice

_LAVAPIPE = "MESA_LLVMPIPE"
_TRIAL_SIZE = 4096


class VulkanExporter:
    name = "vulkan"

    def __init__(self, physical: PhysicalDevice) -> None:
        self.physical = physical
        self._device: Device | None = None
        self._support = ExternalMemoryFeatures(features=0)
        self._reason: str | None = None
        self._checked = False

    @property
    def _who(self) -> str:
        ident = self.physical.identity
        driver = (
            f" ({ident.driver_name} {ident.mesa_version or ident.driver_version})"
            if ident.driver_name
            else ""
        )
        return ident.name + driver

    def _hint(self) -> str:
        if self.physical.identity.driver_id == _LAVAPIPE and not UDMABUF.exists():
            return f"; no {UDMABUF}: lavapipe exports dma-bufs through it"
        return ""

    def available(self) -> str | None:
        if not self._checked:
            self._checked = True
            self._reason = self._check()
        return self._reason

    def _check(self) -> str | None:
        missing = [e for e in DMA_BUF_EXTENSIONS if e not in self.physical.extensions]
        if missing:
            return f"{', '.join(missing)} not advertised by {self._who}"
        self._support = buffer_support(self.physical, DMA_BUF)
        if not self._support.exportable:
            return (
                f"{self._who} does not offer DMA_BUF export for storage buffers "
                f"(externalMemoryFeatures=0x{self._support.features:x}){self._hint()}"
            )
        self._device = Device(self.physical, extensions=DMA_BUF_EXTENSIONS)
        try:
            self.allocate(_TRIAL_SIZE).close()
        except VulkanError as e:
            self.close()
            return f"{self._who} cannot export a dma-buf: {e}{self._hint()}"
        return None

    def size_unsupported(self, size: int) -> str | None:
        return None

    def allocate(self, size: int) -> DmaBuf:
        device = self._device
        if device is None:
            raise RuntimeError(f"the Vulkan exporter is unavailable: {self.available()}")
        shared = export_buffer(device, size, DMA_BUF, self._support)
        try:
            fd = memory_fd(device, shared.memory, DMA_BUF)
        except BaseException:
            shared.destroy()
            raise

        def release() -> None:
            # The exporter's device may be gone already (closed at the end of a session).
            if device.handle is not None:
                shared.destroy()

        return DmaBuf(fd, exporter=self.name, release=release)

    def close(self) -> None:
        if self._device is not None:
            self._device.close()
            self._device = None
