"""Every dma-buf exporter vkzc knows, in a fixed order: case ids are the same on every machine,
and each machine says per exporter whether it can run and why not."""

from __future__ import annotations

from vkzc.dmabuf.buffer import Exporter
from vkzc.dmabuf.drm import VGEM, VIRTIO_GPU
from vkzc.dmabuf.gbm import GbmExporter
from vkzc.dmabuf.heap import DmaHeap
from vkzc.dmabuf.udmabuf import Udmabuf
from vkzc.dmabuf.v4l2 import V4l2Exporter
from vkzc.dmabuf.vulkan import VulkanExporter
from vkzc.vk.instance import PhysicalDevice

NAMES = ("udmabuf", "dma-heap", "vulkan", "vgem", "virtio-gpu", "gbm", "v4l2")


def exporters(physical: PhysicalDevice) -> dict[str, Exporter]:
    """Fresh exporters by name; the Vulkan one exports from its own device on `physical`.
    Close them all when done."""
    made: tuple[Exporter, ...] = (
        Udmabuf(),
        DmaHeap(),
        VulkanExporter(physical),
        VGEM,
        VIRTIO_GPU,
        GbmExporter(),
        V4l2Exporter(),
    )
    return {e.name: e for e in made}
