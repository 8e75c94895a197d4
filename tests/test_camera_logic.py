"""Where a camera frame's planes lie and what Vulkan formats they are imported as; the foreign-image cases."""

from __future__ import annotations

import numpy as np

from vkzc.conformance.camera import CAMERA_FORMATS, describe, layer_frames, whole_frame
from vkzc.conformance.foreign_images import DRM_FOURCCS, cases, cpu_frame, parse_size, size_id
from vkzc.conformance.formats import BY_NAME
from vkzc.dmabuf.gbm import fourcc_name
from vkzc.dmabuf.v4l2 import Negotiated, fourcc


def _negotiated(code: str, width: int, height: int, bytesperline: int, sizeimage: int) -> Negotiated:
    return Negotiated(
        pixelformat=fourcc(code), width=width, height=height, bytesperline=bytesperline, sizeimage=sizeimage
    )


def test_nv12_is_y_then_cbcr_at_the_same_pitch() -> None:
    n = _negotiated("NV12", 640, 480, 704, 704 * 720)
    whole = whole_frame(CAMERA_FORMATS["NV12"], n)
    assert whole.format.name == "G8_B8R8_2PLANE_420_UNORM"
    assert [(p.offset, p.row_pitch) for p in whole.layouts] == [(0, 704), (704 * 480, 704)]
    y, cbcr = layer_frames(CAMERA_FORMATS["NV12"], n)
    assert (y.format.name, y.width, y.height, y.layouts[0].offset) == ("R8_UNORM", 640, 480, 0)
    assert (cbcr.format.name, cbcr.width, cbcr.height) == ("R8G8_UNORM", 320, 240)
    assert (cbcr.layouts[0].offset, cbcr.layouts[0].row_pitch) == (704 * 480, 704)


def test_yuyv_is_one_422_image_or_rgba_texels_of_half_the_width() -> None:
    n = _negotiated("YUYV", 1280, 720, 2560, 2560 * 720)
    whole = whole_frame(CAMERA_FORMATS["YUYV"], n)
    assert (whole.format.name, whole.width, whole.format.planes[0].row_bytes(1280)) == (
        "G8B8G8R8_422_UNORM",
        1280,
        2560,
    )
    (layer,) = layer_frames(CAMERA_FORMATS["YUYV"], n)
    assert (layer.format.name, layer.width, layer.height, layer.layouts[0].row_pitch) == (
        "R8G8B8A8_UNORM",
        640,
        720,
        2560,
    )
    assert describe((layer,)) == "R8G8B8A8_UNORM 640x720 (offset 0 pitch 2560)"


def test_packed_rgb_is_its_own_layer() -> None:
    for name, vk_format in (("ABGR32", "B8G8R8A8_UNORM"), ("RGB565", "R5G6B5_UNORM_PACK16")):
        texel = 4 if name == "ABGR32" else 2
        n = _negotiated(CAMERA_FORMATS[name].code, 640, 480, 640 * texel, 640 * texel * 480)
        whole = whole_frame(CAMERA_FORMATS[name], n)
        assert whole.format.name == vk_format
        assert layer_frames(CAMERA_FORMATS[name], n) == (whole,)


def test_a_frame_reads_back_its_rows_from_the_buffer() -> None:
    n = _negotiated("NV12", 4, 2, 8, 8 * 3)
    raw = np.arange(24, dtype=np.uint8)
    y, cbcr = layer_frames(CAMERA_FORMATS["NV12"], n)
    assert y.read(0, raw)[0].tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert cbcr.read(0, raw)[0].tolist() == [16, 17, 18, 19]


def test_drm_fourccs_put_the_bytes_where_the_vulkan_format_has_them() -> None:
    # DRM fourccs are little-endian words: ARGB8888 is B, G, R, A in memory, ABGR8888 R, G, B, A.
    assert fourcc_name(DRM_FOURCCS["B8G8R8A8_UNORM"]) == "AR24"
    assert fourcc_name(DRM_FOURCCS["R8G8B8A8_UNORM"]) == "AB24"


def test_foreign_image_cases_and_frame() -> None:
    rows = cases()
    assert ("vgem-dumb", "B8G8R8A8_UNORM", "1366x768", "gpu-writes") in rows
    assert len(rows) == len(set(rows)) == 3 * 2 * 2 * 2
    assert parse_size(size_id(1366, 768)) == (1366, 768)
    frame = cpu_frame(BY_NAME["R8G8B8A8_UNORM"], 3, 2, 16)
    raw = np.zeros(32, dtype=np.uint8)
    frame.write(0, raw, (np.arange(1, 25, dtype=np.uint8),))
    assert raw[12:16].tolist() == [0xA5] * 4  # the padding after a 12-byte row holds the guard
    assert frame.read(0, raw)[0].tolist() == list(range(1, 25))
