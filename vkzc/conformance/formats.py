"""The formats of the DRM-modifier cases: how each lays out its planes, and the bytes a pattern fills them.

A format's planes are the *format* planes (Y, CbCr, ...), which copies address with
VK_IMAGE_ASPECT_PLANE_i_BIT; a modifier may add memory planes (compression metadata), which are
a different count (drmFormatModifierPlaneCount) and are bound and exported, never copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vkzc.pattern import pattern
from vkzc.vk.binding import load
from vkzc.vk.formats import enum_constant

vk = load()

Bytes = npt.NDArray[np.uint8]

PLANE_ASPECTS = tuple(
    enum_constant("VkImageAspectFlagBits", f"VK_IMAGE_ASPECT_PLANE_{i}_BIT") for i in range(3)
)
MEMORY_PLANE_ASPECTS = (
    vk.VK_IMAGE_ASPECT_MEMORY_PLANE_0_BIT_EXT,
    vk.VK_IMAGE_ASPECT_MEMORY_PLANE_1_BIT_EXT,
    vk.VK_IMAGE_ASPECT_MEMORY_PLANE_2_BIT_EXT,
    vk.VK_IMAGE_ASPECT_MEMORY_PLANE_3_BIT_EXT,
)


@dataclass(frozen=True, kw_only=True)
class Plane:
    texel_bytes: int
    subsampling: int  # 2 for the chroma planes of 4:2:0 formats, in both directions, else 1
    layer: str  # the single-plane format FFmpeg imports this plane as (its "layer" of a DRM frame)

    def extent(self, width: int, height: int) -> tuple[int, int]:
        return width // self.subsampling, height // self.subsampling

    def row_bytes(self, width: int) -> int:
        return self.extent(width, 1)[0] * self.texel_bytes


@dataclass(frozen=True, kw_only=True)
class Format:
    name: str  # VkFormat without VK_FORMAT_, as case ids spell it
    planes: tuple[Plane, ...]
    # 10-bit formats in 16-bit containers (X6): the low 6 bits are padding, whose value a copy need not
    # keep. The pattern leaves them zero and comparisons ignore them.
    significant_bits: int | None = None

    @property
    def vk_format(self) -> int:
        value: int = getattr(vk, f"VK_FORMAT_{self.name}")
        return value

    @property
    def multi_planar(self) -> bool:
        return len(self.planes) > 1

    def aspect(self, plane: int) -> int:
        """The aspect a copy of format plane `plane` names."""
        return PLANE_ASPECTS[plane] if self.multi_planar else vk.VK_IMAGE_ASPECT_COLOR_BIT

    def plane_bytes(self, width: int, height: int) -> tuple[int, ...]:
        """Tightly packed size of each plane, as a copy to or from a buffer lays it out."""
        return tuple(p.row_bytes(width) * p.extent(width, height)[1] for p in self.planes)

    def pattern(self, seed: int, width: int, height: int) -> tuple[Bytes, ...]:
        """Seeded bytes for each plane, tightly packed; each plane's differs (seed + plane index)."""
        planes = []
        for index, size in enumerate(self.plane_bytes(width, height)):
            data = pattern((seed + index) & 0xFFFFFFFF, -(-size // 4)).view(np.uint8)[:size].copy()
            planes.append(self.significant(data))
        return tuple(planes)

    def significant(self, data: Bytes) -> Bytes:
        """`data` with the padding bits cleared: what two copies of one image must agree on."""
        if self.significant_bits is None:
            return data
        mask = np.uint16((0xFFFF << (16 - self.significant_bits)) & 0xFFFF)
        return (data.view(np.uint16) & mask).view(np.uint8)


_R8 = Plane(texel_bytes=1, subsampling=1, layer="R8_UNORM")

FORMATS = (
    Format(name="R8_UNORM", planes=(_R8,)),
    Format(name="R8G8_UNORM", planes=(Plane(texel_bytes=2, subsampling=1, layer="R8G8_UNORM"),)),
    Format(name="R8G8B8A8_UNORM", planes=(Plane(texel_bytes=4, subsampling=1, layer="R8G8B8A8_UNORM"),)),
    Format(name="R8G8B8A8_SRGB", planes=(Plane(texel_bytes=4, subsampling=1, layer="R8G8B8A8_SRGB"),)),
    Format(name="B8G8R8A8_UNORM", planes=(Plane(texel_bytes=4, subsampling=1, layer="B8G8R8A8_UNORM"),)),
    Format(name="B8G8R8A8_SRGB", planes=(Plane(texel_bytes=4, subsampling=1, layer="B8G8R8A8_SRGB"),)),
    Format(
        name="A2B10G10R10_UNORM_PACK32",
        planes=(Plane(texel_bytes=4, subsampling=1, layer="A2B10G10R10_UNORM_PACK32"),),
    ),
    Format(name="R16_UNORM", planes=(Plane(texel_bytes=2, subsampling=1, layer="R16_UNORM"),)),
    # NV12: Y, then interleaved CbCr at half resolution.
    Format(
        name="G8_B8R8_2PLANE_420_UNORM",
        planes=(_R8, Plane(texel_bytes=2, subsampling=2, layer="R8G8_UNORM")),
    ),
    # P010: NV12's layout with 16-bit samples holding 10 bits at the top.
    Format(
        name="G10X6_B10X6R10X6_2PLANE_420_UNORM_3PACK16",
        planes=(
            Plane(texel_bytes=2, subsampling=1, layer="R16_UNORM"),
            Plane(texel_bytes=4, subsampling=2, layer="R16G16_UNORM"),
        ),
        significant_bits=10,
    ),
    # I420 / YUV420P: three planes.
    Format(
        name="G8_B8_R8_3PLANE_420_UNORM",
        planes=(
            _R8,
            Plane(texel_bytes=1, subsampling=2, layer="R8_UNORM"),
            Plane(texel_bytes=1, subsampling=2, layer="R8_UNORM"),
        ),
    ),
)
BY_NAME = {f.name: f for f in FORMATS}
MULTI_PLANAR = tuple(f.name for f in FORMATS if f.multi_planar)
# The single-plane formats FFmpeg imports each plane of a multi-planar frame as (Plane.layer), by name.
LAYERS = {
    **BY_NAME,
    "R16G16_UNORM": Format(
        name="R16G16_UNORM", planes=(Plane(texel_bytes=4, subsampling=1, layer="R16G16_UNORM"),)
    ),
}
