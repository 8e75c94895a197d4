"""Camera frames as Vulkan images: what a V4L2 capture format is in Vulkan, and where its planes lie in the
capture buffer.

A single-planar V4L2 format keeps every plane in one buffer: NV12's CbCr rows follow its Y rows at
the same bytesperline. A frame is imported whole (one VkImage: multi-planar for NV12,
G8B8G8R8_422_UNORM for YUYV) where the driver supports that with DRM_FORMAT_MOD_LINEAR, else as
one single-plane image per plane over the same dma-buf, FFmpeg's form: NV12 as R8 + R8G8, YUYV as
R8G8B8A8 texels of half the width (Y0 Cb Y1 Cr). Packed RGB is its own single-plane format.
"""

from __future__ import annotations

from dataclasses import dataclass

from vkzc.conformance.formats import LAYERS, Format, Plane
from vkzc.conformance.linear_planes import LinearFrame
from vkzc.conformance.modifier_images import PlaneLayout
from vkzc.dmabuf.v4l2 import CaptureNode, Negotiated, capture_node, fourcc, video_nodes

_R5G6B5 = Format(
    name="R5G6B5_UNORM_PACK16", planes=(Plane(texel_bytes=2, subsampling=1, layer="R5G6B5_UNORM_PACK16"),)
)
# Each plane's single-plane Vulkan format, by name (Plane.layer).
_LAYERS = {**LAYERS, _R5G6B5.name: _R5G6B5}


@dataclass(frozen=True, kw_only=True)
class CameraFormat:
    name: str  # V4L2_PIX_FMT_<name>, as case ids spell it
    code: str  # its four characters
    image: Format  # the VkFormat a whole frame is imported as

    @property
    def fourcc(self) -> int:
        return fourcc(self.code)


CAMERA_FORMATS = {
    f.name: f
    for f in (
        CameraFormat(name="NV12", code="NV12", image=LAYERS["G8_B8R8_2PLANE_420_UNORM"]),
        # Y0 Cb Y1 Cr: G8B8G8R8_422_UNORM byte for byte; as a layer, one R8G8B8A8 texel per two pixels.
        CameraFormat(
            name="YUYV",
            code="YUYV",
            image=Format(
                name="G8B8G8R8_422_UNORM",
                planes=(Plane(texel_bytes=2, subsampling=1, layer="R8G8B8A8_UNORM"),),
            ),
        ),
        # V4L2's ABGR32 ("AR24", DRM's ARGB8888) is B, G, R, A in memory.
        CameraFormat(name="ABGR32", code="AR24", image=LAYERS["B8G8R8A8_UNORM"]),
        # RGBP: a little-endian word, red in the top 5 bits, as R5G6B5_UNORM_PACK16.
        CameraFormat(name="RGB565", code="RGBP", image=_R5G6B5),
    )
}
SIZES = ((640, 480), (1280, 720))


def _plane_layouts(fmt: Format, negotiated: Negotiated) -> list[PlaneLayout]:
    """Where each plane of a single-planar V4L2 frame lies: one after the other, each at bytesperline
    scaled by its row's size against the first plane's (V4L2's rule for single-buffer formats)."""
    width, height = negotiated.width, negotiated.height
    first_row = fmt.planes[0].row_bytes(width)
    layouts = []
    offset = 0
    for plane in fmt.planes:
        pitch = negotiated.bytesperline * plane.row_bytes(width) // first_row
        rows = plane.extent(width, height)[1]
        layouts.append(PlaneLayout(offset=offset, size=pitch * rows, row_pitch=pitch))
        offset += pitch * rows
    return layouts


def whole_frame(camera: CameraFormat, negotiated: Negotiated) -> LinearFrame:
    """The frame as one VkImage of camera.image, every plane in the one buffer."""
    fmt = camera.image
    return LinearFrame(
        format=fmt,
        width=negotiated.width,
        height=negotiated.height,
        layouts=tuple(_plane_layouts(fmt, negotiated)),
        objects=(0,) * len(fmt.planes),
        object_sizes=(negotiated.sizeimage,),
    )


def layer_frames(camera: CameraFormat, negotiated: Negotiated) -> tuple[LinearFrame, ...]:
    """The frame as one single-plane VkImage per plane (Plane.layer), each as wide as its row holds texels."""
    fmt = camera.image
    frames = []
    for plane, layout in zip(fmt.planes, _plane_layouts(fmt, negotiated), strict=True):
        layer = _LAYERS[plane.layer]
        width = plane.row_bytes(negotiated.width) // layer.planes[0].texel_bytes
        height = plane.extent(negotiated.width, negotiated.height)[1]
        frames.append(
            LinearFrame(
                format=layer,
                width=width,
                height=height,
                layouts=(layout,),
                objects=(0,),
                object_sizes=(negotiated.sizeimage,),
            )
        )
    return tuple(frames)


def describe(frames: tuple[LinearFrame, ...]) -> str:
    """e.g. `R8_UNORM 640x480 (offset 0 pitch 640) + R8G8_UNORM 320x240 (offset 307200 pitch 640)`."""
    parts = []
    for frame in frames:
        planes = ", ".join(f"offset {p.offset} pitch {p.row_pitch}" for p in frame.layouts)
        parts.append(f"{frame.format.name} {frame.width}x{frame.height} ({planes})")
    return " + ".join(parts)


NO_CAMERA = "no V4L2 capture device (load vivid or declare /dev/videoN)"


def cameras() -> dict[str, CaptureNode]:
    """Capture nodes by case-id name: the driver's name (vivid, rkisp1, unicam, uvcvideo), with the node's
    number after it where one driver has several."""
    found = [node for path in video_nodes() if (node := capture_node(path)) is not None]
    named = {}
    for node in found:
        name = node.driver
        if any(other.driver == name for other in found if other is not node):
            name = f"{name}-{node.node.name}"
        named[name] = node
    return named
