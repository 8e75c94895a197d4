"""Image-shaped buffers that other exporters made, imported as LINEAR VkImages with the exporter's own pitch.

A DRM dumb buffer (vgem, virtio-gpu) or a GBM buffer object is made for a width, a height and a
pixel size; the exporter chooses the pitch. Its CPU side is the exporter's own map (the card's
DRM_IOCTL_MODE_MAP_DUMB mapping, gbm_bo_map), bracketed by DMA_BUF_IOCTL_SYNC on its dma-buf, so
what the GPU wrote is checked where a scanout engine or a compositor would read it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from vkzc.conformance.formats import Bytes, Format
from vkzc.conformance.image_transfer import FOREIGN_EXTENSION
from vkzc.conformance.implicit_sync import SEMAPHORE_EXTENSIONS
from vkzc.conformance.linear_planes import LinearFrame
from vkzc.conformance.modifier_images import PlaneLayout
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.drm import VGEM, VIRTIO_GPU, DumbExporter
from vkzc.dmabuf.gbm import GBM_FORMAT_ABGR8888, GBM_FORMAT_ARGB8888, GbmExporter
from vkzc.vk.formats import MODIFIER_EXTENSION

# What importing a dma-buf as a DRM-modifier image needs; the optional ones are enabled where advertised.
REQUIRED_EXTENSIONS = (
    "VK_KHR_external_memory",
    "VK_KHR_external_memory_fd",
    "VK_EXT_external_memory_dma_buf",
    MODIFIER_EXTENSION,
)
OPTIONAL_EXTENSIONS = (FOREIGN_EXTENSION, *SEMAPHORE_EXTENSIONS)
FORMATS = ("R8G8B8A8_UNORM", "B8G8R8A8_UNORM")
# An odd width (a pitch the exporter must pad, or not) and a power of two.
SIZES = ((1366, 768), (256, 256))
DIRECTIONS = ("gpu-writes", "cpu-writes")
# DRM fourccs name the pixel as a little-endian word: ARGB8888 is B, G, R, A in memory.
DRM_FOURCCS = {"R8G8B8A8_UNORM": GBM_FORMAT_ABGR8888, "B8G8R8A8_UNORM": GBM_FORMAT_ARGB8888}


class ImageBuffer(Protocol):
    """A buffer an exporter made for an image: its dma-buf, where the first pixel is, its pitch."""

    @property
    def dmabuf(self) -> DmaBuf: ...

    @property
    def offset(self) -> int: ...

    @property
    def pitch(self) -> int: ...

    @property
    def origin(self) -> str:
        """What made it, where: e.g. `vgem dumb buffer on /dev/dri/card0`."""
        ...

    def mapped(self, access: int) -> AbstractContextManager[Bytes]:
        """The rows (pitch x height bytes from the first pixel) through the exporter's own CPU map."""
        ...

    def close(self) -> None: ...


class ImageSource(Protocol):
    @property
    def name(self) -> str:
        """The exporter's part of case ids: vgem-dumb, virtio-gpu-dumb, gbm."""
        ...

    def available(self) -> str | None: ...

    def format_unsupported(self, fmt: Format) -> str | None: ...

    def allocate(self, fmt: Format, width: int, height: int) -> ImageBuffer: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DumbSource:
    """Dumb buffers: the kernel knows only bits per pixel, so any single-plane format of that size fits."""

    name: str
    exporter: DumbExporter

    def available(self) -> str | None:
        return self.exporter.available()

    def format_unsupported(self, fmt: Format) -> str | None:
        if fmt.multi_planar:
            return f"a dumb buffer has one plane; {fmt.name} has {len(fmt.planes)}"
        return None

    def allocate(self, fmt: Format, width: int, height: int) -> ImageBuffer:
        return self.exporter.allocate_image(width, height, 8 * fmt.planes[0].texel_bytes)

    def close(self) -> None:
        self.exporter.close()


class GbmSource:
    name = "gbm"

    def __init__(self) -> None:
        self.gbm = GbmExporter()

    def available(self) -> str | None:
        return self.gbm.available()

    def format_unsupported(self, fmt: Format) -> str | None:
        fourcc = DRM_FOURCCS.get(fmt.name)
        if fourcc is None:
            return f"vkzc knows no DRM fourcc for {fmt.name}"
        return self.gbm.format_unsupported(fourcc)

    def allocate(self, fmt: Format, width: int, height: int) -> ImageBuffer:
        return self.gbm.allocate_image(width, height, DRM_FOURCCS[fmt.name])

    def close(self) -> None:
        self.gbm.close()


def sources() -> dict[str, ImageSource]:
    """Fresh image sources by name, always in the same order. Close them all when done."""
    made: tuple[ImageSource, ...] = (
        DumbSource(name="vgem-dumb", exporter=VGEM),
        DumbSource(name="virtio-gpu-dumb", exporter=VIRTIO_GPU),
        GbmSource(),
    )
    return {s.name: s for s in made}


def size_id(width: int, height: int) -> str:
    return f"{width}x{height}"


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def cpu_frame(fmt: Format, width: int, height: int, pitch: int) -> LinearFrame:
    """The image's rows as the exporter's CPU map shows them: from the first pixel, at its pitch."""
    return LinearFrame(
        format=fmt,
        width=width,
        height=height,
        layouts=(PlaneLayout(offset=0, size=pitch * height, row_pitch=pitch),),
        objects=(0,),
        object_sizes=(pitch * height,),
    )


def vulkan_layout(buffer: ImageBuffer, height: int) -> PlaneLayout:
    """The explicit LINEAR layout an importer gives Vulkan: the exporter's offset and pitch."""
    return PlaneLayout(offset=buffer.offset, size=buffer.pitch * height, row_pitch=buffer.pitch)


def cases() -> list[tuple[str, str, str, str]]:
    """(exporter, format, size, direction) of every foreign-image case, in a fixed order."""
    return [
        (source, fmt, size_id(*size), direction)
        for source in ("vgem-dumb", "virtio-gpu-dumb", "gbm")
        for fmt in FORMATS
        for size in SIZES
        for direction in DIRECTIONS
    ]
