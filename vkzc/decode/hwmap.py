"""DRM PRIME views of decoded hardware frames: FFmpeg's av_hwframe_map, called through ctypes on the
libavutil that PyAV itself loaded, since PyAV has no binding for it.

Why av_hwframe_map rather than vaExportSurfaceHandle by hand: FFmpeg's VAAPI map (hwcontext_vaapi.c)
waits for the decode (vaSyncSurface), exports the surface with separate layers (R8 + GR88 for NV12,
the two-layer form vulkan_import handles), owns the exported fds and closes them when the mapped frame
is freed, and keeps a reference on the decoded surface while the mapping lives, so the decoder cannot
recycle it under Vulkan's read. Calling libva ourselves would need the VADisplay out of the device
context (more private struct offsets) and those lifetimes managed by hand. The same call serves any
hardware frame type whose FFmpeg hwcontext maps to DRM PRIME (VAAPI, Vulkan); a frame that already is
DRM PRIME (the V4L2 decoders) is read as it is.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from vkzc.decode import drm_descriptor
from vkzc.decode.drm_descriptor import DrmFrame

AV_HWFRAME_MAP_READ = 1
_P = ctypes.sizeof(ctypes.c_void_p)
# PyAV's Frame (av/frame.pxd) is a Cython extension type: PyObject_HEAD (refcount, type), its vtable
# pointer, then `AVFrame *ptr`. Nothing public hands out that pointer, so it is read from there and
# checked against the frame's own width, height and format before any use.
_FRAME_PTR_OFFSET = 3 * _P


class HwMapError(RuntimeError):
    """A frame that could not be seen as DRM PRIME, with FFmpeg's own reason."""


class _AVFrameHead(ctypes.Structure):
    """The first fields of AVFrame (libavutil/frame.h), in this order since FFmpeg 4."""

    _fields_ = (
        ("data", ctypes.c_void_p * 8),
        ("linesize", ctypes.c_int * 8),
        ("extended_data", ctypes.c_void_p),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("nb_samples", ctypes.c_int),
        ("format", ctypes.c_int),
    )


def _loaded_libavutil() -> str:
    """The path of the libavutil mapped into this process by PyAV (a wheel bundles its own)."""
    import av  # noqa: F401  (loads its libavutil)

    with open("/proc/self/maps") as maps:
        paths = {
            fields[5].strip()
            for fields in (line.split(maxsplit=5) for line in maps)
            if len(fields) == 6 and "libavutil" in os.path.basename(fields[5])
        }
    if len(paths) != 1:
        raise HwMapError(f"expected PyAV's one libavutil in this process, found {sorted(paths) or 'none'}")
    return paths.pop()


@cache
def _libavutil() -> ctypes.CDLL:
    lib = ctypes.CDLL(_loaded_libavutil())
    lib.av_frame_alloc.restype = ctypes.c_void_p
    lib.av_frame_alloc.argtypes = ()
    lib.av_frame_free.restype = None
    lib.av_frame_free.argtypes = (ctypes.POINTER(ctypes.c_void_p),)
    lib.av_hwframe_map.restype = ctypes.c_int
    lib.av_hwframe_map.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
    lib.av_get_pix_fmt.restype = ctypes.c_int
    lib.av_get_pix_fmt.argtypes = (ctypes.c_char_p,)
    lib.av_strerror.restype = ctypes.c_int
    lib.av_strerror.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
    return lib


def pix_fmt(name: str) -> int:
    """FFmpeg's AVPixelFormat number for `name` (the numbers move between FFmpeg versions)."""
    value: int = _libavutil().av_get_pix_fmt(name.encode())
    if value < 0:
        raise HwMapError(f"this FFmpeg has no pixel format {name!r}")
    return value


def _strerror(code: int) -> str:
    text = ctypes.create_string_buffer(128)
    _libavutil().av_strerror(code, text, len(text))
    name = errno.errorcode.get(-code, "")
    return f"{text.value.decode(errors='replace')}{f' ({name})' if name else ''}"


def frame_pointer(frame: Any) -> int:
    """The AVFrame* behind a PyAV VideoFrame, once its width, height and format agree with the frame's."""
    address = ctypes.c_void_p.from_address(id(frame) + _FRAME_PTR_OFFSET).value
    if address:
        head = _AVFrameHead.from_address(address)
        if (head.width, head.height, head.format) == (frame.width, frame.height, pix_fmt(frame.format.name)):
            return address
    raise HwMapError(
        f"PyAV {_av_version()}'s Frame does not hold its AVFrame* where vkzc reads it "
        "(vkzc/decode/hwmap.py): report this PyAV version"
    )


def _av_version() -> str:
    import av

    return str(av.__version__)


@contextmanager
def drm_prime(frame: Any) -> Iterator[DrmFrame]:
    """The frame as a DRM PRIME descriptor, valid (fds open, the surface held) inside the block."""
    if frame.format.name == "drm_prime":
        yield drm_descriptor.read(frame.planes[0].buffer_ptr, frame.width, frame.height)
        return
    lib = _libavutil()
    source = frame_pointer(frame)
    mapped = ctypes.c_void_p(lib.av_frame_alloc())
    if not mapped.value:
        raise MemoryError("av_frame_alloc failed")
    try:
        head = _AVFrameHead.from_address(mapped.value)
        head.format = pix_fmt("drm_prime")
        code = lib.av_hwframe_map(mapped, source, AV_HWFRAME_MAP_READ)
        if code < 0:
            raise HwMapError(f"av_hwframe_map({frame.format.name} → drm_prime) failed: {_strerror(code)}")
        yield drm_descriptor.read(head.data[0] or 0, frame.width, frame.height)
    finally:
        lib.av_frame_free(ctypes.byref(mapped))
