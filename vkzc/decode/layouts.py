"""How hardware decoders lay out their LINEAR NV12 / P010 surfaces, as named layouts the software source
writes its frames in: row pitch alignment, the rows allocated (the coded height, a multiple of the
macroblock or superblock height), where the CbCr plane starts, and whether Y and CbCr share a dma-buf.

Only placement is mimicked, never tiling: every layout here is DRM_FORMAT_MOD_LINEAR (docs/decode.md says
which decoder each is modelled on and what that decoder does beyond it).
"""

from __future__ import annotations

from dataclasses import dataclass

from vkzc.decode.drm_descriptor import NV12, P010, DrmFrame, DrmLayer, DrmObject, DrmPlane
from vkzc.probe.modifiers import LINEAR

PAGE = 4096


def round_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


@dataclass(frozen=True, kw_only=True)
class SurfaceLayout:
    name: str  # the layout's part of case ids
    mimics: str
    pitch_alignment: int
    height_alignment: int  # rows allocated per surface: the coded height rounded up to this
    uv_page_aligned: bool  # CbCr at the next page rather than right after the Y rows
    two_objects: bool  # Y and CbCr in separate dma-bufs, each at offset 0


@dataclass(frozen=True, kw_only=True)
class PlanePlacement:
    object_index: int
    offset: int
    pitch: int
    row_bytes: int
    rows: int


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one frame's Y (plane 0) and CbCr (plane 1) rows go, and how big each dma-buf is."""

    layout: SurfaceLayout
    depth: int
    width: int
    height: int
    planes: tuple[PlanePlacement, PlanePlacement]
    object_sizes: tuple[int, ...]

    def descriptor(self, fds: tuple[int, ...]) -> DrmFrame:
        """The AVDRMFrameDescriptor a decoder would hand out for this surface: one NV12 / P010 layer."""
        objects = tuple(
            DrmObject(fd=fd, size=size, modifier=LINEAR)
            for fd, size in zip(fds, self.object_sizes, strict=True)
        )
        planes = tuple(
            DrmPlane(object_index=p.object_index, offset=p.offset, pitch=p.pitch) for p in self.planes
        )
        layer = DrmLayer(format=NV12 if self.depth == 8 else P010, planes=planes)
        return DrmFrame(objects=objects, layers=(layer,), width=self.width, height=self.height)


def place(layout: SurfaceLayout, depth: int, width: int, height: int) -> Placement:
    sample = 1 if depth == 8 else 2
    row_bytes = width * sample
    pitch = round_up(row_bytes, layout.pitch_alignment)
    coded = round_up(height, layout.height_alignment)
    y_size = pitch * coded
    uv_size = pitch * coded // 2
    if layout.two_objects:
        y = PlanePlacement(object_index=0, offset=0, pitch=pitch, row_bytes=row_bytes, rows=height)
        uv = PlanePlacement(object_index=1, offset=0, pitch=pitch, row_bytes=row_bytes, rows=height // 2)
        sizes: tuple[int, ...] = (round_up(y_size, PAGE), round_up(uv_size, PAGE))
    else:
        uv_offset = round_up(y_size, PAGE) if layout.uv_page_aligned else y_size
        y = PlanePlacement(object_index=0, offset=0, pitch=pitch, row_bytes=row_bytes, rows=height)
        uv = PlanePlacement(
            object_index=0, offset=uv_offset, pitch=pitch, row_bytes=row_bytes, rows=height // 2
        )
        sizes = (round_up(uv_offset + uv_size, PAGE),)
    return Placement(
        layout=layout, depth=depth, width=width, height=height, planes=(y, uv), object_sizes=sizes
    )


LAYOUTS = (
    SurfaceLayout(
        name="intel-ihd",
        mimics="Intel iHD (VAAPI) surfaces: pitch a multiple of 128, 32-row aligned height, CbCr after Y",
        pitch_alignment=128,
        height_alignment=32,
        uv_page_aligned=False,
        two_objects=False,
    ),
    SurfaceLayout(
        name="amd-radeonsi",
        mimics="AMD radeonsi (VAAPI/VCN): pitch a multiple of 256, 16-row aligned height, CbCr page-aligned",
        pitch_alignment=256,
        height_alignment=16,
        uv_page_aligned=True,
        two_objects=False,
    ),
    SurfaceLayout(
        name="rockchip-rkvdec",
        mimics="Rockchip rkvdec/hantro (V4L2 request): pitch a multiple of 64, 64-row aligned height",
        pitch_alignment=64,
        height_alignment=64,
        uv_page_aligned=False,
        two_objects=False,
    ),
    SurfaceLayout(
        name="rpi5-two-objects",
        mimics="Raspberry Pi 5 HEVC decoder: Y and CbCr in two dma-bufs, 128-byte columns, 16-row height",
        pitch_alignment=128,
        height_alignment=16,
        uv_page_aligned=False,
        two_objects=True,
    ),
)
BY_NAME = {layout.name: layout for layout in LAYOUTS}
