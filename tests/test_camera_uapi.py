"""The ABI of V4L2 streaming capture, dumb-buffer mapping, vgem fences and gbm_bo_map that vkzc/dmabuf spells
out in Python, checked against the installed headers as tests/test_dmabuf_uapi.py checks the exporters'."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
from test_dmabuf_uapi import Group, _compiled_values, _expected

from vkzc.dmabuf import drm, gbm, v4l2

GROUPS = {
    "v4l2-streaming": Group(
        headers=("linux/videodev2.h",),
        package="linux-libc-dev",
        values={
            "VIDIOC_ENUM_FMT": v4l2.VIDIOC_ENUM_FMT,
            "VIDIOC_S_FMT": v4l2.VIDIOC_S_FMT,
            "VIDIOC_QUERYBUF": v4l2.VIDIOC_QUERYBUF,
            "VIDIOC_QBUF": v4l2.VIDIOC_QBUF,
            "VIDIOC_DQBUF": v4l2.VIDIOC_DQBUF,
            "VIDIOC_STREAMON": v4l2.VIDIOC_STREAMON,
            "VIDIOC_STREAMOFF": v4l2.VIDIOC_STREAMOFF,
            "VIDIOC_S_CTRL": v4l2.VIDIOC_S_CTRL,
            "VIDIOC_QUERYCTRL": v4l2.VIDIOC_QUERYCTRL,
            "V4L2_CAP_VIDEO_CAPTURE_MPLANE": v4l2.V4L2_CAP_VIDEO_CAPTURE_MPLANE,
            "V4L2_FIELD_NONE": v4l2.V4L2_FIELD_NONE,
            "V4L2_CTRL_TYPE_MENU": v4l2.V4L2_CTRL_TYPE_MENU,
            "V4L2_CTRL_FLAG_NEXT_CTRL": v4l2.V4L2_CTRL_FLAG_NEXT_CTRL,
            "V4L2_PIX_FMT_NV12": v4l2.fourcc("NV12"),
            "V4L2_PIX_FMT_YUYV": v4l2.fourcc("YUYV"),
            "V4L2_PIX_FMT_ABGR32": v4l2.fourcc("AR24"),
            "V4L2_PIX_FMT_RGB565": v4l2.fourcc("RGBP"),
            "offsetof(struct v4l2_buffer, m.offset)": v4l2.V4l2Buffer.m.offset,
        },
        structs={
            "v4l2_fmtdesc": v4l2.V4l2FmtDesc,
            "v4l2_buffer": v4l2.V4l2Buffer,
            "v4l2_timecode": v4l2.V4l2Timecode,
            "v4l2_queryctrl": v4l2.V4l2QueryCtrl,
            "v4l2_control": v4l2.V4l2Control,
        },
    ),
    "drm-dumb-map": Group(
        headers=("drm.h", "drm_mode.h"),
        package="libdrm-dev",
        values={
            "DRM_COMMAND_BASE": drm.DRM_COMMAND_BASE,
            "DRM_IOCTL_MODE_MAP_DUMB": drm.DRM_IOCTL_MODE_MAP_DUMB,
            "DRM_IOCTL_MODE_DESTROY_DUMB": drm.DRM_IOCTL_MODE_DESTROY_DUMB,
        },
        structs={"drm_mode_map_dumb": drm.DrmModeMapDumb, "drm_mode_destroy_dumb": drm.DrmModeDestroyDumb},
    ),
    # The kernel's include/uapi/drm/vgem_drm.h; Debian's libdrm-dev does not ship it, so this group runs
    # where a kernel header tree is installed.
    "vgem": Group(
        headers=("drm.h", "vgem_drm.h"),
        package="a kernel's uapi headers with drm/vgem_drm.h",
        values={
            "DRM_IOCTL_VGEM_FENCE_ATTACH": drm.DRM_IOCTL_VGEM_FENCE_ATTACH,
            "DRM_IOCTL_VGEM_FENCE_SIGNAL": drm.DRM_IOCTL_VGEM_FENCE_SIGNAL,
            "VGEM_FENCE_WRITE": drm.VGEM_FENCE_WRITE,
        },
        structs={
            "drm_vgem_fence_attach": drm.DrmVgemFenceAttach,
            "drm_vgem_fence_signal": drm.DrmVgemFenceSignal,
        },
    ),
    "gbm-map": Group(
        headers=("gbm.h",),
        package="libgbm-dev",
        values={
            "GBM_FORMAT_ABGR8888": gbm.GBM_FORMAT_ABGR8888,
            "GBM_BO_TRANSFER_READ": gbm.GBM_BO_TRANSFER_READ,
            "GBM_BO_TRANSFER_WRITE": gbm.GBM_BO_TRANSFER_WRITE,
        },
        structs={},
    ),
}


@pytest.mark.parametrize("name", GROUPS)
def test_abi_matches_the_headers(name: str, tmp_path: Path) -> None:
    group = GROUPS[name]
    assert _compiled_values(group, tmp_path) == _expected(group)


def test_numbers_where_no_header_is_installed() -> None:
    """vgem_drm.h is rarely installed: its requests, worked out by hand from _IOWR/_IOW ('d', 0x40 + nr)."""
    assert drm.DRM_IOCTL_VGEM_FENCE_ATTACH == 0xC0106441
    assert drm.DRM_IOCTL_VGEM_FENCE_SIGNAL == 0x40086442
    assert drm.DRM_IOCTL_MODE_MAP_DUMB == 0xC01064B3
    assert ctypes.sizeof(v4l2.V4l2Buffer) == 88  # LP64: x86-64 and arm64 alike
    assert v4l2.VIDIOC_DQBUF == 0xC0585611


def test_fourcc_spelling() -> None:
    assert v4l2.fourcc("NV12") == 0x3231564E
    assert v4l2.fourcc_text(v4l2.fourcc("AR24")) == "AR24"
    assert gbm.fourcc_name(gbm.GBM_FORMAT_ARGB8888) == "AR24"
