"""vkzc/display/kms.py's ioctl numbers, constants, struct sizes and field offsets, checked against libdrm's
drm.h and drm_mode.h by a compiled C program (test_dmabuf_uapi.py's machinery); GBM's scanout flags
against gbm.h."""

from __future__ import annotations

from pathlib import Path

from test_dmabuf_uapi import Group, _compiled_values, _expected

from vkzc.display import buffers, kms

KMS = Group(
    headers=("drm.h", "drm_mode.h", "drm_fourcc.h", "xf86drmMode.h"),
    package="libdrm-dev",
    values={
        "DRM_IOCTL_SET_MASTER": kms.DRM_IOCTL_SET_MASTER,
        "DRM_IOCTL_DROP_MASTER": kms.DRM_IOCTL_DROP_MASTER,
        "DRM_IOCTL_GET_CAP": kms.DRM_IOCTL_GET_CAP,
        "DRM_IOCTL_PRIME_FD_TO_HANDLE": kms.DRM_IOCTL_PRIME_FD_TO_HANDLE,
        "DRM_IOCTL_MODE_GETRESOURCES": kms.DRM_IOCTL_MODE_GETRESOURCES,
        "DRM_IOCTL_MODE_GETCRTC": kms.DRM_IOCTL_MODE_GETCRTC,
        "DRM_IOCTL_MODE_SETCRTC": kms.DRM_IOCTL_MODE_SETCRTC,
        "DRM_IOCTL_MODE_GETENCODER": kms.DRM_IOCTL_MODE_GETENCODER,
        "DRM_IOCTL_MODE_GETCONNECTOR": kms.DRM_IOCTL_MODE_GETCONNECTOR,
        "DRM_IOCTL_MODE_RMFB": kms.DRM_IOCTL_MODE_RMFB,
        "DRM_IOCTL_MODE_DIRTYFB": kms.DRM_IOCTL_MODE_DIRTYFB,
        "DRM_IOCTL_MODE_DESTROY_DUMB": kms.DRM_IOCTL_MODE_DESTROY_DUMB,
        "DRM_IOCTL_MODE_ADDFB2": kms.DRM_IOCTL_MODE_ADDFB2,
        "DRM_MODE_CONNECTED": kms.DRM_MODE_CONNECTED,
        "DRM_MODE_TYPE_PREFERRED": kms.DRM_MODE_TYPE_PREFERRED,
        "DRM_MODE_FB_MODIFIERS": kms.DRM_MODE_FB_MODIFIERS,
        "DRM_CAP_DUMB_BUFFER": kms.DRM_CAP_DUMB_BUFFER,
        "DRM_CAP_ADDFB2_MODIFIERS": kms.DRM_CAP_ADDFB2_MODIFIERS,
        "DRM_DISPLAY_MODE_LEN": kms.DRM_DISPLAY_MODE_LEN,
        "DRM_FORMAT_XRGB8888": kms.DRM_FORMAT_XRGB8888,
        "DRM_FORMAT_ARGB8888": kms.DRM_FORMAT_ARGB8888,
        "DRM_FORMAT_MOD_LINEAR": kms.DRM_FORMAT_MOD_LINEAR,
        "DRM_MODE_CONNECTOR_VIRTUAL": 15,
        "DRM_MODE_CONNECTOR_HDMIA": 11,
        "DRM_MODE_CONNECTOR_DisplayPort": 10,
        "DRM_MODE_CONNECTOR_DSI": 16,
        "sizeof(unsigned int)": 4,  # RMFB's argument (kms.DrmFbId)
    },
    structs={
        "drm_mode_card_res": kms.DrmModeCardRes,
        "drm_mode_modeinfo": kms.DrmModeModeinfo,
        "drm_mode_crtc": kms.DrmModeCrtc,
        "drm_mode_get_encoder": kms.DrmModeGetEncoder,
        "drm_mode_get_connector": kms.DrmModeGetConnector,
        "drm_mode_fb_cmd2": kms.DrmModeFbCmd2,
        "drm_mode_fb_dirty_cmd": kms.DrmModeFbDirtyCmd,
        "drm_clip_rect": kms.DrmClipRect,
        "drm_get_cap": kms.DrmGetCap,
        "drm_mode_destroy_dumb": kms.DrmModeDestroyDumb,
    },
)
GBM = Group(
    headers=("gbm.h",),
    package="libgbm-dev",
    values={
        "GBM_BO_USE_SCANOUT": buffers.GBM_BO_USE_SCANOUT,
        "GBM_BO_USE_LINEAR": buffers.GBM_BO_USE_LINEAR,
        "GBM_FORMAT_XRGB8888": kms.DRM_FORMAT_XRGB8888,
    },
    structs={},
)


def test_kms_abi_matches_libdrms_headers(tmp_path: Path) -> None:
    assert _compiled_values(KMS, tmp_path) == _expected(KMS)


def test_gbm_scanout_flags_match_gbm_h(tmp_path: Path) -> None:
    assert _compiled_values(GBM, tmp_path) == _expected(GBM)


def test_the_connector_names_are_the_kernels() -> None:
    assert kms.CONNECTOR_TYPES[15] == "Virtual" and kms.CONNECTOR_TYPES[11] == "HDMI-A"
    assert kms.fourcc("XR24") == 0x34325258
