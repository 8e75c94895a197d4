"""Buffers a KMS card can scan out, as dma-bufs for Vulkan and GEM handles for the card: a dumb buffer
of the card itself, or a GBM buffer object allocated with GBM_BO_USE_SCANOUT | GBM_BO_USE_LINEAR.

The GBM device gets its own fd of the card, and the card imports the buffer object's dma-buf
(PRIME), as a display imports a buffer someone else allocated.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vkzc.display.kms import DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_XRGB8888, Card
from vkzc.dmabuf.buffer import DmaBuf
from vkzc.dmabuf.gbm import LIBRARY as GBM_LIBRARY
from vkzc.probe.modifiers import INVALID

BPP = 32
GBM_BO_USE_SCANOUT = 1 << 0
GBM_BO_USE_LINEAR = 1 << 4


@dataclass(frozen=True, kw_only=True)
class ScanoutBuffer:
    kind: str
    width: int
    height: int
    pitch: int
    offset: int
    # The buffer's layout as its allocator states it: dumb buffers are linear by definition; GBM may
    # answer DRM_FORMAT_MOD_INVALID (no modifier known), then None.
    modifier: int | None
    handle: int  # a GEM handle on the card
    dmabuf: DmaBuf
    allocator: str  # who made it, for the record: "virtio_gpu dumb buffer", "GBM (kms_swrast)"

    def describe(self) -> str:
        modifier = "no modifier" if self.modifier is None else f"modifier 0x{self.modifier:x}"
        return (
            f"{self.allocator}, {self.width}x{self.height}, pitch {self.pitch}, offset {self.offset}, "
            f"{modifier}, dma-buf of {self.dmabuf.size} bytes"
        )


@contextmanager
def dumb_buffer(card: Card, width: int, height: int) -> Iterator[ScanoutBuffer]:
    handle, pitch, _ = card.create_dumb(width, height, BPP)
    try:
        dmabuf = DmaBuf(card.export_dmabuf(handle), exporter=f"{card.driver} dumb")
        with dmabuf:
            yield ScanoutBuffer(
                kind="dumb",
                width=width,
                height=height,
                pitch=pitch,
                offset=0,
                modifier=DRM_FORMAT_MOD_LINEAR,
                handle=handle,
                dmabuf=dmabuf,
                allocator=f"{card.driver} dumb buffer",
            )
    finally:
        card.release_handle(handle)


def _gbm() -> ctypes.CDLL:
    lib = ctypes.CDLL(GBM_LIBRARY, use_errno=True)
    pointer, u32 = ctypes.c_void_p, ctypes.c_uint32
    for name, restype, argtypes in (
        ("gbm_create_device", pointer, (ctypes.c_int,)),
        ("gbm_device_destroy", None, (pointer,)),
        ("gbm_device_get_backend_name", ctypes.c_char_p, (pointer,)),
        ("gbm_bo_create", pointer, (pointer, u32, u32, u32, u32)),
        ("gbm_bo_get_stride", u32, (pointer,)),
        ("gbm_bo_get_offset", u32, (pointer, ctypes.c_int)),
        ("gbm_bo_get_modifier", ctypes.c_uint64, (pointer,)),
        ("gbm_bo_get_fd", ctypes.c_int, (pointer,)),
        ("gbm_bo_destroy", None, (pointer,)),
    ):
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def gbm_unavailable() -> str | None:
    try:
        _gbm()
    except OSError as e:
        return f"{GBM_LIBRARY} cannot be loaded ({e}): the image needs libgbm1"
    except AttributeError as e:
        return f"{GBM_LIBRARY} lacks a function GBM scanout needs ({e}): libgbm1 is too old"
    return None


@contextmanager
def gbm_buffer(card: Card, width: int, height: int) -> Iterator[ScanoutBuffer]:
    """A LINEAR scanout buffer object of GBM on a second fd of `card`; OSError names what failed."""
    lib = _gbm()
    fd = os.open(card.node, os.O_RDWR | os.O_CLOEXEC)
    try:
        device = lib.gbm_create_device(fd)
        if not device:
            raise OSError(ctypes.get_errno(), f"gbm_create_device({card.node}) failed")
        try:
            backend = (lib.gbm_device_get_backend_name(device) or b"?").decode()
            usage = GBM_BO_USE_SCANOUT | GBM_BO_USE_LINEAR
            bo = lib.gbm_bo_create(device, width, height, DRM_FORMAT_XRGB8888, usage)
            if not bo:
                raise OSError(
                    ctypes.get_errno(),
                    f"gbm_bo_create({width}x{height} XRGB8888, SCANOUT|LINEAR) failed on {backend}",
                )
            try:
                exported = lib.gbm_bo_get_fd(bo)
                if exported < 0:
                    raise OSError(ctypes.get_errno(), "gbm_bo_get_fd failed")
                modifier = int(lib.gbm_bo_get_modifier(bo))
                with DmaBuf(exported, exporter="gbm") as dmabuf:
                    handle = card.import_dmabuf(dmabuf.fd)
                    try:
                        yield ScanoutBuffer(
                            kind="gbm",
                            width=width,
                            height=height,
                            pitch=int(lib.gbm_bo_get_stride(bo)),
                            offset=int(lib.gbm_bo_get_offset(bo, 0)),
                            modifier=None if modifier == INVALID else modifier,
                            handle=handle,
                            dmabuf=dmabuf,
                            allocator=f"GBM ({backend}) buffer object",
                        )
                    finally:
                        card.release_handle(handle)
            finally:
                lib.gbm_bo_destroy(bo)
        finally:
            lib.gbm_device_destroy(device)
    finally:
        os.close(fd)


ALLOCATORS = {"dumb": dumb_buffer, "gbm": gbm_buffer}
